//! Evidence from the phone's own client (`gridsync_ffi::FieldClient`, what the apps run):
//! attached offline, synced, then uploaded over a link that resets every 256 KB. The photo
//! arrives whole with its hash, each drop costs at most the chunk in flight, and the phone
//! of the department the case is dispatched to fetches it on demand.

use gridsync_ffi::{FieldClient, FieldError, NewCase, UploadState};
use gridsync_tests::TestServer;
use gridsync_tests::link::{Link, LinkProxy};
use sha2::{Digest, Sha256};

const PASSWORD: &str = gridsync_server::demo::DEMO_PASSWORD;

fn photo(len: usize) -> Vec<u8> {
    // A JPEG's first bytes, then noise (sniffed as a photo; incompressible, as photos are).
    let mut out = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn a_5_mb_photo_crosses_a_link_that_resets_every_256_kb() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let phone = FieldClient::open(
        dir.path().join("worker.db").to_string_lossy().into_owned(),
        "evidence-worker".into(),
        gridsync_tests::test_key().as_bytes().to_vec(),
    )
    .unwrap();
    phone
        .login(url.clone(), "wang.grid".into(), PASSWORD.into())
        .unwrap();
    let case = phone
        .record_case(NewCase {
            title: "拖欠工资".into(),
            category: "LABOUR_WAGES".into(),
            ..NewCase::default()
        })
        .unwrap();
    let bytes = photo(5 * 1024 * 1024);
    let sha = hex::encode(Sha256::digest(&bytes));
    let attached = phone
        .attach_bytes(
            case.clone(),
            bytes.clone(),
            "PHOTO".into(),
            "image/jpeg".into(),
            "考勤表".into(),
        )
        .unwrap();
    assert_eq!(
        (attached.sha256.as_str(), attached.size),
        (sha.as_str(), bytes.len() as u64)
    );
    // Before the reference has synced, nothing goes up.
    let early = phone.upload_evidence(None).unwrap();
    assert_eq!((early.completed, early.remaining), (0, 1));
    phone.submit_case(case.clone()).unwrap();
    phone.sync(None).unwrap();

    let link = LinkProxy::start(
        server.addr,
        Link {
            reset_every_bytes: Some(256 * 1024),
            ..Link::default()
        },
    );
    let mut drops = 0;
    let report = loop {
        match phone.upload_evidence(Some(link.base_url())) {
            Ok(report) => break report,
            Err(FieldError::Network { .. }) => drops += 1,
            Err(e) => panic!("upload: {e}"),
        }
        assert!(drops < 200, "no progress through the link");
    };
    assert_eq!((report.completed, report.remaining), (1, 0), "{report:?}");
    let uploads = phone.evidence_uploads().unwrap();
    assert_eq!(uploads[0].state, UploadState::Done);
    assert_eq!(uploads[0].sent, bytes.len() as u64);

    // What crossed the link: the bytes once, plus at most one chunk in flight per drop (a
    // chunk is at most 256 KiB here: the client's first cap) and the requests' heads.
    let counts = link.counts();
    let resets = counts.resets.max(drops);
    let bound = bytes.len() as u64 + resets * (256 * 1024 + 4096) + 64 * 1024;
    println!(
        "5 MiB through resets every 256 KiB: {} bytes up ({:.3}x), {} resets, {} failed calls",
        counts.up,
        counts.up as f64 / bytes.len() as f64,
        counts.resets,
        drops
    );
    assert!(drops >= 10, "the link did drop: {drops}");
    assert!(
        counts.up <= bound,
        "{} bytes up for {} resets",
        counts.up,
        resets
    );

    // The handler's phone fetches it on demand, checked, through the same bad link: the
    // center holds exactly these bytes.
    let dispatcher = gridsync_tests::Staff::login(&server, "chen.dispatch");
    let (_, detail) = dispatcher.get(&format!("/v1/cases/{case}"));
    if detail["state"]["status"] == "SUBMITTED" {
        assert_eq!(
            dispatcher.act(&case, "ACCEPT", serde_json::json!({})).0,
            200
        );
    }
    let (_, detail) = dispatcher.get(&format!("/v1/cases/{case}"));
    if detail["state"]["status"] != "DISPATCHED" {
        let to = serde_json::json!({"to": [{"id": "330182-labour", "name": "劳动监察"}], "tier": "COUNTY"});
        assert_eq!(dispatcher.act(&case, "DISPATCH", to).0, 200);
    }
    let handler = FieldClient::open(
        dir.path().join("handler.db").to_string_lossy().into_owned(),
        "evidence-handler".into(),
        gridsync_tests::test_key().as_bytes().to_vec(),
    )
    .unwrap();
    handler
        .login(url.clone(), "liu.labour".into(), PASSWORD.into())
        .unwrap();
    let synced = handler.sync(None).unwrap();
    assert!(synced.new_cases.contains(&case), "{synced:?}");
    let fetched = handler
        .evidence_bytes(case.clone(), attached.id.clone())
        .unwrap();
    assert_eq!(fetched, bytes);
    // Held now, sealed: a second call reads the local copy, and the file is not the bytes.
    assert_eq!(
        handler
            .evidence_bytes(case.clone(), attached.id.clone())
            .unwrap(),
        bytes
    );
    let exported = dir.path().join("photo.jpg");
    let n = handler
        .export_evidence(case, attached.id, exported.to_string_lossy().into_owned())
        .unwrap();
    assert_eq!(
        (n, std::fs::read(&exported).unwrap()),
        (bytes.len() as u64, bytes.clone())
    );
    let sealed = std::fs::read_dir(dir.path().join("handler.db.evidence")).unwrap();
    for file in sealed {
        let held = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !held.windows(64).any(|w| w == &bytes[1000..1064]),
            "sealed at rest"
        );
    }
}
