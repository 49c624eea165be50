//! A reference "center" for the protocol, in memory: the smallest server that honours
//! DESIGN §5 (idempotent pushes, feed cursor, paging, area scope, revocation). The real
//! server lives in `gridsync-server`; this one lets sync-core test its client alone.
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, ChangeHash};
use gridsync_core::case::{CaseDoc, CaseId, Timestamp};
use gridsync_core::protocol::{
    Ack, DecodeLimits, DocChanges, RejectCode, Rejection, SyncRequest, SyncResponse,
};
use gridsync_core::workflow::{Action, Author};

struct Entry {
    pos: u64,
    case: CaseId,
    hash: ChangeHash,
    bytes: Vec<u8>,
    from_device: String,
}

/// The in-memory center.
pub struct ReferenceServer {
    docs: HashMap<CaseId, CaseDoc>,
    feed: Vec<Entry>,
    seen: HashSet<ChangeHash>,
    /// device id → area-code prefix it may see.
    scopes: HashMap<String, String>,
    revoked: HashMap<String, HashSet<CaseId>>,
    actor: ActorId,
    /// Requests handled, for tests that count round trips.
    pub requests: u32,
}

impl Default for ReferenceServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReferenceServer {
    pub fn new() -> Self {
        ReferenceServer {
            docs: HashMap::new(),
            feed: Vec::new(),
            seen: HashSet::new(),
            scopes: HashMap::new(),
            revoked: HashMap::new(),
            actor: ActorId::random(),
            requests: 0,
        }
    }

    pub fn register(&mut self, device: &str, area_prefix: &str) {
        self.scopes
            .insert(device.to_owned(), area_prefix.to_owned());
    }

    /// Takes `case` out of `device`'s scope: its next sync lists it in `revoked`.
    pub fn revoke(&mut self, device: &str, case: CaseId) {
        self.revoked
            .entry(device.to_owned())
            .or_default()
            .insert(case);
    }

    pub fn change_count(&self) -> usize {
        self.feed.len()
    }

    pub fn case_count(&self) -> usize {
        self.docs.len()
    }

    pub fn doc(&mut self, id: CaseId) -> Option<&mut CaseDoc> {
        self.docs.get_mut(&id)
    }

    /// A center step (accept, dispatch, ...) made at the center, logged like a push.
    pub fn act(
        &mut self,
        id: CaseId,
        action: &Action,
        by: &Author,
        at: Timestamp,
    ) -> gridsync_core::Result<()> {
        let doc = self.docs.get_mut(&id).expect("case at the center");
        let before = doc.heads();
        doc.act(action, by, at)?;
        let changes = doc.changes_since(&before);
        self.log(id, &changes, "center");
        Ok(())
    }

    fn log(&mut self, case: CaseId, changes: &[Vec<u8>], from_device: &str) {
        for bytes in changes {
            let hash = automerge::Change::from_bytes(bytes.clone())
                .expect("valid change")
                .hash();
            if self.seen.insert(hash) {
                let pos = self.feed.len() as u64 + 1;
                self.feed.push(Entry {
                    pos,
                    case,
                    hash,
                    bytes: bytes.clone(),
                    from_device: from_device.to_owned(),
                });
            }
        }
    }

    fn in_scope(&self, device: &str, case: CaseId) -> bool {
        let Some(prefix) = self.scopes.get(device) else {
            return false;
        };
        if self.revoked.get(device).is_some_and(|r| r.contains(&case)) {
            return false;
        }
        self.docs
            .get(&case)
            .is_some_and(|d| d.case().area_code.starts_with(prefix.as_str()))
    }

    /// Handles one `/v1/sync` body and returns the response body.
    pub fn handle(&mut self, body: &[u8]) -> Vec<u8> {
        self.requests += 1;
        let request =
            SyncRequest::from_body(body, &DecodeLimits::default()).expect("valid request");
        self.respond(&request).to_body()
    }

    pub fn respond(&mut self, request: &SyncRequest) -> SyncResponse {
        let device = request.device_id.clone();
        let mut response = SyncResponse::new(request.cursor);
        for push in &request.push {
            match self.ingest(&device, push) {
                Ok(heads) => response.acks.push(Ack {
                    doc_id: push.doc_id,
                    heads,
                }),
                Err((code, message)) => response.rejected.push(Rejection {
                    doc_id: push.doc_id,
                    code,
                    message,
                }),
            }
        }
        // Pull: everything in scope after the cursor that this device did not push itself.
        let mut bytes = 0u64;
        let mut cursor = request.cursor;
        let mut pull: Vec<DocChanges> = Vec::new();
        for entry in self.feed.iter().filter(|e| e.pos > request.cursor) {
            let wanted = entry.from_device != device && self.in_scope(&device, entry.case);
            if wanted {
                if bytes > 0 && bytes + entry.bytes.len() as u64 > request.max_bytes {
                    response.more = true;
                    break;
                }
                bytes += entry.bytes.len() as u64;
                match pull.iter_mut().find(|d| d.doc_id == entry.case) {
                    Some(d) => d.changes.push(entry.bytes.clone()),
                    None => pull.push(DocChanges {
                        signatures: Vec::new(),
                        doc_id: entry.case,
                        changes: vec![entry.bytes.clone()],
                    }),
                }
            }
            cursor = entry.pos;
        }
        response.pull = pull;
        response.cursor = cursor;
        if let Some(revoked) = self.revoked.get(&device) {
            response.revoked = revoked.iter().copied().collect();
            response.revoked.sort();
        }
        response
    }

    fn ingest(
        &mut self,
        device: &str,
        push: &DocChanges,
    ) -> Result<Vec<[u8; 32]>, (RejectCode, String)> {
        let id = push.doc_id;
        let exists = self.docs.contains_key(&id);
        // A revoked case still takes the device's unsent work (DESIGN §5: push, then purge).
        let was_revoked = self.revoked.get(device).is_some_and(|r| r.contains(&id));
        if exists && !self.in_scope(device, id) && !was_revoked {
            return Err((
                RejectCode::OutOfScope,
                "case outside the device's area".into(),
            ));
        }
        let mut doc = match self.docs.remove(&id) {
            Some(doc) => doc,
            None => CaseDoc::from_changes(&push.changes, self.actor.clone())
                .map_err(|e| (RejectCode::MalformedChange, e.to_string()))?,
        };
        if let Err(e) = doc.apply_changes(&push.changes) {
            if exists {
                self.docs.insert(id, doc);
            }
            return Err((RejectCode::MalformedChange, e.to_string()));
        }
        self.docs.insert(id, doc);
        if !exists && !self.in_scope(device, id) {
            self.docs.remove(&id);
            return Err((
                RejectCode::OutOfScope,
                "case outside the device's area".into(),
            ));
        }
        self.log(id, &push.changes, device);
        let doc = self.docs.get_mut(&id).expect("just inserted");
        Ok(doc.heads().iter().map(|h| h.0).collect())
    }
}
