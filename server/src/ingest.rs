//! The push path (DESIGN §5, "The trust boundary"): what a phone sends is hostile until
//! judged, and flows one way through these stages, each a module:
//!
//! 1. decode (`http::sync`, `gridsync_core::protocol`) and authenticate the device (token);
//! 2. [`merge`]: verify each change's signature with the key the device registered for its
//!    actor (issue 17; before anything else is read from it), drop what the center holds,
//!    bind each new change to the device's actors,
//!    judge each by its operations against the case as its author saw it, apply it (changes
//!    missing a dependency are parked, never applied or served);
//! 3. [`check`]: the merged result (events, time limits, scope, area moves), then the fold;
//! 4. [`commit`]: one transaction (shared by the pushes queued together on SQLite), then
//!    acknowledgements;
//! 5. hooks (high-risk alerts, auto-dispatch) and the pull, called by [`crate::sync`] after.
//!
//! A refused case fails only itself; a stored case that does not open is reported and
//! refused alone. Nothing here calls back into `sync` or `pull`.

mod check;
mod commit;
mod merge;

use std::collections::HashSet;
use std::sync::Arc;

use gridsync_core::case::CaseId;
use gridsync_core::protocol::{Ack, DocChanges, RejectCode, Rejection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::state::Center;

pub use commit::{Committer, run};

/// A case refused, with the reason the phone is told.
type Refusal = (RejectCode, String);

/// The pushing device's actors (lowercase hex), each with the public key its changes are
/// signed with (`None`: bound before the device registered a key).
pub(crate) type Actors =
    std::collections::HashMap<String, Option<gridsync_core::signing::PublicKey>>;

/// What one push did (counts for logs and metrics; no personal data).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub(crate) pushed_cases: usize,
    pub(crate) new_changes: usize,
    pub(crate) rejected: usize,
}

/// What one device's push did, inside a (shared) transaction.
#[derive(Debug, Default)]
pub(crate) struct Pushed {
    pub(crate) acks: Vec<Ack>,
    /// Merged cases with changes the center holds but has not applied (their dependencies
    /// are missing): only heads tell the phone which of its changes are in.
    pub(crate) partial: HashSet<CaseId>,
    /// Accepted cases that now stand SUBMITTED (candidates for auto-dispatch).
    pub(crate) submitted: Vec<CaseId>,
    /// Cases the center lists from this push on (new, or out of the draft): published
    /// as `case_new` once committed.
    pub(crate) new_cases: Vec<crate::live::LiveEvent>,
    pub(crate) rejected: Vec<Rejection>,
    pub(crate) counts: Counts,
}

/// One device's push, waiting for the committer.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) caller: Caller,
    pub(crate) actors: Actors,
    pub(crate) push: Arc<Vec<DocChanges>>,
    /// The push merged ahead of the committer, against the cases as they stood then.
    premerged: Option<merge::Premerged>,
    /// The device's store is fresh (cursor 0): forget what it held.
    pub(crate) fresh: bool,
}

type Reply = oneshot::Sender<std::result::Result<Pushed, String>>;

/// The handle pushes go through: the center it merges into, the committer's queue.
#[derive(Clone, Debug)]
pub struct Ingest {
    center: Center,
    queue: mpsc::Sender<(Job, Reply)>,
    /// Merges running ahead of the committer at once: one per core. More would not merge
    /// faster, only hold more documents in memory (200 phones at once reached 240 MiB).
    merging: Arc<Semaphore>,
}

impl Ingest {
    /// The handle and the receiving end, for [`run`].
    pub fn new(center: Center) -> (Ingest, Committer) {
        let (queue, rx) = mpsc::channel(1024);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let merging = Arc::new(Semaphore::new(cores));
        let committer = Committer {
            center: center.clone(),
            rx,
        };
        (
            Ingest {
                center,
                queue,
                merging,
            },
            committer,
        )
    }

    /// A slot to merge in (see [`merge::premerge`]).
    async fn merge_slot(&self) -> Result<OwnedSemaphorePermit> {
        self.merging
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Config("the ingest task has stopped".into()))
    }

    async fn commit(&self, job: Job) -> Result<Pushed> {
        if !self.center.db.has_single_writer() {
            let mut done = commit::commit(self.center.clone(), vec![job]).await?;
            return Ok(done.pop().unwrap_or_default());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((job, reply))
            .await
            .map_err(|_| Error::Config("the ingest task has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Config("the ingest task has stopped".into()))?
            .map_err(Error::Config)
    }

    /// Runs a device's push through the stages: merged ahead (in parallel with other
    /// pushes), then committed. `fresh`: the device's store is new (cursor 0).
    pub(crate) async fn push(
        &self,
        caller: &Caller,
        push: &[DocChanges],
        fresh: bool,
    ) -> Result<Pushed> {
        // Read before queueing: on PostgreSQL the writer is the shared pool, and a
        // transaction waiting for a second connection could starve it.
        let actors: Actors = if push.is_empty() {
            Actors::new()
        } else {
            self.center
                .db
                .device_actors(&caller.device_id)
                .await?
                .into_iter()
                .map(|(actor, key)| {
                    let key = key.and_then(|k| gridsync_core::signing::parse_public_key(&k));
                    (actor, key)
                })
                .collect()
        };
        // One copy of the pushed changes, shared by the merge ahead and the committer.
        let push = Arc::new(push.to_vec());
        let premerged = if push.is_empty() {
            None
        } else {
            Some(merge::premerge(self, caller, &actors, push.clone()).await?)
        };
        self.commit(Job {
            caller: caller.clone(),
            actors,
            push,
            premerged,
            fresh,
        })
        .await
    }
}

/// Whether each pushed case appears once (a repeated case's later changes are not merged,
/// so the compact acknowledgement would cover what was not taken).
pub(crate) fn names_each_case_once(push: &[DocChanges]) -> bool {
    merge::distinct(push).len() == push.len()
}
