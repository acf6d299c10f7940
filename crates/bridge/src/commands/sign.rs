use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use wamebo_core::ConfigSecret;
use wamebo_erp::{describe_signature, SigningScheme};

use crate::cli::{SignArgs, SignScheme};

/// Prints the signature headers for a body read from a file or standard
/// input, one `name: value` line each.
pub(crate) fn run(args: &SignArgs) -> anyhow::Result<ExitCode> {
    let scheme = match args.scheme {
        SignScheme::Wamebo => SigningScheme::Wamebo,
        SignScheme::StandardWebhooks => SigningScheme::StandardWebhooks,
    };
    if scheme == SigningScheme::Wamebo && (args.id.is_some() || args.timestamp.is_some()) {
        bail!("--id and --timestamp apply only to --scheme standard-webhooks; add that option or remove them");
    }

    let secret = match (&args.secret_env, &args.secret_file) {
        (Some(name), _) => ConfigSecret::resolve(&format!("env:{name}")),
        (None, Some(path)) => ConfigSecret::resolve(&format!("file:{}", path.display())),
        (None, None) => {
            bail!("no signing secret given; pass --secret-env NAME or --secret-file PATH")
        }
    }
    .context("cannot read the signing secret")?;

    let body = read_body(args.file.as_deref())?;
    let message_id = args.id.clone().unwrap_or_else(random_message_id);
    let timestamp = args
        .timestamp
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let headers = describe_signature(scheme, secret.expose(), &body, &message_id, timestamp)
        .with_context(|| {
            format!(
                "cannot sign with the `{scheme}` scheme and the secret from `{}`",
                secret.source()
            )
        })?;

    let mut stdout = std::io::stdout().lock();
    for (name, value) in headers {
        writeln!(stdout, "{name}: {value}").context("cannot write to standard output")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns a fresh Standard Webhooks message id: `msg_` and 32 random hex
/// digits, the form an `erp` target's ids have.
fn random_message_id() -> String {
    format!("msg_{:032x}", rand::random::<u128>())
}

/// Reads the body as bytes, unchanged, because the signature covers every
/// byte including a trailing newline.
fn read_body(file: Option<&std::path::Path>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) if path.as_os_str() != "-" => std::fs::read(path)
            .with_context(|| format!("cannot read body file `{}`", path.display())),
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut body)
                .context("cannot read the body from standard input")?;
            Ok(body)
        }
    }
}
