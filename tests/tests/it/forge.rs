//! What a tampered client can send, shared by the suites that play one (scope, authz_sync,
//! adversary, regressions): raw Automerge changes built on the center's copy of a case, pushed
//! through the real `POST /v1/sync`, and the center's copy read back.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::protocol::{DecodeLimits, DocChanges, SyncRequest, SyncResponse};
use gridsync_core::workflow::Author;
use gridsync_tests::{HttpError, Phone, TestServer};

/// The center's copy of a case (it must exist and open).
pub(crate) fn load(server: &TestServer, case: CaseId) -> CaseDoc {
    try_load(server, case)
        .unwrap_or_else(|e| panic!("case {case} does not load at the center: {e}"))
        .unwrap_or_else(|| panic!("case {case} is not at the center"))
}

/// The center's copy of a case: `Ok(None)` when it has none, `Err` when it does not open.
pub(crate) fn try_load(server: &TestServer, case: CaseId) -> Result<Option<CaseDoc>, String> {
    server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .map_err(|e| e.to_string())
}

/// The center's copy of a case as a plain Automerge document (for building raw changes).
pub(crate) fn center_doc(server: &TestServer, case: CaseId) -> AutoCommit {
    plain(&mut load(server, case))
}

/// A case document as a plain Automerge document.
pub(crate) fn plain(doc: &mut CaseDoc) -> AutoCommit {
    // Uncompressed: deflate is slow in the tests' dev profile.
    AutoCommit::load(&doc.save_checked().expect("the center's copy saves"))
        .expect("the center's copy reopens")
}

/// A change to `case` made by `actor` on top of the center's copy, with raw automerge (what
/// a tampered client could send).
pub(crate) fn raw_change(
    server: &TestServer,
    case: CaseId,
    actor: ActorId,
    edit: impl FnOnce(&mut AutoCommit),
) -> Vec<u8> {
    let mut doc = center_doc(server, case).with_actor(actor);
    let before = doc.get_heads();
    edit(&mut doc);
    doc.commit();
    let mut changes = doc.get_changes(&before);
    assert_eq!(changes.len(), 1);
    changes[0].bytes().into_owned()
}

/// Pushes `push` from `phone`'s device (its cursor, nothing of its outbox) and decodes the
/// answer.
pub(crate) fn push(phone: &Phone, push: Vec<DocChanges>) -> SyncResponse {
    try_push(phone, push).unwrap()
}

/// [`push`], with an HTTP error answer handed back.
pub(crate) fn try_push(phone: &Phone, push: Vec<DocChanges>) -> Result<SyncResponse, HttpError> {
    push_at(phone, phone.store.cursor().unwrap(), 1 << 20, push)
}

/// One sync exchange from `phone`'s device with the cursor and page size given (a device
/// that keeps no store of its own).
pub(crate) fn push_at(
    phone: &Phone,
    cursor: u64,
    max_bytes: u64,
    push: Vec<DocChanges>,
) -> Result<SyncResponse, HttpError> {
    let mut request = SyncRequest::new(phone.device_id.clone(), cursor, max_bytes);
    request.push = push;
    let body = phone.post_sync(request.to_body())?;
    Ok(SyncResponse::from_body(&body, &DecodeLimits::default()).unwrap())
}

/// `POST /v1/auth/login` for `device` registering `actors` (hex): the JSON answer, or the
/// error (409 `actor_taken` for an actor that is not the device's to take).
pub(crate) fn login_with_actors(
    base: &str,
    username: &str,
    device: &str,
    actors: &[String],
) -> Result<serde_json::Value, HttpError> {
    let mut resp = gridsync_tests::agent()
        .post(&format!("{base}/v1/auth/login"))
        .send_json(serde_json::json!({
            "username": username,
            "password": gridsync_server::demo::DEMO_PASSWORD,
            "device_id": device,
            "actor_ids": actors,
        }))
        .expect("login request");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    if status == 200 {
        Ok(body)
    } else {
        Err(HttpError {
            status,
            code: body["code"].as_str().unwrap_or("?").to_owned(),
            message: body["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// One pushed case's fate: acknowledged, or refused with its code.
pub(crate) fn verdict(response: &SyncResponse, case: CaseId) -> Result<(), String> {
    match (
        response.acks.iter().any(|a| a.doc_id == case),
        response.rejected.iter().find(|r| r.doc_id == case),
    ) {
        (true, None) => Ok(()),
        (false, Some(r)) => Err(r.code.as_str().to_owned()),
        other => Err(format!("neither or both: {other:?}")),
    }
}

/// The document's list at root `key`.
pub(crate) fn list(d: &AutoCommit, key: &str) -> automerge::ObjId {
    match d.get(ROOT, key).unwrap() {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        other => panic!("no {key} list: {other:?}"),
    }
}

/// Appends an event map with the given fields to the document's event log.
pub(crate) fn append_event(d: &mut AutoCommit, id: &str, kind: &str, by: &Author, payload: &str) {
    let events = list(d, "events");
    let n = d.length(&events);
    insert_event(d, n, id, kind, by, payload);
}

/// Inserts an event map at index `at` of the event log (at its end: an append).
pub(crate) fn insert_event(
    d: &mut AutoCommit,
    at: usize,
    id: &str,
    kind: &str,
    by: &Author,
    payload: &str,
) {
    let events = list(d, "events");
    let e = d.insert_object(&events, at, ObjType::Map).unwrap();
    d.put(&e, "id", id).unwrap();
    d.put(&e, "kind", kind).unwrap();
    d.put(&e, "by_user", by.user.as_str()).unwrap();
    d.put(&e, "by_role", by.role.as_code()).unwrap();
    d.put(&e, "org", by.org.as_str()).unwrap();
    d.put(&e, "at", 1_795_000_000_000i64).unwrap();
    d.put(&e, "payload", payload).unwrap();
}
