//! The `gridsync` binary as operators run it: the README's first command, and two server
//! processes sharing one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridsync_core::case::NoteKind;
use gridsync_tests::Phone;

/// A `gridsync serve` child process; killed when dropped.
struct ServerProcess {
    child: Child,
    base_url: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    fn start(args: &[&str], dir: &std::path::Path) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn gridsync");
        // The log line "gridsync listening addr=127.0.0.1:PORT" tells where it listens.
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("addr=").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not start");
        ServerProcess {
            child,
            base_url: format!("http://{addr}"),
            log,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_readme_command_serves_the_demo_county() {
    let dir = tempfile::tempdir().unwrap();
    // README: `cargo run --bin gridsync -- serve --demo` (a fresh SQLite file in the cwd).
    let server = ServerProcess::start(&["--demo"], dir.path());
    assert!(
        dir.path().join("gridsync.db").exists(),
        "the embedded database was created"
    );
    for user in [
        "wang.grid",
        "chen.dispatch",
        "liu.labour",
        "wu.super",
        "admin",
    ] {
        Phone::login(&server.base_url, user, &format!("readme-{user}"));
    }
    let mut phone = Phone::login(&server.base_url, "wang.grid", "readme-phone");
    let id = phone.record("欠薪纠纷");
    phone.store.submit(id).unwrap();
    assert_eq!(phone.sync().unwrap().acked_changes, 2);
}

/// The terminal phone takes a department handler's steps, as the apps do: the case a grid
/// worker's terminal filed is dispatched; the handler's terminal lists it in its tasks,
/// offers sign-for, signs for it, resolves it with an installment, and the center has it.
#[test]
fn the_terminal_phone_takes_a_handlers_steps() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&["--demo"], dir.path());
    let field = |db: &str, args: &[&str]| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(["field", "--json", "--db", db])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "field {args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    };
    let url = server.base_url.as_str();
    field("worker.db", &["login", url, "wang.grid", "gridsync-demo"]);
    let filed = field(
        "worker.db",
        &[
            "record",
            "--title",
            "拖欠帮工工资",
            "--category",
            "LABOUR_WAGES",
            "--party",
            "孙八",
            "--submit",
        ],
    );
    let case = filed["id"].as_str().unwrap().to_owned();
    field("worker.db", &["sync"]);

    let dispatcher = gridsync_tests::Staff::login_at(url, "chen.dispatch");
    let (_, detail) = dispatcher.get(&format!("/v1/cases/{case}"));
    if detail["state"]["status"] == "SUBMITTED" {
        assert_eq!(
            dispatcher.act(&case, "ACCEPT", serde_json::json!({})).0,
            200
        );
    }
    let labour =
        serde_json::json!({"to": [{"id": "330182-labour", "name": "劳动监察"}], "tier": "COUNTY"});
    let (_, detail) = dispatcher.get(&format!("/v1/cases/{case}"));
    if detail["state"]["status"] != "DISPATCHED" {
        assert_eq!(dispatcher.act(&case, "DISPATCH", labour).0, 200);
    }

    field("handler.db", &["login", url, "liu.labour", "gridsync-demo"]);
    field("handler.db", &["sync"]);
    let tasks = field("handler.db", &["tasks"]);
    let mine: Vec<_> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["case_id"] == case.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{tasks}");
    assert_eq!(mine[0]["kind"], "SIGN");
    let allowed = field("handler.db", &["allowed", &case]);
    assert!(
        allowed.as_array().unwrap().contains(&"SIGN_FOR".into()),
        "{allowed}"
    );
    assert_eq!(
        field("handler.db", &["sign-for", &case])["status"],
        "SIGNED"
    );
    assert_eq!(
        field("handler.db", &["start", &case])["status"],
        "IN_PROGRESS"
    );
    let resolved = field(
        "handler.db",
        &[
            "resolve",
            &case,
            "双方达成协议",
            "--terms",
            "饭店月底前支付3000元",
            "--installment",
            "2030-01-31:3000",
        ],
    );
    assert_eq!(resolved["status"], "RESOLVED");
    let status = field("handler.db", &["status"]);
    assert!(
        status["status"]["pending"]["changes"].as_u64().unwrap() >= 3,
        "{status}"
    );
    field("handler.db", &["sync"]);
    let status = field("handler.db", &["status"]);
    assert_eq!(status["status"]["state"], "IDLE", "{status}");
    assert_eq!(status["status"]["pending"]["changes"], 0, "{status}");

    let (_, detail) = dispatcher.get(&format!("/v1/cases/{case}"));
    assert_eq!(detail["state"]["status"], "RESOLVED");
    let installments = &detail["state"]["agreement"]["installments"];
    assert_eq!(installments[0]["amount"], 300_000, "{installments}");
    let rules = field("handler.db", &["rules"]);
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["field"] == "title" && r["max_chars"] == 100),
        "{rules}"
    );
}

/// The phone killed mid-upload: `gridsync field upload` through a slow link is SIGKILLed
/// once part of a photo has gone up; the next `upload` resumes from what the center
/// confirmed, not from zero, and the center ends with the whole, checked photo.
#[test]
fn a_phone_killed_mid_upload_resumes() {
    use gridsync_tests::link::{Link, LinkProxy};
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&["--demo"], dir.path());
    let run = |args: &[&str]| -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(["field", "--json", "--db", "phone.db"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    };
    let url = server.base_url.clone();
    json(&["login", &url, "wang.grid", "gridsync-demo"]);
    let case = json(&[
        "record",
        "--title",
        "毁坏庄稼",
        "--category",
        "OTHER",
        "--submit",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A photo: a JPEG's first bytes, then noise.
    let mut photo = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while photo.len() < 2 * 1024 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        photo.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(dir.path().join("field.jpg"), &photo).unwrap();
    let attached = json(&["attach", &case, "field.jpg", "--caption", "被毁的庄稼"]);
    assert_eq!(attached["size"], photo.len());
    json(&["sync"]);

    // 256 kB/s: the 2 MiB take about 8 s; killed once 600 kB have crossed.
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let link = LinkProxy::start(
        addr,
        Link {
            rate: Some(256 * 1024),
            ..Link::default()
        },
    );
    let mut uploading = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .args([
            "field",
            "--json",
            "--db",
            "phone.db",
            "upload",
            &link.base_url(),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while link.counts().up < 600 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    uploading.kill().unwrap(); // SIGKILL
    uploading.wait().unwrap();
    let confirmed = json(&["evidence"])[0]["sent"].as_u64().unwrap();
    assert!(
        confirmed > 0 && confirmed < photo.len() as u64,
        "killed part-way: {confirmed} confirmed"
    );

    // What the center holds: every byte the phone had confirmed, and what arrived of the
    // chunk the kill cut off (kept from 4 KiB). The link still delivers what the phone had
    // sent before it died, and the dispatcher's `HEAD` does not cut a `PATCH` still
    // receiving bytes (only the phone's own device may): wait until the link is drained,
    // then past the 2 s after which anyone may stop a silent one.
    let mut last = link.counts().up;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = link.counts().up;
        if now == last {
            break;
        }
        last = now;
    }
    std::thread::sleep(Duration::from_millis(2_500));
    let dispatcher = gridsync_tests::Staff::login_at(&url, "chen.dispatch");
    let sha256 = attached["sha256"].as_str().unwrap();
    let head = dispatcher
        .agent
        .head(&format!("{url}/v1/cases/{case}/attachments/{sha256}"))
        .header("Authorization", &format!("Bearer {}", dispatcher.token))
        .call()
        .unwrap();
    let held: u64 = head.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(held >= confirmed, "held {held} < confirmed {confirmed}");

    let done = json(&["upload"]);
    assert_eq!(done["completed"], 1, "{done}");
    let resent = done["bytes_sent"].as_u64().unwrap();
    assert_eq!(
        resent,
        photo.len() as u64 - held,
        "resumed from what the center holds, nothing sent twice"
    );
    let uploads = json(&["evidence"]);
    assert_eq!(uploads[0]["state"], "DONE", "{uploads}");
    // The center holds the photo whole: the handler's phone would fetch exactly these bytes.
    let (status, detail) = dispatcher.get(&format!("/v1/cases/{case}"));
    assert_eq!(status, 200);
    assert_eq!(detail["case"]["attachments"][0]["stored"], true, "{detail}");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(&["--demo"], dir.path());
    let mut phone = Phone::login(&server.base_url, "wang.grid", "term-phone");
    phone.record("欠薪");
    phone.sync().unwrap();
    // A console subscribed to the live feed must not hold the shutdown up.
    let chen = gridsync_tests::Staff::login_at(&server.base_url, "chen.dispatch");
    let feed = std::thread::spawn(move || {
        let mut resp = chen
            .agent
            .get(&format!("{}/v1/events", chen.base))
            .header("Authorization", &format!("Bearer {}", chen.token))
            .call()
            .unwrap();
        // Read until the server ends the stream.
        std::io::copy(&mut resp.body_mut().as_reader(), &mut std::io::sink()).ok();
    });
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server did not stop promptly"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    feed.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn a_fresh_installation_gets_one_admin_with_a_password_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .args(["admin", "orgs"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a terminal here: the password goes to the file asked for, owner-only.
    let server = ServerProcess::start(&["--admin-password-file", "admin-password"], dir.path());
    let password_file = dir.path().join("admin-password");
    let password = std::fs::read_to_string(&password_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(password.len() >= 16);
    Phone::try_login(&server.base_url, "admin", &password, "first-admin").unwrap();
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        !log.contains(&password),
        "the password is in the log:\n{log}"
    );
    assert!(
        log.contains("admin-password"),
        "the log names the file:\n{log}"
    );
    drop(server);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            "admin-password",
            "gridsync.db",
            "gridsync.db-wal",
            "gridsync.db-shm",
        ] {
            let path = dir.path().join(file);
            // SQLite removes -wal and -shm when the last connection closes cleanly.
            if (file.ends_with("-wal") || file.ends_with("-shm")) && !path.exists() {
                continue;
            }
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}: {mode:o}");
        }
    }
    // The admin CLI works on the same database: an organisation, a user, a revocation.
    let output = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let run_with = |args: &[&str], stdin: &str| {
        let out = output(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let run = |args: &[&str]| run_with(args, "");
    run(&[
        "admin",
        "create-org",
        "330182101201",
        "青溪镇东岭村",
        "--kind",
        "VILLAGE",
        "--tier",
        "VILLAGE",
        "--area-code",
        "330182101201",
        "--scope-prefix",
        "330182101201",
    ]);
    let created = run(&[
        "admin",
        "create-user",
        "wang",
        "--role",
        "GRID_WORKER",
        "--org",
        "330182101201",
    ]);
    let password = created
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .unwrap()
        .to_owned();
    let server = ServerProcess::start(&[], dir.path());
    let phone = Phone::try_login(&server.base_url, "wang", &password, "cli-phone").unwrap();
    assert_eq!(phone.area_code, "330182101201");
    drop(server);
    run(&["admin", "revoke-device", "cli-phone"]);
    assert!(run(&["admin", "devices"]).contains("REVOKED"));

    // A new password, from stdin (never the command line); the old one stops working.
    let said = run_with(&["admin", "set-password", "wang"], "a-new-long-password\n");
    assert!(!said.contains("a-new-long-password"), "{said}");
    let refused = output(&["admin", "set-password", "wang"], "short\n");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at least 10 characters"));
    // A new signing key, kept in the database.
    assert!(run(&["admin", "rotate-jwt-key"]).contains("new signing key"));
    let server = ServerProcess::start(&[], dir.path());
    let err = Phone::try_login(&server.base_url, "wang", &password, "cli-phone-2").unwrap_err();
    assert_eq!(err.code, "invalid_credentials");
    let mut phone = Phone::try_login(
        &server.base_url,
        "wang",
        "a-new-long-password",
        "cli-phone-2",
    )
    .unwrap();
    phone.sync().unwrap();
    // Disabled: the phone is told to wipe, signing in is refused.
    run(&["admin", "disable-user", "wang"]);
    assert_eq!(phone.sync().unwrap_err().code, "device_revoked");
    let err = Phone::try_login(
        &server.base_url,
        "wang",
        "a-new-long-password",
        "cli-phone-3",
    )
    .unwrap_err();
    assert_eq!(err.code, "account_disabled");
}

#[test]
fn the_timeout_flags_reach_the_server() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&["--demo", "--header-timeout", "1"], dir.path());
    let addr = server.base_url.trim_start_matches("http://");
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    let mut buf = Vec::new();
    // Closed by the server after a second: the read ends (it would time out otherwise).
    match half.read_to_end(&mut buf) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // And it serves on.
    Phone::login(&server.base_url, "wang.grid", "flags-phone");
}

/// Two server processes on one PostgreSQL, four phones editing the same cases through
/// both at once: every change lands in the log exactly once and every projection is current.
#[test]
fn two_server_processes_share_one_postgresql_and_lose_nothing() {
    let Ok(admin_url) = std::env::var(gridsync_tests::POSTGRES_ENV) else {
        eprintln!(
            "skipped: {} is not set (CI sets it)",
            gridsync_tests::POSTGRES_ENV
        );
        return;
    };
    let rt = gridsync_tests::runtime();
    let db = gridsync_tests::TestDb::new(&rt);
    assert!(db.is_postgres(), "{admin_url}");
    let dir = tempfile::tempdir().unwrap();
    let s1 = ServerProcess::start(
        &[
            "--demo",
            "--database-url",
            &db.url,
            "--jwt-secret",
            "shared-secret-0123456789",
        ],
        dir.path(),
    );
    let s2 = ServerProcess::start(
        &[
            "--database-url",
            &db.url,
            "--jwt-secret",
            "shared-secret-0123456789",
        ],
        dir.path(),
    );

    // Eight cases everybody holds.
    let mut seeder = Phone::login(&s1.base_url, "wang.grid", "seed");
    let ids: Vec<_> = (0..8)
        .map(|i| {
            let id = seeder.record(&format!("共享案件 {i}"));
            seeder.store.submit(id).unwrap();
            id
        })
        .collect();
    seeder.sync().unwrap();

    let users = [
        ("wang.grid", &s1),
        ("li.mediator", &s2),
        ("wang.grid", &s2),
        ("li.mediator", &s1),
    ];
    let mut handles = Vec::new();
    for (n, (user, server)) in users.iter().enumerate() {
        let base = server.base_url.clone();
        let user = (*user).to_owned();
        let ids = ids.clone();
        handles.push(std::thread::spawn(move || {
            let mut phone = Phone::login(&base, &user, &format!("pg-phone-{n}"));
            phone.sync().unwrap();
            let mut notes = 0;
            for round in 0..5 {
                for id in &ids {
                    phone
                        .store
                        .add_note(
                            *id,
                            NoteKind::MediationFaceToFace,
                            &format!("phone {n} round {round}"),
                        )
                        .unwrap();
                    notes += 1;
                }
                let r = phone.sync().unwrap();
                assert!(r.rejected.is_empty(), "{:?}", r.rejected);
            }
            phone.sync().unwrap();
            (phone, notes)
        }));
    }
    let mut phones = Vec::new();
    let mut total_notes = 0;
    for h in handles {
        let (p, n) = h.join().unwrap();
        total_notes += n;
        phones.push(p);
    }
    for p in phones.iter_mut() {
        p.sync().unwrap();
        assert_eq!(p.store.pending().unwrap().changes, 0);
    }
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes")
            .fetch_one(&pool)
            .await
            .unwrap();
        let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT hash) FROM changes")
            .fetch_one(&pool)
            .await
            .unwrap();
        // 8 records + 8 submits + every note.
        assert_eq!(changes, 16 + total_notes as i64);
        assert_eq!(changes, distinct);
        pool.close().await;
    });
    // Every phone and the projection agree on every case: all notes everywhere.
    for id in &ids {
        let views: Vec<_> = phones.iter().map(|p| p.store.case(*id).unwrap()).collect();
        assert_eq!(views[0].case.notes.len(), 20);
        assert!(views.iter().all(|v| v.case == views[0].case));
    }
    drop((s1, s2));
}

/// `gridsync admin org|user|device` are the HTTP API's twins: the same rules (the tree,
/// the role ↔ kind table), the same audit entries, by the `OPERATOR`.
#[test]
fn the_admin_cli_is_the_apis_twin() {
    let dir = tempfile::tempdir().unwrap();
    let gridsync = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap()
    };
    let run = |args: &[&str]| {
        let out = gridsync(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let refused = |args: &[&str], why: &str| {
        let out = gridsync(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    };
    run(&[
        "admin",
        "org",
        "create",
        "county",
        "示范县中心",
        "--kind",
        "CENTER",
        "--tier",
        "COUNTY",
        "--area-code",
        "330182000000",
    ]);
    run(&[
        "admin",
        "org",
        "create",
        "town",
        "青溪镇",
        "--kind",
        "CENTER",
        "--tier",
        "TOWNSHIP",
        "--area-code",
        "330182101000",
        "--parent",
        "county",
    ]);
    run(&[
        "admin",
        "org",
        "create",
        "east",
        "东岭村",
        "--kind",
        "VILLAGE",
        "--area-code",
        "330182101201",
        "--parent",
        "town",
    ]);
    refused(
        &[
            "admin",
            "org",
            "create",
            "far",
            "外县村",
            "--kind",
            "VILLAGE",
            "--area-code",
            "330183101201",
            "--parent",
            "town",
        ],
        "inside the parent's area",
    );
    run(&["admin", "org", "rename", "east", "东岭村 (新)"]);
    let tree = run(&["admin", "org", "list"]);
    assert!(
        tree.contains("    east\tVILLAGE\tVILLAGE\t330182101201\t330182101201\t东岭村 (新)"),
        "{tree}"
    );
    let created = run(&[
        "admin",
        "user",
        "create",
        "wang",
        "--role",
        "GRID_WORKER",
        "--org",
        "east",
    ]);
    assert!(created.contains("password (shown once): "), "{created}");
    refused(
        &[
            "admin",
            "user",
            "create",
            "li",
            "--role",
            "GRID_WORKER",
            "--org",
            "town",
        ],
        "belongs to a VILLAGE",
    );
    run(&[
        "admin",
        "user",
        "assign",
        "wang",
        "--role",
        "VILLAGE_MEDIATOR",
    ]);
    assert!(
        run(&["admin", "user", "list", "--org", "town"])
            .contains("wang\tVILLAGE_MEDIATOR\teast\tactive")
    );
    // Dispatch rules from the shell are checked and audited like the API's.
    run(&[
        "admin",
        "add-rule",
        "r1",
        "--center",
        "town",
        "--target",
        "east",
        "--area-prefix",
        "330182101",
    ]);
    refused(
        &[
            "admin",
            "add-rule",
            "r2",
            "--center",
            "town",
            "--target",
            "nowhere",
            "--area-prefix",
            "330182101",
        ],
        "nowhere",
    );
    run(&["admin", "remove-rule", "r1"]);
    run(&["admin", "org", "move", "east", "--parent", "county"]);
    run(&["admin", "user", "disable", "wang"]);
    assert!(run(&["admin", "user", "list"]).contains("DISABLED"));

    let rt = gridsync_tests::runtime();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gridsync.db").display()
    );
    let entries = rt.block_on(async {
        let db = gridsync_server::db::Db::connect(&url).await.unwrap();
        let filter = gridsync_server::audit::Filter {
            limit: Some(100),
            ..Default::default()
        };
        gridsync_server::audit::query(&db, &filter).await.unwrap()
    });
    let mut actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    actions.reverse();
    assert_eq!(
        actions,
        [
            "ORG_CREATED",
            "ORG_CREATED",
            "ORG_CREATED",
            "ORG_RENAMED",
            "USER_CREATED",
            "USER_ROLE_CHANGED",
            "RULE_ADDED",
            "RULE_REMOVED",
            "ORG_MOVED",
            "USER_DISABLED",
        ]
    );
    assert!(entries.iter().all(|e| e.user_id == "OPERATOR"));
}

#[test]
fn an_exported_bundle_verifies_offline_and_a_changed_byte_exits_3_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&["--demo"], dir.path());
    let mut phone = Phone::login(&server.base_url, "wang.grid", "bundle-cli-phone");
    let id = phone.record("证据包 命令行");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    let run = |args: &[&str]| -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // The operator's export (the server's database in the working directory).
    let out = run(&[
        "admin",
        "export-bundle",
        &id.to_string(),
        "--out",
        "case.gsbundle",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["verify", "case.gsbundle"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("VERIFIED"), "{stdout}");
    assert!(
        stdout.contains("signed by device bundle-cli-phone") && stdout.contains("SUBMIT"),
        "{stdout}"
    );
    assert!(stdout.contains("EXPORT by OPERATOR"), "{stdout}");
    let center_key = |stdout: &str| -> String {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("center key "))
            .unwrap();
        line.split(['(', ')']).nth(1).unwrap().to_owned()
    };
    let first_key = center_key(&stdout);

    // The operator rotates the center's key; the next bundle is signed with the new one,
    // the one made before still verifies pinned to the old key.
    let out = run(&["admin", "rotate-signing-key"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("new center signing key"), "{said}");
    let out = run(&[
        "admin",
        "export-bundle",
        &id.to_string(),
        "--out",
        "rotated.gsbundle",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["verify", "rotated.gsbundle"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("VERIFIED"),
        "{stdout}"
    );
    assert_ne!(center_key(&stdout), first_key);
    let out = run(&["verify", "case.gsbundle", "--center-key", &first_key]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The rotation is in the audit log, as the operator's, naming the retired key's id.
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gridsync.db").display()
    );
    let rotations = gridsync_tests::runtime().block_on(async {
        let db = gridsync_server::db::Db::connect(&url).await.unwrap();
        let filter = gridsync_server::audit::Filter {
            action: Some("SIGNING_KEY_ROTATED".into()),
            ..Default::default()
        };
        gridsync_server::audit::query(&db, &filter).await.unwrap()
    });
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].user_id, "OPERATOR");
    assert_eq!(
        rotations[0].detail["retired"],
        serde_json::json!([gridsync_core::signing::key_id(
            &gridsync_core::signing::parse_public_key(&first_key).unwrap()
        )])
    );
    // One byte changed: exit code 3, the place named.
    let path = dir.path().join("case.gsbundle");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 10; // in the last record's signature
    bytes[at] ^= 0x01;
    std::fs::write(dir.path().join("bad.gsbundle"), &bytes).unwrap();
    let out = run(&["verify", "bad.gsbundle"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("NOT VERIFIED") && stderr.contains("record "),
        "{stderr}"
    );
    drop(server);
}
