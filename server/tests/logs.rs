//! Personal data never reaches the logs: the real `gridsync` binary runs a full scenario at
//! debug level (phones record cases with ID numbers, phone numbers and addresses, sync;
//! the center takes them in, searches, reads them unmasked, acts; a department's phone
//! pulls them; bad requests of every kind), and its whole stdout and stderr are searched for
//! every seeded value. A fresh installation's secrets (the first administrator's password,
//! passwords set later, the signing key) never reach them either.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridsync_core::case::{Category, NewCase, PartyInput, PartyRole};
use gridsync_core::protocol::SyncRequest;
use gridsync_tests::{Phone, Staff};
use serde_json::json;

/// ID numbers, phone numbers and addresses seeded into the scenario.
const ID_NUMBERS: [&str; 4] = [
    "330182199001017777",
    "33018219851212999X",
    "330182200203154321",
    "110105196506068888",
];
const PHONES: [&str; 4] = ["13900001111", "15800002222", "18655553333", "13344448888"];
const ADDRESSES: [&str; 3] = [
    "青溪镇东岭村幸福路88号",
    "双河镇河口村桥头巷17号",
    "县城解放路266号3单元",
];

/// `gridsync serve` as a child process, both output streams captured.
struct Server {
    child: Child,
    base_url: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        Self::start_with(dir, &["--demo"])
    }

    fn start_with(dir: &std::path::Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env(
                "RUST_LOG",
                "debug,gridsync=trace,gridsync_server=trace,gridsync_core=trace,tower_http=trace",
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gridsync");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("gridsync listening")
                    && let Some(addr) = line.split("addr=").nth(1)
                {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
                }
                let mut l = lines.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let errors = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                errors
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not start");
        Server {
            child,
            base_url: format!("http://{addr}"),
            log,
        }
    }

    /// Stops the server (SIGTERM through `kill` is not portable here; the log lines are
    /// written as they happen, so killing loses nothing) and returns everything it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(200));
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn party(name: &str, role: PartyRole, id: &str, phone: &str, address: &str) -> PartyInput {
    PartyInput {
        role,
        name: name.into(),
        id_number: id.into(),
        phone: phone.into(),
        address: address.into(),
        ..Default::default()
    }
}

#[test]
fn a_full_scenario_at_debug_level_logs_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let base = server.base_url.clone();

    // A grid worker's phone records two cases with the parties' personal data.
    let mut phone = Phone::login(&base, "wang.grid", "pii-phone");
    let wages = phone
        .store
        .record(&NewCase {
            area_code: "330182101201".into(),
            title: "拖欠工资纠纷".into(),
            summary: "工程款拖欠, 双方同意调解".into(),
            category: Category::LabourWages,
            address: ADDRESSES[0].into(),
            parties: vec![
                party(
                    "张建国",
                    PartyRole::Applicant,
                    ID_NUMBERS[0],
                    PHONES[0],
                    ADDRESSES[0],
                ),
                party(
                    "李包工",
                    PartyRole::Respondent,
                    ID_NUMBERS[1],
                    PHONES[1],
                    ADDRESSES[1],
                ),
            ],
            ..NewCase::default()
        })
        .unwrap();
    phone.store.submit(wages).unwrap();
    let neighbours = phone.record("邻里纠纷");
    phone.store.submit(neighbours).unwrap();
    let report = phone.sync().unwrap();
    assert_eq!(report.unsent_changes, 0);

    // The center: list, search by a phone number and an ID number, read unmasked, act.
    let chen = Staff::login_at(&base, "chen.dispatch");
    assert_eq!(chen.get("/v1/cases").0, 200);
    chen.get(&format!("/v1/cases?text={}", PHONES[0]));
    chen.get(&format!("/v1/cases?text={}", ID_NUMBERS[0]));
    let (status, detail) = chen.get(&format!("/v1/cases/{wages}?unmasked=true"));
    assert_eq!(status, 200);
    assert!(
        detail.to_string().contains(ID_NUMBERS[0]),
        "the API does show it, unmasked, to whom it may"
    );
    let (status, _) = chen.act(&wages.to_string(), "ACCEPT", json!({}));
    assert_eq!(status, 200);
    let (status, _) = chen.act(
        &wages.to_string(),
        "DISPATCH",
        json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" }),
    );
    assert_eq!(status, 200);
    // One-stop intake at the center, with personal data, and a refused one.
    let (status, _) = chen.post(
        "/v1/cases",
        &json!({
            "area_code": "330182102203",
            "title": "来访登记",
            "category": "NEIGHBOUR",
            "address": ADDRESSES[2],
            "parties": [{ "name": "王来访", "id_number": ID_NUMBERS[2], "phone": PHONES[2], "address": ADDRESSES[2] }],
        }),
    );
    assert!(status < 500, "{status}");
    chen.post(
        "/v1/cases",
        &json!({ "area_code": "999999999999", "title": "", "parties": [{ "id_number": ID_NUMBERS[3], "phone": PHONES[3] }] }),
    );
    chen.get("/v1/cases.csv");
    chen.get("/v1/export/gbt31000.csv");

    // The labour department's phone pulls the dispatched case, personal data included.
    let mut labour = Phone::login(&base, "liu.labour", "pii-labour");
    let r = labour.sync().unwrap();
    assert!(r.new_cases.contains(&wages));

    // Bad requests carrying personal data: a phone number and an ID number typed as the
    // username, wrong passwords until the throttle answers, a bad token, hostile bodies.
    for username in [PHONES[3], ID_NUMBERS[3]] {
        for _ in 0..6 {
            let _ = gridsync_tests::agent()
                .post(&format!("{base}/v1/auth/login"))
                .send_json(json!({ "username": username, "password": PHONES[2] }));
        }
    }
    let _ = gridsync_tests::agent()
        .post(&format!("{base}/v1/auth/login"))
        .header("Content-Type", "application/json")
        .send(
            format!(
                r#"{{"username": {}, "password": "{}"}}"#,
                &ID_NUMBERS[2][..17],
                PHONES[1]
            )
            .as_bytes(),
        );
    let _ = gridsync_tests::agent()
        .get(&format!("{base}/v1/cases?text={}", ADDRESSES[1]))
        .header("Authorization", "Bearer not-a-token")
        .call();
    let _ = phone.post_sync(b"\xff not cbor".to_vec());
    let _ = phone.post_sync(SyncRequest::new("pii-other", 0, 1).to_body());
    // A party edit from the phone and another sync.
    phone
        .store
        .add_note(
            wages,
            gridsync_core::case::NoteKind::PhoneCall,
            "电话回访, 当事人电话已核实",
        )
        .unwrap();
    phone.sync().unwrap();

    let logs = server.stop();

    // Not vacuous: the logs are at debug level and hold the scenario's requests.
    assert!(logs.lines().count() > 50, "too few log lines:\n{logs}");
    for expected in [
        "DEBUG",
        "/v1/auth/login",
        "/v1/sync",
        "/v1/cases",
        "pushed_cases",
        "gridsync listening",
    ] {
        assert!(logs.contains(expected), "{expected:?} is not in the logs");
    }
    let mut leaks = Vec::new();
    for needle in ID_NUMBERS
        .iter()
        .chain(&PHONES)
        .chain(&ADDRESSES)
        .map(|s| s.to_string())
    {
        for line in logs.lines().filter(|l| l.contains(&needle)) {
            leaks.push(format!("{needle}: {line}"));
        }
        // Also percent-encoded (URLs).
        let encoded: String = needle
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        if encoded != needle {
            for line in logs.lines().filter(|l| l.contains(&encoded)) {
                leaks.push(format!("{needle} (encoded): {line}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "personal data in the logs:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn passwords_and_signing_keys_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    // A fresh installation, output piped (not a terminal), as under a service manager.
    let server = Server::start_with(dir.path(), &["--admin-password-file", "first-password"]);
    let base = server.base_url.clone();
    let first = std::fs::read_to_string(dir.path().join("first-password"))
        .unwrap()
        .trim()
        .to_owned();
    let agent = gridsync_tests::agent();
    let login = |username: &str, password: &str| -> (u16, serde_json::Value) {
        let mut r = agent
            .post(&format!("{base}/v1/auth/login"))
            .send_json(json!({ "username": username, "password": password }))
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or_default(),
        )
    };
    let (status, admin) = login("admin", &first);
    assert_eq!(status, 200, "{admin}");
    let token = admin["access_token"].as_str().unwrap().to_owned();
    // The administrator changes their password, a wrong old one first.
    let change = |old: &str, new: &str| {
        agent
            .post(&format!("{base}/v1/users/u-admin/password"))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(json!({ "old_password": old, "new_password": new }))
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(change("a-wrong-old-password", "second-admin-password"), 403);
    assert_eq!(change(&first, "second-admin-password"), 204);
    assert_eq!(login("admin", "second-admin-password").0, 200);
    assert_eq!(login("admin", "a-guessed-password").0, 401);
    let key: String = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            sqlx::any::install_default_drivers();
            let url = format!("sqlite://{}", dir.path().join("gridsync.db").display());
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            let key = sqlx::query_scalar("SELECT secret FROM jwt_keys")
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            key
        })
    };
    let logs = server.stop();
    assert!(
        logs.contains("first-password"),
        "the log names the file:\n{logs}"
    );
    assert!(logs.contains("/v1/users/u-admin/password"), "{logs}");
    for secret in [
        first.as_str(),
        "second-admin-password",
        "a-wrong-old-password",
        "a-guessed-password",
        key.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret in the logs: {secret}\n{logs}"
        );
    }
}
