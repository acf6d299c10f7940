//! Helpers for tests against a real PostgreSQL server, shared by this
//! crate's tests and the end-to-end tests. They read the server URL from
//! `WAMEBO_TEST_POSTGRES_URL`, give each test a schema that is dropped
//! afterwards, and start a TCP proxy that a test can cut to stage an outage.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The environment variable that contains the test server's URL.
pub const URL_VARIABLE: &str = "WAMEBO_TEST_POSTGRES_URL";

/// Returns the test server's URL, or prints one line saying that `test` is
/// skipped and how to run it.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Written to the stderr handle, not with eprintln!, so the test
            // harness does not capture the line.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: set {URL_VARIABLE}=postgres://postgres@127.0.0.1:5432/test \
                 to run the PostgreSQL tests"
            );
            None
        }
    }
}

/// A schema with a random name, dropped with everything in it on drop.
///
/// Connections made through [`TestSchema::url`] carry the schema's name as
/// `application_name`, so the cleanup can end them first: a session of a
/// killed bridge or an unfinished transaction would otherwise block
/// `DROP SCHEMA`.
#[derive(Debug)]
pub struct TestSchema {
    server_url: String,
    /// The schema's name.
    pub name: String,
}

impl TestSchema {
    /// Picks a random schema name, starting with `prefix`, on the server at
    /// `server_url`. The store's migrations create the schema.
    pub fn new(server_url: &str, prefix: &str) -> TestSchema {
        TestSchema {
            server_url: server_url.to_owned(),
            name: format!("{prefix}_{:016x}", rand::random::<u64>()),
        }
    }

    /// Returns the server URL with this schema's `application_name`.
    pub fn url(&self) -> String {
        with_application_name(&self.server_url, &self.name)
    }
}

/// Returns `url` with an `application_name` query parameter.
pub fn with_application_name(url: &str, name: &str) -> String {
    let mut url = url::Url::parse(url).expect("the server URL parses");
    url.query_pairs_mut().append_pair("application_name", name);
    url.to_string()
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let url = self.server_url.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime, which cannot block on a future, so
        // the cleanup gets a thread and a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build the cleanup runtime");
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&url).await?;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&name)
                .execute(&mut connection)
                .await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut connection)
                    .await?;
                connection.close().await
            })
        });
        if let Ok(Err(error)) = cleanup.join() {
            let _ = writeln!(
                std::io::stderr(),
                "could not drop test schema {}: {error}",
                self.name
            );
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of the test server, which a test cuts
/// to stage an outage without stopping the server other tests use.
#[derive(Debug)]
pub struct Proxy {
    /// The server URL rewritten to go through the proxy.
    pub url: String,
    listen: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Starts a proxy to the server of `server_url` on a free port.
    pub async fn start(server_url: &str) -> Proxy {
        let mut url = url::Url::parse(server_url).expect("the server URL parses");
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = url.port().unwrap_or(5432);
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("the server address resolves")
            .next()
            .expect("the server name has an address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = listener.local_addr().unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(listen.port())).unwrap();
        let proxy = Proxy {
            url: url.to_string(),
            listen,
            upstream,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let tasks = Arc::clone(&self.tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let copy = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(copy);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes every proxied connection and stops listening, so new
    /// connections are refused.
    pub fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.listen).await {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("cannot listen on {} again: {error}", self.listen),
            }
        };
        self.serve(listener);
    }
}
