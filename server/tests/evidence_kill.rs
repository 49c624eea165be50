//! `gridsync serve` killed (SIGKILL) in the middle of an evidence upload, restarted on the
//! same database and evidence directory: the phone asks `HEAD` where to resume, sends the
//! rest, and the blob arrives whole with the right sha256. Only the chunk in flight at the
//! kill is sent twice.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gridsync_core::case::{AttachmentKind, AttachmentRef};
use gridsync_tests::Phone;
use sha2::{Digest, Sha256};

/// Any secret: the phone's token must outlive the restart.
const JWT_SECRET: &str = "test-secret-0123456789";
const CHUNK: usize = 256 << 10;

fn start(db_url: &str, port: u16, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("server log");
    Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database-url", db_url, "--jwt-secret", JWT_SECRET])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn gridsync")
}

fn wait_ready(child: &mut Child, port: u16) {
    let agent = gridsync_tests::agent();
    let started = Instant::now();
    loop {
        if let Ok(r) = agent.get(&format!("http://127.0.0.1:{port}/readyz")).call()
            && r.status() == 200
        {
            return;
        }
        if let Some(exit) = child.try_wait().expect("wait") {
            panic!("the server exited on start: {exit:?}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

fn patch(base: &str, token: &str, path: &str, offset: usize, body: &[u8]) -> (u16, Option<u64>) {
    let r = gridsync_tests::agent()
        .patch(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", &offset.to_string())
        .send(body)
        .expect("PATCH");
    let offset = r
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (r.status().as_u16(), offset)
}

#[test]
fn an_upload_resumes_after_the_server_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("center.db").display()
    );
    let log = dir.path().join("server.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&db_url, port, &log);
    wait_ready(&mut server, port);

    let mut phone = Phone::login(&base, "wang.grid", "kill-evidence");
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..1_500_000_u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let case = phone.record("被杀的上传");
    phone
        .store
        .add_attachment(
            case,
            &AttachmentRef {
                id: String::new(),
                sha256: sha256.clone(),
                kind: AttachmentKind::Document,
                size: bytes.len() as u64,
                mime: "application/pdf".into(),
                caption: String::new(),
            },
        )
        .expect("attach");
    phone.sync().expect("sync");
    let path = format!("/v1/cases/{case}/attachments/{sha256}");
    let token = phone.access_token.clone();

    // Two chunks are durable; the third is in flight when the server is killed.
    assert_eq!(
        patch(&base, &token, &path, 0, &bytes[..CHUNK]),
        (204, Some(CHUNK as u64))
    );
    let two = 2 * CHUNK;
    assert_eq!(
        patch(&base, &token, &path, CHUNK, &bytes[CHUNK..two]),
        (204, Some(two as u64))
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {two}\r\n\
         Content-Length: {CHUNK}\r\n\r\n"
    )
    .expect("write");
    s.write_all(&bytes[two..two + CHUNK / 2]).expect("write");
    s.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    drop(s);

    let mut server = start(&db_url, port, &log);
    wait_ready(&mut server, port);
    let head = gridsync_tests::agent()
        .head(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("HEAD");
    let offset: usize = head
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .expect("Upload-Offset");
    assert_eq!(
        offset, two,
        "the durable chunks survived; the cut one did not"
    );
    let mut at = offset;
    let mut last = (0, None);
    while at < bytes.len() {
        let end = (at + CHUNK).min(bytes.len());
        last = patch(&base, &token, &path, at, &bytes[at..end]);
        assert_eq!(last.0, 204);
        at = end;
    }
    assert_eq!(last.1, Some(bytes.len() as u64));
    let mut got = gridsync_tests::agent()
        .get(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("GET");
    assert_eq!(got.status(), 200);
    let body = got
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .expect("body");
    assert_eq!(hex::encode(Sha256::digest(&body)), sha256);
    server.kill().expect("kill");
    server.wait().expect("reaped");
}
