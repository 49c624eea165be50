//! Signed changes and evidence bundles (issue 17), as a user would notice them: a change
//! whose signature does not verify (altered, another device's key, replayed from another
//! change) is refused for its case only; unsigned changes are refused where the center
//! requires signatures and accepted where it does not (older apps); a case's evidence bundle
//! verifies offline and any flipped byte is refused with its place named.

use gridsync_core::bundle;
use gridsync_core::case::CaseId;
use gridsync_core::protocol::{RejectCode, SyncRequest};
use gridsync_core::signing::KeyPair;
use gridsync_tests::{Phone, Staff, TestServer};

/// Posts `request` as `phone` and decodes the answer.
fn send(phone: &Phone, request: &SyncRequest) -> gridsync_core::protocol::SyncResponse {
    let body = phone.post_sync(request.to_body()).expect("sync");
    gridsync_core::protocol::SyncResponse::from_body(
        &body,
        &gridsync_core::protocol::DecodeLimits::default(),
    )
    .unwrap()
}

fn refused(
    answer: &gridsync_core::protocol::SyncResponse,
) -> std::collections::BTreeMap<CaseId, RejectCode> {
    answer
        .rejected
        .iter()
        .map(|r| (r.doc_id, r.code.clone()))
        .collect()
}

fn at_center(server: &TestServer, id: CaseId) -> bool {
    server
        .block_on(gridsync_server::center::cases::load(&server.state, id))
        .unwrap()
        .is_some()
}

/// `POST /v1/auth/login` with a signing key: the status and the answer's code.
fn login_with_key(
    base: &str,
    device: &str,
    actors: &[String],
    key: &str,
) -> (u16, serde_json::Value) {
    let mut resp = gridsync_tests::agent()
        .post(&format!("{base}/v1/auth/login"))
        .send_json(serde_json::json!({
            "username": "wang.grid",
            "password": gridsync_server::demo::DEMO_PASSWORD,
            "device_id": device,
            "actor_ids": actors,
            "signing_key": key,
        }))
        .expect("login request");
    (
        resp.status().as_u16(),
        resp.body_mut().read_json().unwrap_or_default(),
    )
}

#[test]
fn a_change_whose_signature_does_not_verify_is_refused_for_its_case_only() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "sig-a");
    // Another device of the same worker, with a key of its own registered at sign-in.
    let other = KeyPair::generate();
    let (status, body) = login_with_key(
        &base,
        "sig-b",
        &["0b0b0b0b0b0b0b0b".to_owned()],
        &hex::encode(other.public_key()),
    );
    assert_eq!(status, 200, "{body}");

    let ids: Vec<CaseId> = (0..5).map(|i| phone.record(&format!("签名 {i}"))).collect();
    let (mut request, _) = phone.store.build_request().unwrap();
    assert_eq!(request.push.len(), 5);
    assert!(
        request
            .push
            .iter()
            .all(|d| d.signatures.len() == d.changes.len()),
        "the phone signs every change it pushes"
    );
    let doc = |request: &mut SyncRequest, id: CaseId| -> usize {
        request.push.iter().position(|d| d.doc_id == id).unwrap()
    };
    let hash = |bytes: &[u8]| {
        automerge::Change::from_bytes(bytes.to_vec())
            .unwrap()
            .hash()
            .0
    };
    // 0: one bit of the signature flipped.
    let k = doc(&mut request, ids[0]);
    request.push[k].signatures[0][10] ^= 0x01;
    // 1: signed by the other device's (registered) key.
    let k = doc(&mut request, ids[1]);
    let h = hash(&request.push[k].changes[0]);
    request.push[k].signatures[0] = other.sign_change(&h);
    // 2: a valid signature of this phone, replayed from case 3's change.
    let (k2, k3) = (doc(&mut request, ids[2]), doc(&mut request, ids[3]));
    request.push[k2].signatures[0] = request.push[k3].signatures[0];
    // 4: one signature too many.
    let k = doc(&mut request, ids[4]);
    let extra = request.push[k].signatures[0];
    request.push[k].signatures.push(extra);

    let answer = send(&phone, &request);
    let codes = refused(&answer);
    for i in [0, 1, 2, 4] {
        assert_eq!(
            codes.get(&ids[i]),
            Some(&RejectCode::BadSignature),
            "case {i}: {:?}",
            answer.rejected
        );
        assert!(!at_center(&server, ids[i]), "case {i} was stored");
    }
    // Case 3, in the same request, went through.
    assert!(!codes.contains_key(&ids[3]), "{:?}", answer.rejected);
    assert!(at_center(&server, ids[3]));

    // The phone's own, untampered sync then brings the others in.
    let report = phone.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(ids.iter().all(|id| at_center(&server, *id)));

    // A key already bound to another device is refused at sign-in.
    let (status, body) =
        login_with_key(&base, "sig-c", &[], &hex::encode(phone.store.signing_key()));
    assert_eq!((status, body["code"].as_str()), (409, Some("key_in_use")));
    let (status, body) = login_with_key(&base, "sig-d", &[], "not a key");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_signing_key"))
    );
}

#[test]
fn unsigned_changes_are_refused_only_where_signatures_are_required() {
    // Required: the unsigned case is refused, the signed one beside it accepted.
    let strict = TestServer::start_requiring_signatures();
    let mut phone = Phone::login(&strict.base_url(), "wang.grid", "sig-strict");
    let unsigned = phone.record("未签名");
    let signed = phone.record("已签名");
    let (mut request, _) = phone.store.build_request().unwrap();
    for d in &mut request.push {
        if d.doc_id == unsigned {
            d.signatures.clear();
        }
    }
    let answer = send(&phone, &request);
    assert_eq!(
        refused(&answer),
        [(unsigned, RejectCode::SignatureRequired)]
            .into_iter()
            .collect()
    );
    assert!(at_center(&strict, signed) && !at_center(&strict, unsigned));

    // Not required (the default): an older app's unsigned push is accepted, and the frozen
    // v1 request body still decodes (its placeholder changes are refused as changes, one
    // case at a time, not as a body).
    let server = TestServer::start();
    let mut old = Phone::login(&server.base_url(), "wang.grid", "sig-old");
    let id = old.record("旧版应用");
    let (mut request, _) = old.store.build_request().unwrap();
    request.push.iter_mut().for_each(|d| d.signatures.clear());
    let answer = send(&old, &request);
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
    assert!(at_center(&server, id));
    // An app updated while signed in: its actor was registered before it had a key, so its
    // (signed) changes cannot be verified and count as unsigned: accepted here.
    let mut app = UpdatedApp::signed_in(&server.base_url(), "sig-upgraded");
    let upgraded = app.record("升级的应用");
    let token = app.login["access_token"].as_str().unwrap().to_owned();
    let report = app.sync(&token);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(at_center(&server, upgraded));

    let golden = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sync-core/tests/fixtures/sync_request_v1.cbor"),
    )
    .unwrap();
    // The golden request names its own device.
    let golden_phone = Phone::login(&server.base_url(), "wang.grid", "android-7f3a");
    let body = golden_phone
        .post_sync(golden)
        .expect("the v1 golden body is taken");
    let answer = gridsync_core::protocol::SyncResponse::from_body(
        &body,
        &gridsync_core::protocol::DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(answer.rejected.len(), 2, "{:?}", answer.rejected);
    assert!(
        answer
            .rejected
            .iter()
            .all(|r| r.code == RejectCode::MalformedChange)
    );
}

/// An app updated while signed in: its store (with a key) signed in by the app version
/// before signatures, which bound the store's actor without a key.
struct UpdatedApp {
    base: String,
    store: gridsync_core::store::FieldStore,
    /// The old app's sign-in answer (tokens).
    login: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl UpdatedApp {
    fn signed_in(base: &str, device: &str) -> UpdatedApp {
        let dir = tempfile::tempdir().unwrap();
        let mut store = gridsync_core::store::FieldStore::open(
            dir.path().join("f.db"),
            device,
            &gridsync_tests::test_key(),
        )
        .unwrap();
        let login = crate::forge::login_with_actors(
            base,
            "wang.grid",
            device,
            &[store.actor_id().to_hex_string()],
        )
        .unwrap();
        store
            .set_identity(&gridsync_core::workflow::Author::new(
                "u-wang.grid",
                gridsync_core::workflow::Role::GridWorker,
                "330182101201",
            ))
            .unwrap();
        UpdatedApp {
            base: base.to_owned(),
            store,
            login,
            _dir: dir,
        }
    }

    fn record(&mut self, title: &str) -> CaseId {
        self.store
            .record(&gridsync_core::case::NewCase {
                title: title.into(),
                area_code: "330182101201".into(),
                ..Default::default()
            })
            .unwrap()
    }

    /// The store's own sync (signed changes) with `token`.
    fn sync(&mut self, token: &str) -> gridsync_core::store::SyncReport {
        let base = &self.base;
        self.store
            .sync_via(5, |body| {
                let mut r = gridsync_tests::agent()
                    .post(&format!("{base}/v1/sync"))
                    .header("Authorization", &format!("Bearer {token}"))
                    .header("Content-Type", "application/cbor")
                    .header("Content-Encoding", "zstd")
                    .send(&body[..])
                    .map_err(|e| e.to_string())?;
                r.body_mut().read_to_vec().map_err(|e| e.to_string())
            })
            .unwrap()
    }
}

/// `POST /v1/auth/refresh` with a signing key: the status and the answer.
fn refresh_with_key(base: &str, token: &str, device: &str, key: &str) -> (u16, serde_json::Value) {
    let mut resp = gridsync_tests::agent()
        .post(&format!("{base}/v1/auth/refresh"))
        .send_json(serde_json::json!({
            "refresh_token": token,
            "device_id": device,
            "signing_key": key,
        }))
        .expect("refresh request");
    (
        resp.status().as_u16(),
        resp.body_mut().read_json().unwrap_or_default(),
    )
}

#[test]
fn an_app_updated_while_signed_in_registers_its_key_at_the_next_refresh() {
    let server = TestServer::start_requiring_signatures();
    let base = server.base_url();
    // Signed in by the old app: its actor bound, no key.
    let mut app = UpdatedApp::signed_in(&base, "sig-refresh");
    let id = app.record("升级后刷新");
    // The updated app signs, but the center holds no key for its actor: required here.
    let old_token = app.login["access_token"].as_str().unwrap().to_owned();
    let report = app.sync(&old_token);
    assert_eq!(
        report
            .rejected
            .iter()
            .map(|r| (r.case_id, r.code.as_str()))
            .collect::<Vec<_>>(),
        [(id, "signature_required")]
    );
    assert!(!at_center(&server, id));

    let token = app.login["refresh_token"].as_str().unwrap().to_owned();
    let token = token.as_str();
    let key = hex::encode(app.store.signing_key());
    // A malformed key is refused before the token is spent.
    let (status, body) = refresh_with_key(&base, token, "sig-refresh", "zz");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_signing_key"))
    );
    // A key of the wrong type, or far too long: refused, the token still unspent (the
    // refreshes below use it).
    for bad in [
        serde_json::json!(12345),
        serde_json::json!("ab".repeat(200_000)),
    ] {
        let status = gridsync_tests::agent()
            .post(&format!("{base}/v1/auth/refresh"))
            .send_json(serde_json::json!({
                "refresh_token": token, "device_id": "sig-refresh", "signing_key": bad,
            }))
            .expect("refresh request")
            .status()
            .as_u16();
        assert!(status == 400 || status == 413, "{status}");
    }
    // Another device's key is refused: a signature names one device.
    let other = KeyPair::generate();
    let (status, body) = login_with_key(
        &base,
        "sig-refresh-2",
        &[],
        &hex::encode(other.public_key()),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = refresh_with_key(
        &base,
        token,
        "sig-refresh",
        &hex::encode(other.public_key()),
    );
    assert_eq!((status, body["code"].as_str()), (409, Some("key_in_use")));

    // A neighbour: the same worker's other phone, its actor bound without a key. The
    // refresh below gives the key to this device's actors only (the audit entry says which).
    crate::forge::login_with_actors(
        &base,
        "wang.grid",
        "sig-refresh-3",
        &["0c0c0c0c0c0c0c0c".to_owned()],
    )
    .unwrap();
    // Signed in again (the 409 spent the token), then the refresh that registers the key.
    let login = crate::forge::login_with_actors(&base, "wang.grid", "sig-refresh", &[]).unwrap();
    let (status, refreshed) = refresh_with_key(
        &base,
        login["refresh_token"].as_str().unwrap(),
        "sig-refresh",
        &key,
    );
    assert_eq!(status, 200, "{refreshed}");
    let report = app.sync(refreshed["access_token"].as_str().unwrap());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(at_center(&server, id));

    // The actor keeps the key it took: a later refresh with another key changes nothing,
    // and changes signed with that key are refused.
    let third = KeyPair::generate();
    let (status, again) = refresh_with_key(
        &base,
        refreshed["refresh_token"].as_str().unwrap(),
        "sig-refresh",
        &hex::encode(third.public_key()),
    );
    assert_eq!(status, 200, "{again}");
    app.store
        .add_note(id, gridsync_core::case::NoteKind::Other, "再次补充")
        .unwrap();
    let (mut request, _) = app.store.build_request().unwrap();
    for d in &mut request.push {
        for (bytes, signature) in d.changes.iter().zip(d.signatures.iter_mut()) {
            let hash = automerge::Change::from_bytes(bytes.to_vec())
                .unwrap()
                .hash()
                .0;
            *signature = third.sign_change(&hash);
        }
    }
    let body = gridsync_tests::agent()
        .post(&format!("{base}/v1/sync"))
        .header(
            "Authorization",
            &format!("Bearer {}", again["access_token"].as_str().unwrap()),
        )
        .header("Content-Type", "application/cbor")
        .send(&request.to_body()[..])
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    let answer = gridsync_core::protocol::SyncResponse::from_body(
        &body,
        &gridsync_core::protocol::DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(
        answer
            .rejected
            .iter()
            .map(|r| (r.doc_id, r.code.clone()))
            .collect::<Vec<_>>(),
        [(id, RejectCode::BadSignature)]
    );

    // Audited once, naming the device, the key and the actor.
    let wu = Staff::login(&server, "wu.super");
    let (status, log) = wu.get("/v1/audit?action=SIGNING_KEY_REGISTERED");
    assert_eq!(status, 200, "{log}");
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["detail"]["device_id"], "sig-refresh");
    assert_eq!(entries[0]["detail"]["key"], key.as_str());
    assert_eq!(
        entries[0]["detail"]["actors"],
        serde_json::json!([app.store.actor_id().to_hex_string()])
    );
}

#[test]
fn a_bundle_verifies_offline_and_any_flipped_byte_is_refused_with_its_place() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "sig-bundle");
    let id = phone.record("证据包 欠薪");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    // The center's own steps, signed with its key.
    crate::matrix::accept_and_dispatch(&server, id, "330182-labour");

    // The published key, anyone may read it.
    let mut resp = gridsync_tests::agent()
        .get(&format!("{base}/.well-known/gridsync-signing-keys"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let keys: serde_json::Value = resp.body_mut().read_json().unwrap();
    let active: Vec<&serde_json::Value> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["active"] == true)
        .collect();
    assert_eq!(active.len(), 1, "{keys}");
    let center_key =
        gridsync_core::signing::parse_public_key(active[0]["public_key"].as_str().unwrap())
            .unwrap();
    assert!(active[0]["created"].as_str().unwrap().ends_with('Z'));

    let dispatcher = Staff::login(&server, "chen.dispatch");
    let (status, bytes) = dispatcher.get_bytes(&format!("/v1/cases/{id}/bundle"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let verified = bundle::verify(&bytes, Some(&center_key)).expect("verifies");
    assert_eq!(verified.header.case_id, id.to_string());
    let by_phone: Vec<_> = verified
        .history
        .iter()
        .filter(|e| e.signed_by == "device")
        .collect();
    assert!(!by_phone.is_empty());
    for e in &by_phone {
        assert_eq!(e.device_id.as_deref(), Some("sig-bundle"));
        assert_eq!(e.user_id.as_deref(), Some("u-wang.grid"));
    }
    assert!(by_phone[0].steps.is_empty() || by_phone[0].message == "record");
    assert!(
        verified
            .history
            .iter()
            .any(|e| e.signed_by == "center" && e.steps.iter().any(|s| s == "ACCEPT")),
        "{:#?}",
        verified.history
    );
    assert!(
        verified
            .history
            .iter()
            .any(|e| e.steps.iter().any(|s| s == "SUBMIT")),
        "{:#?}",
        verified.history
    );
    // Its own export is among the case's audit entries, and each entry's hash (recomputed
    // by `verify`) is the one in the center's chain.
    assert!(verified.audit.iter().any(|a| a.action == "EXPORT"));
    let (status, log) =
        Staff::login(&server, "wu.super").get(&format!("/v1/audit?case={id}&limit=1000"));
    assert_eq!(status, 200, "{log}");
    let mut chain: Vec<String> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hash"].as_str().unwrap().to_owned())
        .collect();
    chain.reverse();
    let in_bundle: Vec<String> = verified.audit.iter().map(|a| a.hash.clone()).collect();
    assert_eq!(in_bundle, chain);
    // Pinned to another key: refused.
    let stranger = KeyPair::generate().public_key();
    assert!(matches!(
        bundle::verify(&bytes, Some(&stranger)),
        Err(bundle::BundleError::CenterKey { .. })
    ));

    // Flip one byte at many places: every header byte, then in every record each byte of
    // its length, ~25 places through its body (first and last byte among them) and every
    // seventh byte of its signature (and the last).
    let mut spans = Vec::new(); // (record, offset, length)
    let mut at = 9;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        spans.push((spans.len(), at, len));
        at += 4 + len + 64;
    }
    assert_eq!(at, bytes.len());
    assert_eq!(spans.len() as u64, verified.header.records);
    let started = std::time::Instant::now();
    let mut flips: Vec<(usize, String)> = (0..9)
        .map(|i| {
            (
                i,
                if i < 8 {
                    "offset 0".into()
                } else {
                    "offset 8".into()
                },
            )
        })
        .collect();
    for &(k, start, len) in &spans {
        let place = format!("record {k}");
        let body = start + 4;
        let sig = body + len;
        let positions = (start..body)
            .chain((body..sig).step_by((len / 24).max(1)))
            .chain([body + len - 1])
            .chain((sig..sig + 64).step_by(7))
            .chain([sig + 63]);
        for p in positions {
            flips.push((p, place.clone()));
        }
    }
    for (position, place) in &flips {
        let mut bad = bytes.clone();
        bad[*position] ^= 0x20;
        let err = bundle::verify(&bad, None)
            .expect_err(&format!("a flip at {position} passed"))
            .to_string();
        assert!(
            err.contains(place.as_str()),
            "flip at {position}: {err:?} does not name {place}"
        );
    }
    // Cut short, or with bytes added: refused too.
    assert!(bundle::verify(&bytes[..bytes.len() - 1], None).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(bundle::verify(&longer, None).is_err());
    eprintln!(
        "{} flips over {} records in {:?}",
        flips.len(),
        spans.len(),
        started.elapsed()
    );
}

#[test]
fn a_rotated_center_key_still_verifies_what_it_signed() {
    let server = TestServer::start();
    let st = &server.state;
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "sig-rotate");
    let id = phone.record("轮换 中心密钥");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    crate::matrix::accept(&server, id); // signed with the first key
    let dispatcher = Staff::login(&server, "chen.dispatch");
    let (status, before) = dispatcher.get_bytes(&format!("/v1/cases/{id}/bundle"));
    assert_eq!(status, 200);
    let old = bundle::verify(&before, None).unwrap().header.center_key;

    // `gridsync admin rotate-signing-key`, then the server's periodic reload.
    let now = st.clock.now().0;
    let (kid, retired) = server
        .block_on(gridsync_server::signing::rotate(&st.db, now))
        .unwrap();
    assert_eq!(retired.len(), 1);
    server.block_on(st.key.reload(&st.db)).unwrap();
    assert_eq!(st.key.signer().kid, kid);
    crate::matrix::dispatch(&server, id, "330182-labour"); // the new key

    // Both keys published, the new one active; the retired secret is gone.
    let mut resp = gridsync_tests::agent()
        .get(&format!("{base}/.well-known/gridsync-signing-keys"))
        .call()
        .unwrap();
    let keys: serde_json::Value = resp.body_mut().read_json().unwrap();
    let listed: Vec<(String, bool)> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["public_key"].as_str().unwrap().to_owned(),
                k["active"] == true,
            )
        })
        .collect();
    let new = hex::encode(st.key.signer().public_key());
    assert_eq!(listed, [(new.clone(), true), (old.clone(), false)]);
    let rows = server.block_on(st.db.signing_keys()).unwrap();
    assert!(
        rows.iter()
            .any(|r| r.public_key == old && r.secret.is_empty() && r.retired_at == Some(now))
    );

    // The bundle made before still verifies with the old key; a new one is signed with the
    // new key and names the old one as the center's, for the step it signed.
    let pinned = |hex_key: &str| gridsync_core::signing::parse_public_key(hex_key).unwrap();
    assert!(bundle::verify(&before, Some(&pinned(&old))).is_ok());
    let (status, after) = dispatcher.get_bytes(&format!("/v1/cases/{id}/bundle"));
    assert_eq!(status, 200);
    let verified = bundle::verify(&after, Some(&pinned(&new))).expect("verifies");
    assert!(
        verified
            .keys
            .iter()
            .any(|k| k.public_key == old && k.owner == "center" && k.revoked_at == Some(now))
    );
    let step = |kind: &str| {
        verified
            .history
            .iter()
            .find(|e| e.steps.iter().any(|s| s == kind))
            .unwrap_or_else(|| panic!("{kind}: {:#?}", verified.history))
            .signed_by
            .clone()
    };
    assert_eq!(
        (step("ACCEPT"), step("DISPATCH")),
        ("center".into(), "center".into())
    );
}

#[test]
fn the_bundle_is_for_staff_who_see_the_case() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "sig-scope");
    let id = phone.record("证据包 范围");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    crate::matrix::accept_and_dispatch(&server, id, "330182-labour");
    let path = format!("/v1/cases/{id}/bundle");
    // The labour inspectorate handles it: yes. The township's judicial office does not see
    // it: 404, as for no case at all. A grid worker may not export: 403; nor a supervisor,
    // who may not see personal data unmasked.
    assert_eq!(Staff::login(&server, "liu.labour").get_bytes(&path).0, 200);
    let (status, body) = Staff::login(&server, "zhou.judicial").get(&path);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("case_not_found"))
    );
    let (status, _) = Staff::login(&server, "zhou.judicial")
        .get(&format!("/v1/cases/{}/bundle", CaseId::new_random()));
    assert_eq!(status, 404);
    let (status, body) = Staff::login(&server, "wang.grid").get(&path);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_permitted"))
    );
    // The county's supervisor sees the case masked; the bundle's changes would unmask it.
    let (status, body) = Staff::login(&server, "wu.super").get(&path);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("personal_data_forbidden"))
    );
    assert_eq!(
        Staff::login(&server, "chen.dispatch").get_bytes(&path).0,
        200
    );
    // No token: 401.
    let status = gridsync_tests::agent()
        .get(&server.url(&path))
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 401);
}

#[test]
fn after_a_wipe_the_new_key_signs_and_the_old_changes_stay_verifiable() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "sig-wipe");
    let first = phone.record("擦除前");
    phone.store.submit(first).unwrap();
    phone.sync().unwrap();
    let old_key = phone.store.signing_key();

    phone.store.wipe().unwrap();
    assert_ne!(
        phone.store.signing_key(),
        old_key,
        "a fresh key after a wipe"
    );
    // Sign in again (same device): the new key and actor are registered beside the old.
    let mut again = Phone::login(&base, "wang.grid", "sig-wipe");
    let second = again.record("擦除后");
    again.store.submit(second).unwrap();
    let report = again.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    // The old key cannot sign for the new actor: a change of the new install signed with
    // a key of the same device but not its actor's is refused.
    let third = again.record("旧钥匙");
    let (mut request, _) = again.store.build_request().unwrap();
    let forger = KeyPair::generate();
    for d in &mut request.push {
        if d.doc_id == third {
            let h = automerge::Change::from_bytes(d.changes[0].clone())
                .unwrap()
                .hash()
                .0;
            d.signatures[0] = forger.sign_change(&h);
        }
    }
    let answer = send(&again, &request);
    assert_eq!(
        refused(&answer).get(&third),
        Some(&RejectCode::BadSignature)
    );

    let dispatcher = Staff::login(&server, "chen.dispatch");
    for id in [first, second] {
        let (status, bytes) = dispatcher.get_bytes(&format!("/v1/cases/{id}/bundle"));
        assert_eq!(status, 200);
        let verified = bundle::verify(&bytes, None).unwrap();
        let device_keys: Vec<&str> = verified
            .keys
            .iter()
            .filter(|k| k.owner == "device")
            .map(|k| k.public_key.as_str())
            .collect();
        assert_eq!(device_keys.len(), 1);
        let expected = if id == first {
            hex::encode(old_key)
        } else {
            hex::encode(again.store.signing_key())
        };
        assert_eq!(device_keys[0], expected);
    }
    // Revoking the device revokes its keys; the bundle says when.
    let admin = Staff::login(&server, "admin");
    let (status, body) = admin.post("/v1/devices/sig-wipe/revoke", &serde_json::json!({}));
    assert!(status == 200 || status == 204, "{status} {body}");
    let (_, bytes) = dispatcher.get_bytes(&format!("/v1/cases/{first}/bundle"));
    let verified = bundle::verify(&bytes, None).unwrap();
    assert!(
        verified
            .keys
            .iter()
            .all(|k| k.owner != "device" || k.revoked_at.is_some())
    );
}
