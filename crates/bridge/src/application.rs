//! The running service: storage, sinks, the dispatcher and the HTTP
//! listeners, built from a [`Config`] and stopped gracefully.

use std::fmt;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use wamebo_dispatch::{Dispatcher, DispatcherHandle, ShutdownReport};
use wamebo_receiver::{AdminState, ReceiverSettings, ReceiverState};
use wamebo_store::Store;

use crate::config::Config;
use crate::wiring;

/// The bridge, bound to its ports and delivering, until
/// [`Application::run_until_stopped`] returns.
pub struct Application {
    port: u16,
    admin_port: Option<u16>,
    public: Server,
    admin: Option<Server>,
    dispatcher: DispatcherHandle,
    store: Arc<dyn Store>,
    shutdown_grace: Duration,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("admin_port", &self.admin_port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store (applying migrations), builds every target's sink,
    /// starts the dispatcher's workers and binds the public listener and, if
    /// configured, the admin listener. Port 0 binds a free port, which
    /// [`Application::port`] returns.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }

        let store = wiring::open_store(&config).await?;
        let sinks = wiring::build_sinks(&config).await?;
        let registry = prometheus::Registry::new();
        let dispatcher = Dispatcher::new(
            Arc::clone(&store),
            sinks,
            wiring::classify_policies(&config),
            wiring::dispatch_settings(&config),
            &registry,
        )
        .context("cannot set up the dispatcher; check the [dispatch] table")?;

        let receiver = ReceiverState::new(
            Arc::clone(&store),
            wiring::all_store_settings(&config),
            ReceiverSettings {
                max_body_bytes: config.server.max_body_bytes,
                ..ReceiverSettings::default()
            },
            dispatcher.wake_handle(),
            registry,
        )
        .context("cannot set up the webhook receiver; check the [[stores]] tables")?;

        let listener = bind(config.server.listen, "server.listen")?;
        let port = listener.local_addr()?.port();
        let grace = config.dispatch.shutdown_grace;
        let public = public_server(listener, receiver.clone(), grace)?;
        tracing::info!(address = %listener_address(&config.server.listen, port), "public listener started");

        let (admin, admin_port) = match &config.admin {
            Some(admin) => {
                let listener = bind(admin.listen, "admin.listen")?;
                let admin_port = listener.local_addr()?.port();
                let state = AdminState::new(&receiver, admin.token.clone());
                let server = admin_server(listener, state, grace)?;
                tracing::info!(address = %listener_address(&admin.listen, admin_port), "admin listener started");
                (Some(server), Some(admin_port))
            }
            None => (None, None),
        };

        let dispatcher = dispatcher.spawn();
        Ok(Application {
            port,
            admin_port,
            public,
            admin,
            dispatcher,
            store,
            shutdown_grace: grace,
        })
    }

    /// Returns the public listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the admin listener's port, when one is configured.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
    }

    /// Returns the storage the service records into.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then stops accepting requests,
    /// lets requests in progress finish, and gives in-flight deliveries the
    /// configured grace period to finish and be recorded.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Application {
            public,
            admin,
            dispatcher,
            store,
            shutdown_grace,
            ..
        } = self;
        let public_handle = public.handle();
        let admin_handle = admin.as_ref().map(Server::handle);
        // The servers only accept connections while these futures are polled.
        let servers = async move {
            match admin {
                Some(admin) => futures_util::try_join!(public, admin).map(|_| ()),
                None => public.await,
            }
        };
        tokio::pin!(servers);

        tokio::select! {
            result = &mut servers => {
                result.context("the HTTP server stopped unexpectedly")?;
                anyhow::bail!("the HTTP server stopped without a shutdown request");
            }
            () = shutdown => {}
        }

        tracing::info!("shutdown requested; no longer accepting requests");
        let stop_admin = async {
            if let Some(handle) = admin_handle {
                handle.stop(true).await;
            }
        };
        let (stopped, (), ()) = tokio::join!(&mut servers, public_handle.stop(true), stop_admin);
        stopped.context("the HTTP server failed while stopping")?;

        match dispatcher.shutdown(shutdown_grace).await {
            ShutdownReport::Completed => {}
            ShutdownReport::Interrupted { workers } => tracing::warn!(
                workers,
                "deliveries still in flight after the grace period will be retried after their lease expires"
            ),
        }
        drop(store);
        tracing::info!("stopped");
        Ok(())
    }
}

fn bind(address: std::net::SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).with_context(|| {
        format!(
            "cannot listen on {address} (`{key}`); choose a free port or stop the program using it"
        )
    })
}

/// Shows the bound address, with the real port when the configured one was 0.
fn listener_address(configured: &std::net::SocketAddr, port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::new(configured.ip(), port)
}

fn public_server(
    listener: TcpListener,
    state: ReceiverState,
    grace: Duration,
) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().configure(move |cfg| wamebo_receiver::configure_public(cfg, state))
    })
    .listen(listener)
    .context("cannot start the public listener")?
    .disable_signals()
    .shutdown_timeout(grace.as_secs())
    .run();
    Ok(server)
}

fn admin_server(
    listener: TcpListener,
    state: AdminState,
    grace: Duration,
) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().configure(move |cfg| wamebo_receiver::configure_admin(cfg, state))
    })
    .listen(listener)
    .context("cannot start the admin listener")?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(grace.as_secs())
    .run();
    Ok(server)
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C; stop the bridge with SIGTERM");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; stop the bridge with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
