//! The edge against clients that hold connections or memory: header, body and idle
//! timeouts on real sockets, `/v1/sync` answering strangers before their bodies, and the cap
//! on sync bodies being read at once.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gridsync_core::protocol::SyncRequest;
use gridsync_tests::{Phone, TestServer};

use crate::hardening::Custom;

/// A server with short connection timeouts (the defaults are tens of seconds).
fn impatient() -> Custom {
    Custom::start_with(
        std::sync::Arc::new(gridsync_core::clock::SystemClock),
        Some("test-secret-0123456789"),
        |l| {
            l.timeouts.header = Duration::from_secs(1);
            l.timeouts.body = Duration::from_secs(1);
            l.timeouts.idle = Duration::from_secs(2);
        },
    )
}

fn connect(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    // Far longer than any timeout under test: hitting it means the server held on.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// Everything the server sends until it closes the connection; `Err` if it never does.
fn until_closed(s: &mut TcpStream) -> Result<String, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            Err(e) => return Err(format!("still open: {e}")),
        }
    }
}

/// One response: the head (status line and headers, lowercased) and the body.
fn response(s: &mut TcpStream) -> (String, String) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            while out.len() < end + 4 + length {
                let n = s.read(&mut buf).expect("the rest of the body");
                assert!(n > 0, "closed mid-body");
                out.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8_lossy(&out[end + 4..end + 4 + length]).into_owned();
            return (head, body);
        }
        let n = s.read(&mut buf).expect("a response");
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn clients_that_stall_in_a_header_or_sit_idle_are_disconnected() {
    let server = impatient();
    // Half a header, then nothing.
    let mut half = connect(
        server.addr,
        b"POST /v1/auth/login HTTP/1.1\r\nHost: center\r\nContent-Le",
    );
    // Nothing at all.
    let mut silent = connect(server.addr, b"");
    // A whole request on a kept-alive connection, then nothing.
    let mut idle = connect(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: center\r\n\r\n",
    );
    let (head, body) = response(&mut idle);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.contains("\"ok\""), "{body}");

    for (what, s) in [
        ("half header", &mut half),
        ("silent", &mut silent),
        ("idle", &mut idle),
    ] {
        let sent = until_closed(s).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
            "{what}: {sent}"
        );
    }
    // The server serves on.
    let mut fresh = connect(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: center\r\n\r\n",
    );
    assert!(response(&mut fresh).0.starts_with("http/1.1 200"));
}

#[test]
fn a_stalled_body_gets_408_and_a_slow_steady_one_is_served() {
    let server = impatient();
    let mut stalled = connect(
        server.addr,
        b"POST /v1/auth/login HTTP/1.1\r\nHost: center\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"username\":",
    );
    let sent = until_closed(&mut stalled).expect("disconnected");
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("\"body_timeout\""), "{sent}");
    assert!(sent.to_lowercase().contains("connection: close"), "{sent}");

    // 10 KB at about 2 KB/s: over the 1 s base, but each 500 bytes earn a second more.
    let json = format!(
        "{{\"username\":\"wang.grid\",\"password\":\"wrong-password\"{}}}",
        " ".repeat(10_000)
    );
    let mut slow = connect(
        server.addr,
        format!(
            "POST /v1/auth/login HTTP/1.1\r\nHost: center\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            json.len()
        )
        .as_bytes(),
    );
    let started = Instant::now();
    for chunk in json.as_bytes().chunks(1000) {
        std::thread::sleep(Duration::from_millis(500));
        slow.write_all(chunk).unwrap();
    }
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the test sent slowly"
    );
    let (head, body) = response(&mut slow);
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(body.contains("invalid_credentials"), "{body}");
}

#[test]
fn a_sync_from_a_stranger_is_refused_before_its_body_is_read() {
    let server = TestServer::start();
    for (authorization, code) in [
        ("Authorization: Bearer not-a-token\r\n", "invalid_token"),
        ("", "missing_token"),
    ] {
        // Sixteen MiB announced, none sent: the answer cannot have waited for them.
        let mut s = connect(
            server.addr,
            format!(
                "POST /v1/sync HTTP/1.1\r\nHost: center\r\n{authorization}\
                 Content-Type: application/cbor\r\nContent-Length: 16777216\r\n\r\n"
            )
            .as_bytes(),
        );
        let (head, body) = response(&mut s);
        assert!(head.starts_with("http/1.1 401"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(body.contains(code), "{body}");
        assert_eq!(server.state.sync_bodies.in_flight(), 0, "nothing reserved");
    }
}

#[test]
fn sync_bodies_past_the_cap_in_flight_are_told_to_come_back() {
    let server = Custom::start_with(
        std::sync::Arc::new(gridsync_core::clock::SystemClock),
        Some("test-secret-0123456789"),
        |l| l.sync_bodies_in_flight = 1 << 20,
    );
    let mut phone = Phone::login(&server.base, "wang.grid", "cap-1");
    let request = |length: usize| {
        format!(
            "POST /v1/sync HTTP/1.1\r\nHost: center\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/cbor\r\nContent-Length: {length}\r\n\r\n",
            phone.access_token
        )
    };
    // A signed-in phone uploading 900 KB slowly holds 900 KB of the 1 MiB.
    let mut slow = connect(server.addr, request(900_000).as_bytes());
    slow.write_all(&[0u8; 10_000]).unwrap();
    let waited = Instant::now();
    while server.state.sync_bodies.in_flight() < 900_000 {
        assert!(waited.elapsed() < Duration::from_secs(20), "never reserved");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another 200 KB do not fit: 503 with Retry-After, before the body is sent.
    let mut busy = connect(server.addr, request(200_000).as_bytes());
    let (head, body) = response(&mut busy);
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after: 2"), "{head}");
    assert!(body.contains("\"busy\""), "{body}");
    // A small sync still fits beside the slow one.
    phone.record("小同步");
    phone.sync().unwrap();
    // The slow upload gives up: its bytes are released, and syncs go on.
    drop(slow);
    while server.state.sync_bodies.in_flight() > 0 {
        assert!(waited.elapsed() < Duration::from_secs(20), "never released");
        std::thread::sleep(Duration::from_millis(20));
    }
    let body = SyncRequest::new(phone.device_id.clone(), 0, 1 << 20).to_body();
    phone.post_sync(body).unwrap();
}
