//! A photo over a 2G link that drops (issue 15, "Must show"): the phone's own client
//! (`gridsync_ffi::FieldClient`) uploads SLOW_KB (default 5,000) KB through a link of
//! SLOW_RATE (default 5,000) bytes per second each way that resets every connection every
//! SLOW_DROP_S (default 30) seconds. Prints the time it took against the time the bytes need
//! at that rate (target ≤ 1.1×), and the bytes that crossed per byte attached.
//!
//! `cargo bench -p gridsync-tests --bench slow_link` (about 17 minutes with the defaults; the
//! link's rate, not the build, sets the time, so the dev profile measures the same:
//! `cargo build -p gridsync-tests --benches` and run `target/debug/deps/slow_link-*`).

use std::time::{Duration, Instant};

use gridsync_ffi::{FieldClient, FieldError, NewCase};
use gridsync_tests::TestServer;
use gridsync_tests::bench::env_or;
use gridsync_tests::link::{Link, LinkProxy};

fn main() {
    let kb: usize = env_or("SLOW_KB", 5_000);
    let rate = env_or("SLOW_RATE", 5_000) as u64;
    let drop_s = env_or("SLOW_DROP_S", 30) as u64;
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let phone = FieldClient::open(
        dir.path().join("phone.db").to_string_lossy().into_owned(),
        "slow-link-phone".into(),
        gridsync_tests::test_key().as_bytes().to_vec(),
    )
    .expect("store");
    phone
        .login(
            server.base_url(),
            "wang.grid".into(),
            gridsync_server::demo::DEMO_PASSWORD.into(),
        )
        .expect("login");
    let case = phone
        .record_case(NewCase {
            title: "毁坏庄稼".into(),
            category: "OTHER".into(),
            ..NewCase::default()
        })
        .expect("record");
    let mut photo = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while photo.len() < kb * 1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        photo.extend_from_slice(&x.to_le_bytes());
    }
    photo.truncate(kb * 1000);
    phone
        .attach_bytes(
            case.clone(),
            photo.clone(),
            "PHOTO".into(),
            "image/jpeg".into(),
            String::new(),
        )
        .expect("attach");
    phone.submit_case(case).expect("submit");
    phone.sync(None).expect("sync");

    let link = LinkProxy::start(
        server.addr,
        Link {
            rate: Some(rate),
            reset_every: Some(Duration::from_secs(drop_s)),
            ..Link::default()
        },
    );
    let start = Instant::now();
    let mut failed_calls = 0u32;
    loop {
        match phone.upload_evidence(Some(link.base_url())) {
            Ok(r) if r.remaining == 0 => break,
            Ok(_) => {}
            Err(FieldError::Network { .. }) => failed_calls += 1,
            Err(e) => panic!("upload: {e}"),
        }
    }
    let took = start.elapsed().as_secs_f64();
    let ideal = photo.len() as f64 / rate as f64;
    let counts = link.counts();
    println!(
        "{} bytes at {rate} B/s, a drop every {drop_s} s: {took:.0} s against {ideal:.0} s for the bytes ({:.3}x); {} resets, {} calls cut off; {} bytes up ({:.3}x), {} down",
        photo.len(),
        took / ideal,
        counts.resets,
        failed_calls,
        counts.up,
        counts.up as f64 / photo.len() as f64,
        counts.down
    );
}
