use std::io::Write;

use super::*;

/// A secret file that lives as long as the test.
struct SecretFile {
    _dir: tempfile::TempDir,
    reference: String,
}

fn secret_file(value: &str) -> SecretFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, value).unwrap();
    SecretFile {
        reference: format!("file:{}", path.display()),
        _dir: dir,
    }
}

fn minimal(secret: &SecretFile) -> String {
    format!(
        r#"
[[stores]]
id = "demo"
signing_secrets = ["{secret}"]
targets = ["demo-file"]

[[targets]]
id = "demo-file"
kind = "file"
path = "data/orders.jsonl"
"#,
        secret = secret.reference
    )
}

fn problems_of(text: &str) -> Vec<ConfigProblem> {
    match Config::from_toml(text) {
        Ok(_) => panic!("configuration was accepted:\n{text}"),
        Err(error) => error.problems().to_vec(),
    }
}

fn assert_problem(text: &str, key: &str, fragment: &str) {
    let problems = problems_of(text);
    assert!(
        problems
            .iter()
            .any(|problem| problem.key == key && problem.message.contains(fragment)),
        "expected a problem on `{key}` containing `{fragment}`, got {problems:#?}"
    );
}

#[test]
fn minimal_config_gets_defaults() {
    let secret = secret_file("wh_sec_test");

    let config = Config::from_toml(&minimal(&secret)).unwrap();

    assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.server.max_body_bytes, 1_048_576);
    assert_eq!(config.server.max_event_age, Duration::from_secs(72 * 3600));
    assert_eq!(
        config.storage.url,
        StorageUrl::Sqlite {
            path: "data/bridge.db".into()
        }
    );
    assert_eq!(config.dispatch.workers, 4);
    assert_eq!(config.dispatch.initial_backoff, Duration::from_secs(10));
    assert!(config.admin.is_none());
    assert_eq!(config.stores[0].signing_secrets[0].expose(), "wh_sec_test");
    assert_eq!(
        config.stores[0].on_total_mismatch,
        TotalMismatchPolicy::Reject
    );
    assert_eq!(config.targets[0].kind, "file");
    assert_eq!(config.targets[0].events, vec!["order.created".to_owned()]);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn durations_use_humantime() {
    let secret = secret_file("wh_sec_test");
    let text = format!(
        "[dispatch]\ninitial_backoff = \"1m 30s\"\nmax_backoff = \"2h\"\nlease = \"90s\"\ncall_timeout = \"1m\"\n{}",
        minimal(&secret)
    );

    let config = Config::from_toml(&text).unwrap();

    assert_eq!(config.dispatch.initial_backoff, Duration::from_secs(90));
    assert_eq!(config.dispatch.max_backoff, Duration::from_secs(7200));
    assert_eq!(config.dispatch.lease, Duration::from_secs(90));
}

#[test]
fn postgres_storage_reads_pool_settings() {
    let secret = secret_file("wh_sec_test");
    let text = format!(
        "[storage]\nurl = \"postgres://bridge@db.internal:6432/bridge\"\nschema = \"wamebo\"\nmax_connections = 20\nacquire_timeout = \"1500ms\"\nstatement_timeout = \"3s\"\n{}",
        minimal(&secret)
    );

    let config = Config::from_toml(&text).unwrap();

    let StorageUrl::Postgres { url, options } = &config.storage.url else {
        panic!("expected PostgreSQL storage, got {:?}", config.storage.url);
    };
    assert_eq!(url.expose(), "postgres://bridge@db.internal:6432/bridge");
    assert_eq!(url.describe(), "db.internal:6432/bridge");
    assert_eq!(options.schema.as_deref(), Some("wamebo"));
    assert_eq!(options.max_connections, 20);
    assert_eq!(options.acquire_timeout, Duration::from_millis(1500));
    assert_eq!(options.statement_timeout, Duration::from_secs(3));
    assert_eq!(
        options.connect_timeout,
        PgOptions::default().connect_timeout
    );
}

#[test]
fn postgres_url_with_password_comes_from_a_file() {
    let secret = secret_file("wh_sec_test");
    let database = secret_file("postgres://bridge:hunter2@db.internal/bridge\n");
    let text = format!(
        "[storage]\nurl = \"{}\"\n{}",
        database.reference,
        minimal(&secret)
    );

    let config = Config::from_toml(&text).unwrap();

    let StorageUrl::Postgres { url, .. } = &config.storage.url else {
        panic!("expected PostgreSQL storage");
    };
    assert_eq!(url.expose(), "postgres://bridge:hunter2@db.internal/bridge");
    assert!(!format!("{:?}", config.storage).contains("hunter2"));
    assert!(!url.describe().contains("hunter2"));
}

#[test]
fn invalid_values_name_their_key() {
    let secret = secret_file("wh_sec_test");
    let base = minimal(&secret);
    let cases = [
        (
            "[server]\nlisten = \"localhost\"\n",
            "server.listen",
            "IP address",
        ),
        (
            "[server]\nmax_body_bytes = 0\n",
            "server.max_body_bytes",
            "out of range",
        ),
        (
            "[server]\nmax_event_age = \"0s\"\n",
            "server.max_event_age",
            "longer than zero",
        ),
        (
            "[server]\nmax_event_age = \"ten minutes\"\n",
            "server.max_event_age",
            "",
        ),
        ("[server]\nport = 80\n", "server.port", "unknown key"),
        (
            "[storage]\nurl = \"postgres://bridge:hunter2@localhost/bridge\"\n",
            "storage.url",
            "contains a password",
        ),
        (
            "[storage]\nurl = \"postgres://bridge@localhost/bridge?password=hunter2\"\n",
            "storage.url",
            "contains a password",
        ),
        (
            "[storage]\nurl = \"env:WAMEBO_TEST_UNSET_DATABASE_URL\"\n",
            "storage.url",
            "is not set",
        ),
        (
            "[storage]\nurl = \"postgres://bridge@localhost/bridge\"\nmax_connections = 0\n",
            "storage",
            "storage.max_connections",
        ),
        (
            "[storage]\nurl = \"postgres://bridge@localhost/bridge\"\nacquire_timeout = \"0s\"\n",
            "storage",
            "storage.acquire_timeout",
        ),
        (
            "[storage]\nurl = \"postgres://bridge@localhost/bridge\"\nschema = \"Bad-Name\"\n",
            "storage",
            "storage.schema",
        ),
        (
            "[storage]\nurl = \"sqlite://data/bridge.db\"\nmax_connections = 4\n",
            "storage.max_connections",
            "only to PostgreSQL",
        ),
        (
            "[storage]\nurl = \"mysql://localhost/db\"\n",
            "storage.url",
            "not a storage URL",
        ),
        (
            "[storage]\nurl = \"sqlite://\"\n",
            "storage.url",
            "no file path",
        ),
        (
            "[dispatch]\nworkers = 0\n",
            "dispatch.workers",
            "out of range",
        ),
        (
            "[dispatch]\nmax_attempts = 0\n",
            "dispatch.max_attempts",
            "at least 1",
        ),
        (
            "[dispatch]\nlease = \"30s\"\ncall_timeout = \"30s\"\n",
            "dispatch.lease",
            "call_timeout",
        ),
        (
            "[dispatch]\nlease = \"0s\"\n",
            "dispatch.lease",
            "longer than zero",
        ),
        (
            "[dispatch]\ninitial_backoff = \"2h\"\nmax_backoff = \"1h\"\n",
            "dispatch.max_backoff",
            "shorter than",
        ),
        (
            "[admin]\nlisten = \"127.0.0.1:8080\"\ntoken = \"",
            "admin.listen",
            "own port",
        ),
        (
            "[admin]\nlisten = \"127.0.0.1:9090\"\ntoken = \"plain-token-in-file\"\n",
            "admin.token",
            "env:NAME",
        ),
        (
            "[admin]\nlisten = \"127.0.0.1:9090\"\n",
            "admin.token",
            "missing",
        ),
        ("surprise = true\n", "surprise", "unknown key"),
    ];
    for (prefix, key, fragment) in cases {
        let prefix = if prefix.ends_with("token = \"") {
            format!(
                "{prefix}{}\"\n",
                secret_file("a-long-enough-admin-token").reference
            )
        } else {
            prefix.to_owned()
        };
        assert_problem(&format!("{prefix}{base}"), key, fragment);
    }
}

#[test]
fn durations_over_a_year_are_rejected() {
    let secret = secret_file("wh_sec_test");
    let base = minimal(&secret);
    let cases = [
        (
            "[server]\nmax_event_age = \"366d\"\n",
            "server.max_event_age",
        ),
        (
            "[dispatch]\ninitial_backoff = \"400d\"\nmax_backoff = \"400d\"\n",
            "dispatch.initial_backoff",
        ),
        (
            "[dispatch]\nmax_backoff = \"999999999h\"\n",
            "dispatch.max_backoff",
        ),
        ("[dispatch]\nmax_age = \"2y\"\n", "dispatch.max_age"),
        (
            "[dispatch]\nlease = \"99999999999999h\"\n",
            "dispatch.lease",
        ),
        (
            "[dispatch]\ncall_timeout = \"400d\"\nlease = \"401d\"\n",
            "dispatch.call_timeout",
        ),
        (
            "[dispatch]\nretry_after_cap = \"400d\"\n",
            "dispatch.retry_after_cap",
        ),
        ("[dispatch]\nidle_poll = \"400d\"\n", "dispatch.idle_poll"),
        (
            "[dispatch]\nshutdown_grace = \"400d\"\n",
            "dispatch.shutdown_grace",
        ),
    ];
    for (prefix, key) in cases {
        assert_problem(&format!("{prefix}{base}"), key, "maximum of 365 days");
    }
    let year = "[server]\nmax_event_age = \"365d\"\n[dispatch]\nmax_age = \"365d\"\n";
    assert!(Config::from_toml(&format!("{year}{base}")).is_ok());
}

#[test]
fn store_rules_name_their_key() {
    let secret = secret_file("wh_sec_test");
    let target = "[[targets]]\nid = \"demo-file\"\nkind = \"file\"\npath = \"data/orders.jsonl\"\n";
    let cases = [
        (
            "[[stores]]\nid = \"demo\"\ntargets = [\"demo-file\"]\n".to_owned(),
            "stores[0].signing_secrets",
            "no signing secret",
        ),
        (
            format!("[[stores]]\nid = \"demo\"\nsigning_secrets = [\"{}\"]\ntargets = [\"nowhere\"]\n", secret.reference),
            "stores[0].targets[0]",
            "target `nowhere` is not defined",
        ),
        (
            format!("[[stores]]\nid = \"demo\"\nsigning_secrets = [\"{}\"]\ntargets = [\"demo-file\", \"demo-file\"]\n", secret.reference),
            "stores[0].targets[1]",
            "listed twice",
        ),
        (
            format!("[[stores]]\nid = \"Demo Store\"\nsigning_secrets = [\"{}\"]\n", secret.reference),
            "stores[0].id",
            "not a valid id",
        ),
        (
            format!("[[stores]]\nid = \"demo\"\nsigning_secrets = [\"{0}\"]\n[[stores]]\nid = \"demo\"\nsigning_secrets = [\"{0}\"]\n", secret.reference),
            "stores[1].id",
            "used twice",
        ),
        (
            "[[stores]]\nid = \"demo\"\nsigning_secrets = [\"env:WAMEBO_TEST_UNSET_SIGNING_SECRET\"]\n".to_owned(),
            "stores[0].signing_secrets[0]",
            "WAMEBO_TEST_UNSET_SIGNING_SECRET",
        ),
        (
            "[[stores]]\nid = \"demo\"\nsigning_secrets = [\"wh_sec_written_in_the_file\"]\n".to_owned(),
            "stores[0].signing_secrets[0]",
            "env:NAME",
        ),
        (
            format!("[[stores]]\nid = \"demo\"\nsigning_secrets = [\"{}\"]\nmystery = 1\n", secret.reference),
            "stores[0].mystery",
            "unknown key",
        ),
        (String::new(), "stores", "no store is configured"),
    ];
    for (stores, key, fragment) in cases {
        assert_problem(&format!("{stores}{target}"), key, fragment);
    }
}

#[test]
fn target_rules_name_their_key() {
    let secret = secret_file("wh_sec_test");
    let store = format!(
        "[[stores]]\nid = \"demo\"\nsigning_secrets = [\"{}\"]\n",
        secret.reference
    );
    let cases = [
        ("[[targets]]\nkind = \"file\"\npath = \"a.jsonl\"\n", "targets[0].id", "missing"),
        ("[[targets]]\nid = \"x\"\npath = \"a.jsonl\"\n", "targets[0].kind", "missing"),
        ("[[targets]]\nid = \"x\"\nkind = \"magento\"\n", "targets[0].kind", "known"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\n", "targets[0]", "missing field `path`"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"a.jsonl\"\nappend = true\n", "targets[0]", "unknown field `append`"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"a.jsonl\"\nevents = []\n", "targets[0].events", "empty"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"a.jsonl\"\nevents = \"order.created\"\n", "targets[0].events", "list"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"a.jsonl\"\nevents = [\"message.received\"]\n", "targets[0].events", "only receives orders"),
        ("[[targets]]\nid = \"X\"\nkind = \"file\"\npath = \"a.jsonl\"\n", "targets[0].id", "not a valid id"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"a.jsonl\"\n[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"b.jsonl\"\n", "targets[1].id", "used twice"),
        ("[[targets]]\nid = \"x\"\nkind = \"file\"\npath = \"a.jsonl\"\n[[targets]]\nid = \"y\"\nkind = \"file\"\npath = \"a.jsonl\"\n", "targets[1].path", "also written by target `x`"),
    ];
    for (targets, key, fragment) in cases {
        assert_problem(&format!("{store}{targets}"), key, fragment);
    }
}

#[test]
fn unknown_kind_lists_known_kinds() {
    let secret = secret_file("wh_sec_test");
    let text = minimal(&secret).replace("kind = \"file\"", "kind = \"magento\"");

    let problems = problems_of(&text);

    let kind_problem = problems
        .iter()
        .find(|problem| problem.key == "targets[0].kind")
        .unwrap();
    for kind in crate::targets::KNOWN_KINDS {
        assert!(kind_problem.message.contains(kind), "{kind_problem}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text =
        "[server]\nlisten = \"nowhere\"\n[dispatch]\nworkers = 0\n[[stores]]\nid = \"demo\"\n";

    let problems = problems_of(text);

    let keys: Vec<&str> = problems
        .iter()
        .map(|problem| problem.key.as_str())
        .collect();
    assert!(keys.contains(&"server.listen"), "{keys:?}");
    assert!(keys.contains(&"dispatch.workers"), "{keys:?}");
    assert!(keys.contains(&"stores[0].signing_secrets"), "{keys:?}");
}

#[test]
fn unrouted_target_is_a_warning() {
    let secret = secret_file("wh_sec_test");
    let text = minimal(&secret).replace("targets = [\"demo-file\"]", "targets = []");

    let config = Config::from_toml(&text).unwrap();

    assert!(config
        .warnings
        .iter()
        .any(|warning| warning.contains("demo-file")));
    assert!(config
        .warnings
        .iter()
        .any(|warning| warning.contains("store `demo`")));
}

#[test]
fn admin_token_is_read_from_its_source() {
    let secret = secret_file("wh_sec_test");
    let token = secret_file("0123456789abcdef0123");
    let text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{}\"\n{}",
        token.reference,
        minimal(&secret)
    );

    let config = Config::from_toml(&text).unwrap();

    let admin = config.admin.unwrap();
    assert_eq!(admin.token.expose(), "0123456789abcdef0123");
    assert!(!format!("{admin:?}").contains("0123456789abcdef0123"));
}

#[test]
fn short_admin_token_is_rejected() {
    let secret = secret_file("wh_sec_test");
    let token = secret_file("short");
    let text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{}\"\n{}",
        token.reference,
        minimal(&secret)
    );

    assert_problem(&text, "admin.token", "shorter than 16");
}

#[test]
fn missing_file_is_not_found() {
    let error = Config::load(Path::new("/nonexistent/wamebo/bridge.toml")).unwrap_err();

    assert!(matches!(error, ConfigError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("--config"), "{error}");
}

#[test]
fn file_problems_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"[server]\nlisten = \"nowhere\"\n").unwrap();

    let error = Config::load(&path).unwrap_err();

    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert!(error.to_string().contains("`server.listen`"), "{error}");
}

#[test]
fn secret_values_never_appear_in_errors() {
    let secret = secret_file("wh_sec_do_not_print");
    let text = format!("[server]\nlisten = \"bad\"\n{}", minimal(&secret));

    let error = Config::from_toml(&text).unwrap_err();

    assert!(!error.to_string().contains("wh_sec_do_not_print"));
}

fn woocommerce_config(secret: &SecretFile, target_keys: &str) -> String {
    format!(
        r#"
[[stores]]
id = "acme"
signing_secrets = ["{secret}"]
targets = ["acme-woo"]

[[targets]]
id = "acme-woo"
kind = "woocommerce"
consumer_key = "{secret}"
consumer_secret = "{secret}"
{target_keys}
"#,
        secret = secret.reference
    )
}

#[test]
fn woocommerce_target_is_accepted() {
    let secret = secret_file("wh_sec_test");
    let text = woocommerce_config(&secret, "base_url = \"https://shop.example.com\"");

    let config = Config::from_toml(&text).unwrap();

    assert_eq!(config.targets[0].kind, "woocommerce");
    assert!(config.targets[0].max_attempt_duration.is_some());
}

#[test]
fn woocommerce_problems_name_their_key() {
    let secret = secret_file("wh_sec_test");
    let cases = [
        (
            "base_url = \"https://shop.example.com\"\nrequest_timeout = \"61s\"",
            "targets[0].request_timeout",
            "dispatch.lease",
        ),
        (
            "base_url = \"http://shop.example.com\"",
            "targets.acme-woo.base_url",
            "",
        ),
        (
            "base_url = \"https://shop.example.com\"\nconsumer = 1",
            "targets[0]",
            "unknown field `consumer`",
        ),
    ];
    for (keys, key, fragment) in cases {
        assert_problem(&woocommerce_config(&secret, keys), key, fragment);
    }
}

fn target_config(secret: &SecretFile, kind_keys: &str) -> String {
    format!(
        r#"
[[stores]]
id = "acme"
signing_secrets = ["{secret}"]
targets = ["acme-target"]

[[targets]]
id = "acme-target"
{kind_keys}
"#,
        secret = secret.reference
    )
}

#[test]
fn every_known_kind_is_accepted() {
    let secret = secret_file("wh_sec_test");
    let reference = &secret.reference;
    let cases = [
        ("file", "kind = \"file\"\npath = \"data/orders.jsonl\"".to_owned()),
        (
            "woocommerce",
            format!("kind = \"woocommerce\"\nbase_url = \"https://shop.example.com\"\nconsumer_key = \"{reference}\"\nconsumer_secret = \"{reference}\""),
        ),
        (
            "shopify",
            format!("kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"\naccess_token = \"{reference}\""),
        ),
        (
            "shopify",
            format!("kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"\nclient_id = \"{reference}\"\nclient_secret = \"{reference}\""),
        ),
        (
            "erp",
            "kind = \"erp\"\nurl = \"https://erp.example.com/api/orders\"\nevents = [\"order.created\", \"message.received\"]".to_owned(),
        ),
    ];
    for (kind, keys) in cases {
        let config = Config::from_toml(&target_config(&secret, &keys))
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        assert_eq!(config.targets[0].kind, kind);
        assert!(crate::targets::KNOWN_KINDS.contains(&kind), "{kind}");
    }
}

#[test]
fn platform_targets_reject_invalid_keys() {
    let secret = secret_file("wh_sec_test");
    let reference = &secret.reference;
    let cases = [
        (
            format!("kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"\naccess_token = \"{reference}\"\nevents = [\"message.received\"]"),
            "targets[0].events",
            "only receives orders",
        ),
        (
            format!("kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"\naccess_token = \"{reference}\"\nrequest_timeout = \"61s\""),
            "targets[0].request_timeout",
            "dispatch.lease",
        ),
        (
            "kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"".to_owned(),
            "targets.acme-target.client_id",
            "or `access_token`",
        ),
        (
            format!("kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"\naccess_token = \"{reference}\"\nclient_id = \"{reference}\"\nclient_secret = \"{reference}\""),
            "targets.acme-target.access_token",
            "keep `client_id` and `client_secret`",
        ),
        (
            format!("kind = \"shopify\"\nshop_domain = \"acme.myshopify.com\"\nclient_id = \"{reference}\""),
            "targets.acme-target.client_secret",
            "is missing",
        ),
        (
            "kind = \"erp\"\nurl = \"https://erp.example.com\"\nretries = 3".to_owned(),
            "targets[0]",
            "unknown field `retries`",
        ),
        (
            "kind = \"erp\"\nurl = \"http://erp.example.com/api/orders\"".to_owned(),
            "targets.acme-target.url",
            "",
        ),
    ];
    for (keys, key, fragment) in cases {
        assert_problem(&target_config(&secret, &keys), key, fragment);
    }
}
