//! One simulated phone: a real `FieldStore` in its own directory, a session, and a
//! transport that counts what crosses the wire (HTTP bodies of `/v1/sync`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gridsync_core::case::CaseId;
use gridsync_core::protocol::{CONTENT_ENCODING, CONTENT_TYPE};
use gridsync_core::store::{FieldStore, SyncError, SyncReport};
use gridsync_core::workflow::{Action, Author, Role};

use super::LoadError;
use super::accounts::Worker;
use super::content;

/// The measurements of one sync (all its rounds).
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncOutcome {
    pub(crate) report: SyncReport,
    /// Time spent waiting on the server (request sent → response read), all rounds.
    pub(crate) wait: Duration,
    pub(crate) bytes_up: u64,
    pub(crate) bytes_down: u64,
    pub(crate) requests: u64,
}

/// How the phone proves who it is.
#[derive(Debug)]
pub(crate) enum Session {
    /// Tokens from `/v1/auth/login`, rotated through `/v1/auth/refresh` on a 401.
    Login { access: String, refresh: String },
    /// Access tokens signed locally with the server's key (re-signed before they expire).
    Minted { access: String, at: Instant },
}

/// A phone of the fleet.
#[derive(Debug)]
pub(crate) struct LoadPhone {
    pub(crate) index: usize,
    pub(crate) device_id: String,
    pub(crate) worker: Worker,
    path: PathBuf,
    store: Option<FieldStore>,
    pub(crate) session: Option<Session>,
    /// Cases this phone recorded (in order).
    pub(crate) cases: Vec<CaseId>,
    /// Submitted cases the center has not acted on yet (fanout candidates).
    pub(crate) submitted: Vec<CaseId>,
    seed: u64,
}

impl LoadPhone {
    pub(crate) fn new(index: usize, device_id: String, worker: Worker, path: PathBuf) -> Self {
        LoadPhone {
            index,
            device_id,
            worker,
            path,
            store: None,
            session: None,
            cases: Vec::new(),
            submitted: Vec::new(),
            seed: (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        }
    }

    /// The store, opened on first use (a fleet of thousands keeps most of them closed).
    pub(crate) fn store(&mut self) -> Result<&mut FieldStore, LoadError> {
        if self.store.is_none() {
            let mut store = FieldStore::open(&self.path, &self.device_id, &crate::test_key())?;
            if store.identity()?.is_none() {
                store.set_identity(&Author::new(
                    &self.worker.user_id,
                    Role::GridWorker,
                    &self.worker.org_id,
                ))?;
            }
            self.store = Some(store);
        }
        Ok(self.store.as_mut().expect("opened above"))
    }

    pub(crate) fn path_dir(&self) -> &std::path::Path {
        self.path.parent().unwrap_or(&self.path)
    }

    /// Closes the store (its file handles); the next use reopens it.
    pub(crate) fn park(&mut self) {
        self.store = None;
    }

    pub(crate) fn actor_hex(&mut self) -> Result<String, LoadError> {
        Ok(self.store()?.actor_id().to_hex_string())
    }

    /// The install's public signing key (hex), registered with its actor.
    pub(crate) fn key_hex(&mut self) -> Result<String, LoadError> {
        Ok(gridsync_core::store::hex(&self.store()?.signing_key()))
    }

    fn next_seed(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.seed >> 11
    }

    /// Records a case offline: two parties and a first note; every `submit_every`-th case
    /// is also submitted. Returns the number of changes written.
    pub(crate) fn record_case(&mut self, submit: bool) -> Result<u64, LoadError> {
        let seed = self.next_seed();
        let area = self.worker.area_code.clone();
        let store = self.store()?;
        let id = store.record(&content::new_case(&area, seed))?;
        let (kind, text) = content::note(seed);
        store.add_note(id, kind, &text)?;
        let mut changes = 2;
        if submit {
            store.submit(id)?;
            changes += 1;
            self.submitted.push(id);
        }
        self.cases.push(id);
        Ok(changes)
    }

    /// A day offline: `edits` field edits and `notes` notes spread over the phone's cases,
    /// plus submitting up to two of its drafts. Returns the number of changes written.
    pub(crate) fn work_a_day(&mut self, edits: usize, notes: usize) -> Result<u64, LoadError> {
        if self.cases.is_empty() {
            self.record_case(false)?;
        }
        let mut changes = 0;
        for _ in 0..edits {
            let seed = self.next_seed();
            let id = self.cases[(seed % self.cases.len() as u64) as usize];
            self.store()?.edit(id, &content::edit(seed))?;
            changes += 1;
        }
        for _ in 0..notes {
            let seed = self.next_seed();
            let id = self.cases[(seed % self.cases.len() as u64) as usize];
            let (kind, text) = content::note(seed);
            self.store()?.add_note(id, kind, &text)?;
            changes += 1;
        }
        let drafts: Vec<CaseId> = self
            .cases
            .iter()
            .filter(|c| !self.submitted.contains(c))
            .take(2)
            .copied()
            .collect();
        for id in drafts {
            self.store()?.act(id, &Action::Submit {})?;
            self.submitted.push(id);
            changes += 1;
        }
        Ok(changes)
    }

    /// Syncs until the center has nothing more, counting bytes, requests and waiting time.
    pub(crate) fn sync(
        &mut self,
        agent: &ureq::Agent,
        base_url: &str,
        token: &str,
    ) -> Result<SyncOutcome, LoadError> {
        let mut out = SyncOutcome::default();
        let (mut up, mut down, mut requests, mut wait) = (0u64, 0u64, 0u64, Duration::ZERO);
        let report = self
            .store()?
            .sync_via(50, |body: Vec<u8>| {
                up += body.len() as u64;
                requests += 1;
                let started = Instant::now();
                let answer = post_sync(agent, base_url, token, &body);
                wait += started.elapsed();
                if let Ok(b) = &answer {
                    down += b.len() as u64;
                }
                answer
            })
            .map_err(|e| match e {
                SyncError::Transport(e) => e,
                SyncError::Store(e) => LoadError::Store(e),
            })?;
        out.report = report;
        out.wait = wait;
        out.bytes_up = up;
        out.bytes_down = down;
        out.requests = requests;
        Ok(out)
    }
}

fn post_sync(
    agent: &ureq::Agent,
    base_url: &str,
    token: &str,
    body: &[u8],
) -> Result<Vec<u8>, LoadError> {
    let mut resp = agent
        .post(&format!("{base_url}/v1/sync"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", CONTENT_TYPE)
        .header("Content-Encoding", CONTENT_ENCODING)
        .send(body)
        .map_err(LoadError::transport)?;
    let status = resp.status().as_u16();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(LoadError::transport)?;
    if status == 200 {
        Ok(bytes)
    } else {
        Err(LoadError::from_body(status, &bytes))
    }
}
