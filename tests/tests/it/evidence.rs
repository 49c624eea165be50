//! Evidence (issue 15), the center's side: resumable, content-addressed upload over real
//! HTTP, download with `Range`, thumbnails, scope, limits, sniffing and the collector; every
//! test runs against the local-directory store and against a real S3-compatible server
//! (`moto_server`, skipped with a notice only where it is absent and `GRIDSYNC_REQUIRE_S3`
//! is unset).

use std::io::{Read, Write};
use std::sync::Arc;

use futures_util::StreamExt;
use gridsync_core::case::{AttachmentKind, AttachmentRef, CaseId};
use gridsync_core::clock::{Clock, ManualClock, SystemClock};
use gridsync_server::EvidenceConfig;
use gridsync_server::evidence::Limits;
use gridsync_tests::moto::Moto;
use gridsync_tests::{Phone, Staff, TestServer, agent};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug)]
enum Store {
    Local,
    S3,
}

/// A server over a fresh database with its evidence in the store asked for.
struct Env {
    server: TestServer,
    _moto: Option<Moto>,
}

fn start(store: Store, limits: Limits, clock: Arc<dyn Clock>) -> Option<Env> {
    let (moto, location) = match store {
        Store::Local => (None, None),
        Store::S3 => {
            let moto = Moto::start()?;
            let location = moto.bucket("evidence-test");
            (Some(moto), Some(location))
        }
    };
    let server = TestServer::start_with_evidence(
        clock,
        EvidenceConfig {
            location,
            limits,
            collect_every: None,
        },
    );
    Some(Env {
        server,
        _moto: moto,
    })
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Pseudo-random bytes behind a PDF header (sniffed as a document).
fn document(len: usize, seed: u8) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x as u8);
    }
    out.truncate(len);
    out
}

/// Records the attachment in the case and syncs the reference to the center.
fn attach(phone: &mut Phone, case: CaseId, sha256: &str, size: u64, kind: AttachmentKind) {
    phone
        .store
        .add_attachment(
            case,
            &AttachmentRef {
                id: String::new(),
                sha256: sha256.to_owned(),
                kind,
                size,
                mime: "application/pdf".into(),
                caption: "证据".into(),
            },
        )
        .expect("attach");
    phone.sync().expect("sync");
}

/// A case of `phone`'s with one attachment of `bytes`, synced: (case, sha256).
fn case_with(phone: &mut Phone, bytes: &[u8], kind: AttachmentKind) -> (CaseId, String) {
    let case = phone.record("证据案件");
    let sha256 = sha(bytes);
    attach(phone, case, &sha256, bytes.len() as u64, kind);
    (case, sha256)
}

#[derive(Debug)]
struct Answer {
    status: u16,
    code: String,
    offset: Option<u64>,
    length: Option<u64>,
    complete: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn answer_of(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let num = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    let offset = num("upload-offset");
    let length = num("upload-length");
    let complete = r
        .headers()
        .get("upload-complete")
        .is_some_and(|v| v == "?1");
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Answer {
        status: r.status().as_u16(),
        code,
        offset,
        length,
        complete,
        headers,
        body,
    }
}

fn path(case: &str, sha256: &str) -> String {
    format!("/v1/cases/{case}/attachments/{sha256}")
}

fn head(server: &TestServer, token: &str, case: &str, sha256: &str) -> Answer {
    answer_of(
        agent()
            .head(&server.url(&path(case, sha256)))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("HEAD"),
    )
}

fn patch(
    server: &TestServer,
    token: &str,
    case: &str,
    sha256: &str,
    offset: u64,
    bytes: &[u8],
) -> Answer {
    answer_of(
        agent()
            .patch(&server.url(&path(case, sha256)))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", &offset.to_string())
            .send(bytes)
            .expect("PATCH"),
    )
}

fn get(server: &TestServer, token: &str, path: &str, range: Option<&str>) -> Answer {
    let mut req = agent()
        .get(&server.url(path))
        .header("Authorization", &format!("Bearer {token}"));
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    answer_of(req.call().expect("GET"))
}

/// Uploads `bytes` whole in chunks of `chunk` bytes; the last answer.
fn upload(
    server: &TestServer,
    token: &str,
    case: &str,
    sha256: &str,
    bytes: &[u8],
    chunk: usize,
) -> Answer {
    let mut at = 0;
    loop {
        let end = (at + chunk).min(bytes.len());
        let a = patch(server, token, case, sha256, at as u64, &bytes[at..end]);
        if a.status != 204 || end == bytes.len() {
            return a;
        }
        assert_eq!(a.offset, Some(end as u64));
        at = end;
    }
}

/// The store's object keys under `prefix`.
fn objects(server: &TestServer, prefix: &str) -> Vec<String> {
    let store = server.state.evidence.store().clone();
    let prefix = object_store::path::Path::from(prefix);
    server.block_on(async move {
        store
            .list(Some(&prefix))
            .map(|m| m.expect("list").location.to_string())
            .collect::<Vec<_>>()
            .await
    })
}

/// A PATCH whose body breaks off: the header promises `promised` bytes, `sent` arrive,
/// then the connection closes.
fn cut_off_patch(
    server: &TestServer,
    token: &str,
    case: &str,
    sha256: &str,
    offset: u64,
    sent: &[u8],
    promised: usize,
) {
    let mut s = stalled_patch(server, token, case, sha256, offset, sent, promised);
    s.shutdown(std::net::Shutdown::Both).ok();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
}

/// A PATCH whose link went silent: the header promises `promised` bytes, `sent` arrive,
/// and the connection stays open (the center sees no close, as on a dropped radio link).
fn stalled_patch(
    server: &TestServer,
    token: &str,
    case: &str,
    sha256: &str,
    offset: u64,
    sent: &[u8],
    promised: usize,
) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
         Content-Length: {promised}\r\n\r\n",
        path(case, sha256)
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(sent).expect("write");
    s.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(200));
    s
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod local {
            $( #[test] fn $name() { super::$name(super::Store::Local) } )*
        }
        mod s3 {
            $( #[test] fn $name() { super::$name(super::Store::S3) } )*
        }
    };
}

on_both_stores!(
    chunks_resume_and_download_with_ranges,
    a_wrong_hash_discards_the_upload,
    the_same_bytes_are_stored_once,
    outside_the_scope_every_endpoint_is_404,
    a_hostile_phone_gets_nothing_it_may_not_see,
    limits_answer_with_their_codes,
    executables_and_archives_are_refused,
    a_photo_gets_a_thumbnail_and_stays_unaltered,
    the_collector_discards_idle_and_revoked_uploads,
    a_5_mb_photo_crosses_a_link_that_drops_every_256_kb,
    an_upload_costs_at_most_2_percent_over_its_bytes_on_the_wire,
);

fn chunks_resume_and_download_with_ranges(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let bytes = document(300_000, 1);
    let (case, sha256) = case_with(&mut phone, &bytes, AttachmentKind::Document);
    let (c, t) = (case.to_string(), phone.access_token.clone());

    let h = head(server, &t, &c, &sha256);
    assert_eq!(
        (h.status, h.offset, h.length, h.complete),
        (200, Some(0), Some(300_000), false)
    );

    let a = patch(server, &t, &c, &sha256, 0, &bytes[..100_000]);
    assert_eq!(
        (a.status, a.offset, a.complete),
        (204, Some(100_000), false)
    );
    // Not downloadable while incomplete, and the case says so.
    assert_eq!(get(server, &t, &path(&c, &sha256), None).status, 404);
    let staff = Staff::login(server, "chen.dispatch");
    let stored = |staff: &Staff| {
        let (status, detail) = staff.get(&format!("/v1/cases/{c}"));
        assert_eq!(status, 200);
        detail["case"]["attachments"][0]["stored"].as_bool()
    };
    assert_eq!(stored(&staff), Some(false));
    // A resent chunk (its answer was lost) is told where the center is.
    let a = patch(server, &t, &c, &sha256, 0, &bytes[..100_000]);
    assert_eq!(
        (a.status, a.code.as_str(), a.offset),
        (409, "offset_mismatch", Some(100_000))
    );

    // A chunk cut off mid-body keeps what arrived: the phone goes on from there and
    // resends nothing that crossed the link.
    cut_off_patch(
        server,
        &t,
        &c,
        &sha256,
        100_000,
        &bytes[100_000..150_000],
        100_000,
    );
    let h = head(server, &t, &c, &sha256);
    assert_eq!((h.offset, h.complete), (Some(150_000), false));
    // A few bytes cut off are not worth an object: not kept.
    cut_off_patch(
        server,
        &t,
        &c,
        &sha256,
        150_000,
        &bytes[150_000..151_000],
        50_000,
    );
    let h = head(server, &t, &c, &sha256);
    assert_eq!((h.offset, h.complete), (Some(150_000), false));
    // A PATCH whose link went silent: the phone's next request makes it hand over what
    // arrived, so the answer counts those bytes too.
    let silent = stalled_patch(
        server,
        &t,
        &c,
        &sha256,
        150_000,
        &bytes[150_000..170_000],
        50_000,
    );
    let h = head(server, &t, &c, &sha256);
    assert_eq!((h.offset, h.complete), (Some(170_000), false));
    drop(silent);
    assert!(
        objects(server, "uploads").len() == 3,
        "the answered chunk and the two kept parts: {:?}",
        objects(server, "uploads")
    );

    let a = patch(server, &t, &c, &sha256, 170_000, &bytes[170_000..200_000]);
    assert_eq!((a.status, a.offset), (204, Some(200_000)));
    let a = patch(server, &t, &c, &sha256, 200_000, &bytes[200_000..]);
    assert_eq!(
        (a.status, a.offset, a.length, a.complete),
        (204, Some(300_000), Some(300_000), true)
    );
    let h = head(server, &t, &c, &sha256);
    assert_eq!(
        (h.status, h.offset, h.length, h.complete),
        (200, Some(300_000), Some(300_000), true)
    );
    // The last chunk resent after completion: told it is complete.
    let a = patch(server, &t, &c, &sha256, 200_000, &bytes[200_000..]);
    assert_eq!((a.status, a.offset, a.complete), (409, Some(300_000), true));
    assert_eq!(objects(server, "uploads"), Vec::<String>::new());
    assert_eq!(objects(server, "blobs"), vec![format!("blobs/{sha256}")]);
    assert_eq!(stored(&staff), Some(true));

    let whole = get(server, &t, &path(&c, &sha256), None);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("content-type"), Some("application/pdf"));
    assert_eq!(whole.header("etag"), Some(format!("\"{sha256}\"").as_str()));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    // The copy a phone or browser already holds is not sent again.
    let again = answer_of(
        agent()
            .get(&server.url(&path(&c, &sha256)))
            .header("Authorization", &format!("Bearer {t}"))
            .header("If-None-Match", &format!("W/\"other\", \"{sha256}\""))
            .call()
            .expect("GET"),
    );
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), whole.header("etag"));
    let other = answer_of(
        agent()
            .get(&server.url(&path(&c, &sha256)))
            .header("Authorization", &format!("Bearer {t}"))
            .header("If-None-Match", "\"0000\"")
            .call()
            .expect("GET"),
    );
    assert_eq!((other.status, other.body.len()), (200, 300_000));

    let part = get(server, &t, &path(&c, &sha256), Some("bytes=1000-1999"));
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &bytes[1000..2000]);
    assert_eq!(part.header("content-range"), Some("bytes 1000-1999/300000"));
    let tail = get(server, &t, &path(&c, &sha256), Some("bytes=-10"));
    assert_eq!(
        (tail.status, tail.body.as_slice()),
        (206, &bytes[299_990..])
    );
    let rest = get(server, &t, &path(&c, &sha256), Some("bytes=299000-"));
    assert_eq!(
        (rest.status, rest.body.as_slice()),
        (206, &bytes[299_000..])
    );
    let bad = get(server, &t, &path(&c, &sha256), Some("bytes=300000-"));
    assert_eq!(
        (bad.status, bad.code.as_str()),
        (416, "range_not_satisfiable")
    );
    assert_eq!(bad.header("content-range"), Some("bytes */300000"));

    // The county dispatcher (a console user) reads it too.
    let by_staff = get(server, &staff.token, &path(&c, &sha256), None);
    assert_eq!((by_staff.status, by_staff.body.len()), (200, 300_000));
}

fn a_wrong_hash_discards_the_upload(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let real = document(50_000, 2);
    let (case, sha256) = case_with(&mut phone, &real, AttachmentKind::Document);
    let (c, t) = (case.to_string(), phone.access_token.clone());
    let forged = document(50_000, 3);
    let a = upload(server, &t, &c, &sha256, &forged, 20_000);
    assert_eq!((a.status, a.code.as_str()), (422, "hash_mismatch"));
    let h = head(server, &t, &c, &sha256);
    assert_eq!((h.offset, h.complete), (Some(0), false));
    assert_eq!(objects(server, "uploads"), Vec::<String>::new());
    assert_eq!(objects(server, "blobs"), Vec::<String>::new());
    // The real bytes then go through.
    let a = upload(server, &t, &c, &sha256, &real, 20_000);
    assert_eq!((a.status, a.complete), (204, true));
}

fn the_same_bytes_are_stored_once(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let bytes = document(80_000, 4);
    let mut wang = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let (c1, sha256) = case_with(&mut wang, &bytes, AttachmentKind::Document);
    let a = upload(
        server,
        &wang.access_token,
        &c1.to_string(),
        &sha256,
        &bytes,
        30_000,
    );
    assert!(a.complete);

    // The village's mediator attaches the same file to a case of his: his scope already
    // holds it, so the center says complete at once.
    let mut li = Phone::login(&server.base_url(), "li.mediator", "ev-li");
    let (c2, _) = case_with(&mut li, &bytes, AttachmentKind::Document);
    let h = head(server, &li.access_token, &c2.to_string(), &sha256);
    assert_eq!((h.status, h.offset, h.complete), (200, Some(80_000), true));
    let got = get(
        server,
        &li.access_token,
        &path(&c2.to_string(), &sha256),
        None,
    );
    assert_eq!(got.body, bytes);

    // Another village's grid worker with the same file must send the bytes (knowing the
    // hash is not having them), but they are still stored once.
    let mut zhao = Phone::login(&server.base_url(), "zhao.grid", "ev-zhao");
    let (c3, _) = case_with(&mut zhao, &bytes, AttachmentKind::Document);
    let h = head(server, &zhao.access_token, &c3.to_string(), &sha256);
    assert_eq!((h.offset, h.complete), (Some(0), false));
    let a = upload(
        server,
        &zhao.access_token,
        &c3.to_string(),
        &sha256,
        &bytes,
        50_000,
    );
    assert!(a.complete);
    assert_eq!(objects(server, "blobs"), vec![format!("blobs/{sha256}")]);
    assert_eq!(objects(server, "uploads"), Vec::<String>::new());
}

fn outside_the_scope_every_endpoint_is_404(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut wang = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let bytes = document(10_000, 5);
    let (case, sha256) = case_with(&mut wang, &bytes, AttachmentKind::Photo);
    let c = case.to_string();
    assert!(upload(server, &wang.access_token, &c, &sha256, &bytes, 10_000).complete);

    // Another village's grid worker (a device) and a department not handling the case (a
    // console user): every endpoint answers as for a case that does not exist.
    let zhao = Phone::login(&server.base_url(), "zhao.grid", "ev-zhao");
    let labour = Staff::login(server, "liu.labour");
    let missing = CaseId::new_random().to_string();
    for (token, case) in [
        (zhao.access_token.as_str(), c.as_str()),
        (labour.token.as_str(), c.as_str()),
        (wang.access_token.as_str(), missing.as_str()),
    ] {
        let h = head(server, token, case, &sha256);
        assert_eq!(h.status, 404, "HEAD");
        assert!(h.offset.is_none());
        let p = patch(server, token, case, &sha256, 0, &bytes);
        assert_eq!((p.status, p.code.as_str()), (404, "attachment_not_found"));
        let g = get(server, token, &path(case, &sha256), None);
        assert_eq!((g.status, g.code.as_str()), (404, "attachment_not_found"));
        // Knowing the ETag (the hash) is no way in either.
        let cached = answer_of(
            agent()
                .get(&server.url(&path(case, &sha256)))
                .header("Authorization", &format!("Bearer {token}"))
                .header("If-None-Match", &format!("\"{sha256}\""))
                .call()
                .expect("GET"),
        );
        assert_eq!(cached.status, 404, "If-None-Match outside the scope");
        let th = get(
            server,
            token,
            &format!("{}/thumbnail", path(case, &sha256)),
            None,
        );
        assert_eq!((th.status, th.code.as_str()), (404, "attachment_not_found"));
    }
    // A hash the case does not name: the same 404.
    let other = sha(b"other");
    let g = get(server, &wang.access_token, &path(&c, &other), None);
    assert_eq!((g.status, g.code.as_str()), (404, "attachment_not_found"));
    // The county's dispatcher (console) sees it.
    let chen = Staff::login(server, "chen.dispatch");
    assert_eq!(
        get(server, &chen.token, &path(&c, &sha256), None).body,
        bytes
    );
}

fn a_hostile_phone_gets_nothing_it_may_not_see(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut wang = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let secret = document(40_000, 6);
    let (case, sha256) = case_with(&mut wang, &secret, AttachmentKind::Photo);
    assert!(
        upload(
            server,
            &wang.access_token,
            &case.to_string(),
            &sha256,
            &secret,
            40_000
        )
        .complete
    );

    // Another village's phone names that hash in a case of its own, with the right size.
    let mut zhao = Phone::login(&server.base_url(), "zhao.grid", "ev-zhao");
    let own = zhao.record("伪造");
    attach(
        &mut zhao,
        own,
        &sha256,
        secret.len() as u64,
        AttachmentKind::Photo,
    );
    let (o, t) = (own.to_string(), zhao.access_token.clone());
    let h = head(server, &t, &o, &sha256);
    assert_eq!((h.offset, h.complete), (Some(0), false));
    assert_eq!(get(server, &t, &path(&o, &sha256), None).status, 404);
    assert_eq!(
        get(
            server,
            &t,
            &format!("{}/thumbnail", path(&o, &sha256)),
            None
        )
        .status,
        404
    );
    // Its own bytes under that name are refused.
    let a = upload(server, &t, &o, &sha256, &document(40_000, 7), 40_000);
    assert_eq!((a.status, a.code.as_str()), (422, "hash_mismatch"));

    // Lying about the size: too small (the body goes past it), then too large (never
    // complete, never served).
    let small = zhao.record("伪造 2");
    attach(&mut zhao, small, &sha256, 100, AttachmentKind::Photo);
    let s = small.to_string();
    let a = patch(server, &t, &s, &sha256, 0, &secret[..1000]);
    assert_eq!((a.status, a.code.as_str()), (413, "too_large"));
    let a = patch(server, &t, &s, &sha256, 0, &secret[..100]);
    assert_eq!((a.status, a.code.as_str()), (422, "hash_mismatch"));
    let big = zhao.record("伪造 3");
    attach(&mut zhao, big, &sha256, 50_000, AttachmentKind::Photo);
    let b = big.to_string();
    let a = patch(server, &t, &b, &sha256, 0, &secret);
    assert_eq!((a.status, a.offset, a.complete), (204, Some(40_000), false));
    assert_eq!(get(server, &t, &path(&b, &sha256), None).status, 404);
    // wang's blob is untouched.
    assert_eq!(
        get(
            server,
            &wang.access_token,
            &path(&case.to_string(), &sha256),
            None
        )
        .body,
        secret
    );
}

fn limits_answer_with_their_codes(store: Store) {
    let limits = Limits {
        per_file: 1_000,
        per_case: 1_500,
        per_device_day: 2_500,
        ..Limits::default()
    };
    let Some(env) = start(store, limits, Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let t = phone.access_token.clone();
    let big = document(2_000, 8);
    let (c, s) = case_with(&mut phone, &big, AttachmentKind::Document);
    let a = patch(server, &t, &c.to_string(), &s, 0, &big);
    assert_eq!((a.status, a.code.as_str()), (413, "too_large"));

    // Per case: 800 fits, a second 800 would pass 1,500.
    let one = document(800, 9);
    let (c, s1) = case_with(&mut phone, &one, AttachmentKind::Document);
    assert!(patch(server, &t, &c.to_string(), &s1, 0, &one).complete);
    let two = document(800, 10);
    let s2 = sha(&two);
    attach(&mut phone, c, &s2, 800, AttachmentKind::Document);
    let a = patch(server, &t, &c.to_string(), &s2, 0, &two);
    assert_eq!((a.status, a.code.as_str()), (413, "too_large"));

    // Per device and day: 800 uploaded, 900 more, then the next 900 passes 2,500.
    let three = document(900, 11);
    let (c, s3) = case_with(&mut phone, &three, AttachmentKind::Document);
    assert!(patch(server, &t, &c.to_string(), &s3, 0, &three).complete);
    let four = document(900, 12);
    let (c, s4) = case_with(&mut phone, &four, AttachmentKind::Document);
    let a = patch(server, &t, &c.to_string(), &s4, 0, &four);
    assert_eq!((a.status, a.code.as_str()), (429, "quota_exceeded"));
    let h = head(server, &t, &c.to_string(), &s4);
    assert_eq!(h.offset, Some(0));
}

fn executables_and_archives_are_refused(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let t = phone.access_token.clone();
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.resize(4_000, 7);
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00".to_vec();
    zip.resize(4_000, 9);
    for bytes in [exe, zip] {
        let (c, s) = case_with(&mut phone, &bytes, AttachmentKind::Document);
        let a = patch(server, &t, &c.to_string(), &s, 0, &bytes[..2_000]);
        assert_eq!((a.status, a.code.as_str()), (415, "unsupported_media"));
        assert_eq!(head(server, &t, &c.to_string(), &s).offset, Some(0));
    }
    assert_eq!(objects(server, ""), Vec::<String>::new());
}

fn a_photo_gets_a_thumbnail_and_stays_unaltered(store: Store) {
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let t = phone.access_token.clone();
    let img = image::RgbImage::from_fn(800, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .expect("encode");
    let (c, s) = case_with(&mut phone, &jpeg, AttachmentKind::Photo);
    let c = c.to_string();
    let thumb_path = format!("{}/thumbnail", path(&c, &s));
    // Not before the photo is whole.
    assert_eq!(get(server, &t, &thumb_path, None).status, 404);
    assert!(upload(server, &t, &c, &s, &jpeg, 16_384).complete);
    let th = get(server, &t, &thumb_path, None);
    assert_eq!(th.status, 200);
    assert_eq!(th.header("content-type"), Some("image/jpeg"));
    let small = image::load_from_memory(&th.body).expect("a JPEG");
    assert_eq!((small.width(), small.height()), (320, 240));
    // Kept, and asked again it is the same.
    assert_eq!(objects(server, "thumbs"), vec![format!("thumbs/{s}")]);
    assert_eq!(get(server, &t, &thumb_path, None).body, th.body);
    // The original is the original.
    let original = get(server, &t, &path(&c, &s), None);
    assert_eq!(
        (original.header("content-type"), sha(&original.body)),
        (Some("image/jpeg"), s.clone())
    );

    // Not a photo: no thumbnail.
    let doc = document(5_000, 13);
    let (c2, s2) = case_with(&mut phone, &doc, AttachmentKind::Audio);
    assert!(upload(server, &t, &c2.to_string(), &s2, &doc, 5_000).complete);
    let th = get(
        server,
        &t,
        &format!("{}/thumbnail", path(&c2.to_string(), &s2)),
        None,
    );
    assert_eq!(th.status, 404);
}

fn the_collector_discards_idle_and_revoked_uploads(store: Store) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let Some(env) = start(store, Limits::default(), clock.clone()) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let t = phone.access_token.clone();
    let bytes = document(30_000, 14);
    let (c, s) = case_with(&mut phone, &bytes, AttachmentKind::Document);
    let c = c.to_string();
    assert_eq!(patch(server, &t, &c, &s, 0, &bytes[..10_000]).status, 204);

    // A revoked device's unfinished upload goes with the revocation; its bytes with the
    // collector's pass after the hour a stray chunk is given.
    let mut other = Phone::login(&server.base_url(), "li.mediator", "ev-li");
    let more = document(30_000, 15);
    let (c2, s2) = case_with(&mut other, &more, AttachmentKind::Document);
    let c2 = c2.to_string();
    assert_eq!(
        patch(server, &other.access_token, &c2, &s2, 0, &more[..10_000]).status,
        204
    );
    let admin = Staff::login(server, "admin");
    let (status, _) = admin.post("/v1/devices/ev-li/revoke", &serde_json::json!({}));
    assert!(status < 300, "revoke: {status}");
    let collect = |server: &TestServer| {
        let (center, evidence) = (server.state.center.clone(), server.state.evidence.clone());
        server
            .block_on(async move {
                gridsync_server::evidence::collect::collect_once(&center, &evidence).await
            })
            .expect("collect")
    };
    let chen = Staff::login(server, "chen.dispatch");
    assert_eq!(head(server, &chen.token, &c2, &s2).offset, Some(0));
    assert_eq!(head(server, &chen.token, &c, &s).offset, Some(10_000));
    let first = collect(server);
    assert_eq!(first, Default::default(), "the young objects stay an hour");
    assert_eq!(objects(server, "uploads").len(), 2);

    // A chunk object no upload records (a process killed between writing and recording).
    let store_handle = server.state.evidence.store().clone();
    server
        .block_on(async move {
            let stray = object_store::path::Path::from("uploads/x/y/00000000000000000000-stray");
            object_store::ObjectStoreExt::put(&*store_handle, &stray, b"stray".to_vec().into())
                .await
        })
        .expect("put");
    assert_eq!(
        collect(server).stray_chunks,
        0,
        "young objects are left alone"
    );

    // Idle past the grace period: discarded, chunks and all.
    clock.advance(8 * 24 * 3_600_000);
    let second = collect(server);
    assert_eq!((second.uploads, second.stray_chunks), (1, 2), "{second:?}");
    assert_eq!(objects(server, "uploads"), Vec::<String>::new());
    let chen = Staff::login(server, "chen.dispatch");
    assert_eq!(head(server, &chen.token, &c, &s).offset, Some(0));
}

/// A resumed upload reaches another server process sharing the database and the store.
#[test]
fn an_upload_resumes_on_another_server_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let evidence = || EvidenceConfig {
        location: Some(gridsync_server::evidence::store::Location::Dir(
            dir.path().join("evidence"),
        )),
        ..EvidenceConfig::default()
    };
    let first = TestServer::start_with_evidence(Arc::new(SystemClock), evidence());
    let mut phone = Phone::login(&first.base_url(), "wang.grid", "ev-wang");
    let bytes = document(60_000, 16);
    let (c, s) = case_with(&mut phone, &bytes, AttachmentKind::Document);
    let (c, t) = (c.to_string(), phone.access_token.clone());
    assert_eq!(patch(&first, &t, &c, &s, 0, &bytes[..25_000]).status, 204);
    let second = TestServer::start_on_with_evidence(
        gridsync_tests::runtime(),
        gridsync_tests::TestDb::shared(&first.db.url),
        Arc::new(SystemClock),
        evidence(),
    );
    let h = head(&second, &t, &c, &s);
    assert_eq!(h.offset, Some(25_000));
    let a = patch(&second, &t, &c, &s, 25_000, &bytes[25_000..]);
    assert!(a.complete, "{a:?}");
    assert_eq!(get(&first, &t, &path(&c, &s), None).body, bytes);
}

/// Another phone of the village asking about an upload (`HEAD`) while its bytes are still
/// arriving does not cut it: only the writer's own device may, or anyone once the writer has
/// received nothing for a while (`evidence/handover.rs`).
#[test]
fn another_phones_head_does_not_cut_a_live_upload() {
    let server = TestServer::start_with_evidence(Arc::new(SystemClock), EvidenceConfig::default());
    let mut wang = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let bytes = document(120_000, 21);
    let (c, s) = case_with(&mut wang, &bytes, AttachmentKind::Document);
    let (c, t) = (c.to_string(), wang.access_token.clone());
    let li = Phone::login(&server.base_url(), "li.mediator", "ev-li");
    assert_eq!(
        head(&server, &li.access_token, &c, &s).status,
        200,
        "in li's scope"
    );
    // Another village's grid worker, who may not see the case.
    let zhao = Phone::login(&server.base_url(), "zhao.grid", "ev-zhao");

    // Wang's phone sends 12 pieces of 10 KB, 150 ms apart, in one PATCH.
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    let header = format!(
        "PATCH {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        path(&c, &s),
        bytes.len()
    );
    stream.write_all(header.as_bytes()).expect("write");
    let sender = std::thread::spawn({
        let bytes = bytes.clone();
        let mut stream = stream.try_clone().expect("clone");
        move || {
            for piece in bytes.chunks(10_000) {
                // A cut PATCH is answered early and closed: a write may then fail.
                if stream.write_all(piece).is_err() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
        }
    });
    // Meanwhile li's phone asks where the upload stands, every 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut seen = Vec::new();
    while !sender.is_finished() {
        let h = head(&server, &li.access_token, &c, &s);
        assert_eq!(h.status, 200);
        seen.push(h.offset.unwrap_or_default());
        // Outside the scope: the same 404 as for a case that does not exist.
        let outside = head(&server, &zhao.access_token, &c, &s);
        assert_eq!(outside.status, 404);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    sender.join().unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert_eq!(status, "204", "the live PATCH ran to its end: {answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains(&format!("upload-offset: {}", bytes.len())),
        "{answer}"
    );
    // The upload is one chunk: until its end the center holds 0 bytes of it.
    let during = seen.iter().filter(|&&o| o < bytes.len() as u64).count();
    assert!(during >= 3, "li asked while bytes arrived: {seen:?}");
    let h = head(&server, &t, &c, &s);
    assert!(h.complete, "{h:?}");
    assert_eq!(get(&server, &t, &path(&c, &s), None).body, bytes);
}

/// The link: a 5 MB photo through a proxy that resets the connection after every
/// 256 KB the phone sends. It arrives whole with the right sha256, and each drop costs at
/// most the chunk in flight (what `HEAD` reports after a drop is every byte answered).
fn a_5_mb_photo_crosses_a_link_that_drops_every_256_kb(store: Store) {
    use gridsync_tests::link::{Link, LinkProxy};
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let mut photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
    photo.extend(document(5_000_000 - photo.len(), 17));
    let (case, sha256) = case_with(&mut phone, &photo, AttachmentKind::Photo);
    let proxy = LinkProxy::start(
        server.addr,
        Link {
            reset_every_bytes: Some(256_000),
            ..Link::default()
        },
    );
    let url = format!("{}{}", proxy.base_url(), path(&case.to_string(), &sha256));
    let auth = format!("Bearer {}", phone.access_token);
    const CHUNK: usize = 64 << 10;
    let (mut offset, mut sent, mut drops) = (0_usize, 0_usize, 0_usize);
    let mut complete = false;
    while !complete {
        let end = (offset + CHUNK).min(photo.len());
        sent += end - offset;
        let answer = agent()
            .patch(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", &offset.to_string())
            .send(&photo[offset..end]);
        match answer.map(answer_of) {
            Ok(a) if a.status == 204 => {
                offset = a.offset.expect("Upload-Offset") as usize;
                complete = a.complete;
            }
            // A chunk whose answer was cut may land after the HEAD that followed.
            Ok(a) if a.status == 409 && a.offset.is_some_and(|o| o as usize >= offset) => {
                offset = a.offset.unwrap_or_default() as usize;
            }
            Ok(a) => panic!("refused: {a:?}"),
            Err(_) => {
                // Dropped: ask where the center is (the HEAD itself may be cut too).
                drops += 1;
                let held = loop {
                    let h = agent().head(&url).header("Authorization", &auth).call();
                    if let Ok(h) = h.map(answer_of) {
                        break h.offset.expect("Upload-Offset") as usize;
                    }
                };
                assert!(held >= offset, "a chunk answered 204 was lost");
                offset = held;
            }
        }
        assert!(drops < 200, "no progress");
    }
    assert!(drops >= 5, "the link dropped: {drops}");
    assert!(
        sent <= photo.len() + drops * CHUNK,
        "sent {sent} for {} with {drops} drops",
        photo.len()
    );
    let got = get(
        server,
        &phone.access_token,
        &path(&case.to_string(), &sha256),
        None,
    );
    assert_eq!(sha(&got.body), sha256);
}

/// Bytes on the wire per byte attached, on a clean link with 256 KiB chunks: requests'
/// headers and answers included, at most 2 % over (the target). 12 MB: on S3 the
/// blob is assembled from several 5 MiB parts.
fn an_upload_costs_at_most_2_percent_over_its_bytes_on_the_wire(store: Store) {
    use gridsync_tests::link::{Link, LinkProxy};
    let Some(env) = start(store, Limits::default(), Arc::new(SystemClock)) else {
        return;
    };
    let server = &env.server;
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "ev-wang");
    let bytes = document(12_000_000, 18);
    let (case, sha256) = case_with(&mut phone, &bytes, AttachmentKind::Document);
    let proxy = LinkProxy::start(server.addr, Link::default());
    let url = format!("{}{}", proxy.base_url(), path(&case.to_string(), &sha256));
    let auth = format!("Bearer {}", phone.access_token);
    let client = agent();
    let first = client
        .head(&url)
        .header("Authorization", &auth)
        .call()
        .expect("HEAD");
    assert_eq!(first.status(), 200);
    for (i, chunk) in bytes.chunks(256 << 10).enumerate() {
        let r = client
            .patch(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", &(i * (256 << 10)).to_string())
            .send(chunk)
            .expect("PATCH");
        assert_eq!(r.status(), 204);
    }
    let counts = proxy.counts();
    let wire = (counts.up + counts.down) as f64 / bytes.len() as f64;
    eprintln!("evidence upload: {wire:.4} bytes on the wire per byte attached");
    assert!(wire <= 1.02, "{wire}");
    assert!(head(server, &phone.access_token, &case.to_string(), &sha256).complete);
    let got = get(
        server,
        &phone.access_token,
        &path(&case.to_string(), &sha256),
        None,
    );
    assert_eq!(sha(&got.body), sha256);
}
