//! The `wamebo-bridge` binary's commands that need no running service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bridge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wamebo-bridge"))
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let written = child.stdin.take().expect("stdin is piped").write_all(stdin);
    // A command that fails before reading its input closes the pipe first.
    if let Err(error) = written {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing the body to stdin failed: {error}"
        );
    }
    child.wait_with_output().expect("the binary exits")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn sign_matches_github_vector() {
    let mut command = bridge();
    command
        .args(["sign", "--secret-env", "WAMEBO_CLI_TEST_SECRET"])
        .env("WAMEBO_CLI_TEST_SECRET", "It's a Secret to Everybody");

    let output = run_with_stdin(command, b"Hello, World!");

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "X-Webhook-Signature: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n"
    );
}

#[test]
fn sign_covers_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "It's a Secret to Everybody\n").unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, "Hello, World!\n").unwrap();

    let output = bridge()
        .arg("sign")
        .arg(&body)
        .arg("--secret-file")
        .arg(&secret)
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("X-Webhook-Signature: sha256="),
        "{stdout}"
    );
    assert!(
        !stdout.contains("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
        "the newline must change the signature"
    );
}

#[test]
fn sign_without_secret_fails() {
    let cases: [&[&str]; 2] = [
        &["sign"],
        &["sign", "--secret-env", "WAMEBO_CLI_TEST_UNSET_VARIABLE"],
    ];
    for args in cases {
        let output = run_with_stdin(
            {
                let mut command = bridge();
                command.args(args);
                command
            },
            b"{}",
        );

        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(output.stdout.is_empty(), "{args:?} printed a signature");
    }
}

/// The Standard Webhooks specification's test vector.
const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TIMESTAMP: &str = "1614265330";
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;

fn sign_command(secret: &str, args: &[&str]) -> Command {
    let mut command = bridge();
    command
        .args(["sign", "--secret-env", "WAMEBO_CLI_TEST_SECRET"])
        .args(args)
        .env("WAMEBO_CLI_TEST_SECRET", secret);
    command
}

#[test]
fn sign_standard_webhooks_matches_vector() {
    let command = sign_command(
        VECTOR_SECRET,
        &[
            "--scheme",
            "standard-webhooks",
            "--id",
            VECTOR_ID,
            "--timestamp",
            VECTOR_TIMESTAMP,
        ],
    );

    let output = run_with_stdin(command, VECTOR_BODY);

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\n\
         webhook-timestamp: 1614265330\n\
         webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
    );
}

#[test]
fn sign_standard_webhooks_generates_id_and_timestamp() {
    let command = sign_command(VECTOR_SECRET, &["--scheme", "standard-webhooks"]);

    let output = run_with_stdin(command, VECTOR_BODY);

    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let headers: Vec<(&str, &str)> = stdout
        .lines()
        .map(|line| line.split_once(": ").expect("each line is `name: value`"))
        .collect();
    let names: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    let id = headers[0].1;
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(id.len(), 4 + 32, "{id}");
    let timestamp: i64 = headers[1].1.parse().expect("the timestamp is an integer");
    let key = wamebo_signature::standard_webhooks::SigningKey::parse(VECTOR_SECRET).unwrap();
    assert_eq!(
        headers[2].1,
        key.sign(id, timestamp, VECTOR_BODY).unwrap(),
        "the signature covers the printed id and timestamp"
    );
}

#[test]
fn sign_rejects_invalid_scheme_input() {
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "id without standard-webhooks",
            VECTOR_SECRET,
            &["--id", VECTOR_ID],
        ),
        (
            "timestamp without standard-webhooks",
            VECTOR_SECRET,
            &["--timestamp", VECTOR_TIMESTAMP],
        ),
        (
            "secret without whsec_ base64",
            "wh_sec_not_base64!",
            &["--scheme", "standard-webhooks"],
        ),
        (
            "id with a dot",
            VECTOR_SECRET,
            &["--scheme", "standard-webhooks", "--id", "msg.1"],
        ),
        ("unknown scheme", VECTOR_SECRET, &["--scheme", "sha1"]),
    ];
    for (case, secret, args) in cases {
        let output = run_with_stdin(sign_command(secret, args), VECTOR_BODY);

        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{case}: succeeded");
        assert!(
            output.stdout.is_empty(),
            "{case}: printed {}",
            text(&output.stdout)
        );
        assert!(
            !stderr.contains(secret),
            "{case}: the secret is in {stderr}"
        );
    }
}

#[test]
fn shipped_config_is_valid() {
    let output = bridge()
        .current_dir(repository_root())
        .arg("check-config")
        .env("WAMEBO_SIGNING_SECRET", "wh_sec_demo")
        .output()
        .unwrap();

    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(stdout.contains("POST /webhooks/demo"), "{stdout}");
}

#[test]
fn shipped_config_needs_its_secret() {
    let output = bridge()
        .current_dir(repository_root())
        .arg("check-config")
        .env_remove("WAMEBO_SIGNING_SECRET")
        .output()
        .unwrap();

    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("stores[0].signing_secrets[0]"), "{stderr}");
    assert!(stderr.contains("WAMEBO_SIGNING_SECRET"), "{stderr}");
}

#[test]
fn environment_overrides_the_file() {
    let output = bridge()
        .current_dir(repository_root())
        .arg("check-config")
        .env("WAMEBO_SIGNING_SECRET", "wh_sec_demo")
        .env("WAMEBO_BRIDGE__SERVER__LISTEN", "127.0.0.1:18080")
        .env("WAMEBO_BRIDGE__DISPATCH__WORKERS", "0")
        .output()
        .unwrap();

    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("`dispatch.workers`"), "{stderr}");
}

#[test]
fn missing_config_names_the_fix() {
    let output = bridge()
        .args([
            "--config",
            "/nonexistent/wamebo/bridge.toml",
            "check-config",
        ])
        .output()
        .unwrap();

    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(stderr.contains("--config"), "{stderr}");
}

/// The secrets every example and documentation snippet names, with values
/// of the right shape.
const EXAMPLE_SECRETS: [(&str, &str); 8] = [
    ("ACME_WAMEBO_SECRET", "wh_sec_example"),
    ("ACME_WC_KEY", "ck_example"),
    ("ACME_WC_SECRET", "cs_example"),
    ("ACME_SHOPIFY_CLIENT_ID", "0123456789abcdef0123456789abcdef"),
    ("ACME_SHOPIFY_CLIENT_SECRET", "shpss_example"),
    ("ACME_SHOPIFY_TOKEN", "shpat_example"),
    ("ACME_ERP_TOKEN", "erp_example_token"),
    ("ACME_ERP_SIGNING_SECRET", VECTOR_SECRET),
];

fn check_config(path: &Path, secrets: &[(&str, &str)]) -> Output {
    let mut command = bridge();
    command
        .current_dir(repository_root())
        .arg("--config")
        .arg(path)
        .arg("check-config");
    for (name, _) in EXAMPLE_SECRETS {
        command.env_remove(name);
    }
    command.envs(secrets.iter().copied()).output().unwrap()
}

#[test]
fn example_configs_are_valid() {
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "config/examples/woocommerce.toml",
            &["ACME_WAMEBO_SECRET", "ACME_WC_KEY", "ACME_WC_SECRET"],
            "POST /webhooks/acme -> [acme-woo]",
        ),
        (
            "config/examples/shopify.toml",
            &[
                "ACME_WAMEBO_SECRET",
                "ACME_SHOPIFY_CLIENT_ID",
                "ACME_SHOPIFY_CLIENT_SECRET",
            ],
            "POST /webhooks/acme -> [acme-shopify]",
        ),
        (
            "config/examples/erp.toml",
            &[
                "ACME_WAMEBO_SECRET",
                "ACME_ERP_TOKEN",
                "ACME_ERP_SIGNING_SECRET",
            ],
            "POST /webhooks/acme -> [acme-file, acme-erp]",
        ),
    ];
    for (path, names, route) in cases {
        let secrets: Vec<(&str, &str)> = EXAMPLE_SECRETS
            .into_iter()
            .filter(|(name, _)| names.contains(name))
            .collect();

        let output = check_config(Path::new(path), &secrets);

        let stdout = text(&output.stdout);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "{path}: {stderr}");
        assert!(stdout.contains(route), "{path}: {stdout}");
        assert!(stderr.is_empty(), "{path} has warnings: {stderr}");
    }
}

#[test]
fn example_configs_need_their_secrets() {
    let cases: [(&str, &[&str]); 3] = [
        (
            "config/examples/woocommerce.toml",
            &["ACME_WAMEBO_SECRET", "ACME_WC_KEY", "ACME_WC_SECRET"],
        ),
        (
            "config/examples/shopify.toml",
            &[
                "ACME_WAMEBO_SECRET",
                "ACME_SHOPIFY_CLIENT_ID",
                "ACME_SHOPIFY_CLIENT_SECRET",
            ],
        ),
        (
            "config/examples/erp.toml",
            &[
                "ACME_WAMEBO_SECRET",
                "ACME_ERP_TOKEN",
                "ACME_ERP_SIGNING_SECRET",
            ],
        ),
    ];
    for (path, names) in cases {
        for missing in names {
            let secrets: Vec<(&str, &str)> = EXAMPLE_SECRETS
                .into_iter()
                .filter(|(name, _)| names.contains(name) && name != missing)
                .collect();

            let output = check_config(Path::new(path), &secrets);

            let stderr = text(&output.stderr);
            assert!(!output.status.success(), "{path} without {missing}");
            assert!(
                stderr.contains(missing),
                "{path} without {missing}: {stderr}"
            );
        }
    }
}

/// Returns the ```toml blocks of a Markdown page.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == "```toml" => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn documented_target_tables_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for page in ["README.md", "docs/erp-target.md"] {
        let markdown = std::fs::read_to_string(repository_root().join(page)).unwrap();
        for (index, block) in toml_blocks(&markdown).into_iter().enumerate() {
            if !block.contains("[[targets]]") {
                continue;
            }
            // A snippet of target tables gets a store, so it forms a whole
            // configuration.
            let config = if block.contains("[[stores]]") {
                block.clone()
            } else {
                format!(
                    "[[stores]]\nid = \"docs\"\nsigning_secrets = [\"env:ACME_WAMEBO_SECRET\"]\n\n{block}"
                )
            };
            let path = dir.path().join(format!("snippet-{checked}.toml"));
            std::fs::write(&path, &config).unwrap();

            let output = check_config(&path, &EXAMPLE_SECRETS);

            assert!(
                output.status.success(),
                "{page}, TOML block {index}: {}\n{block}",
                text(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "found {checked} TOML blocks with targets");
}
