use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use wamebo_core::ConfigSecret;

use crate::cli::SignArgs;

/// Prints `X-Webhook-Signature: sha256=…` for a body read from a file or
/// standard input.
pub(crate) fn run(args: &SignArgs) -> anyhow::Result<ExitCode> {
    let secret = match (&args.secret_env, &args.secret_file) {
        (Some(name), _) => ConfigSecret::resolve(&format!("env:{name}")),
        (None, Some(path)) => ConfigSecret::resolve(&format!("file:{}", path.display())),
        (None, None) => {
            bail!("no signing secret given; pass --secret-env NAME or --secret-file PATH")
        }
    }
    .context("cannot read the signing secret")?;

    let body = read_body(args.file.as_deref())?;
    let header = wamebo_signature::sign_header(secret.expose().as_bytes(), &body);

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}: {header}", wamebo_signature::HEADER_NAME)
        .context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
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
