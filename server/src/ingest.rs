//! Group commit of pushes on SQLite. Every sync's push goes through one task that takes the
//! pushes queued at that moment and merges them in one transaction: one commit, one fsync,
//! for however many phones arrived together. SQLite has a single writer, so without this
//! each phone paid its own commit in turn; with it, a burst of phones shares them
//! (3,900 → 5,600 changes/s in `BENCHMARKS.md`). On PostgreSQL, which commits on many
//! connections in parallel, each push keeps its own transaction.
//!
//! Each push is still checked and refused case by case, and acknowledged only after the
//! shared transaction commits. A database failure fails the batch; the phones retry, which
//! is harmless (pushes are idempotent).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use gridsync_core::case::CaseId;
use gridsync_core::protocol::DocChanges;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::db::Dialect;
use crate::db::cases;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::sync::{Caller, Pushed, merge_push};

/// At most this many pushes share a transaction (keeps one batch's latency bounded).
const MAX_BATCH: usize = 64;

/// One device's push, waiting for the committer.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) caller: Caller,
    pub(crate) actors: HashSet<String>,
    pub(crate) push: Arc<Vec<DocChanges>>,
    /// The push merged ahead of the committer, against the cases as they stood then.
    pub(crate) premerged: Option<crate::sync::Premerged>,
    /// The device's store is fresh (cursor 0): forget what it held.
    pub(crate) fresh: bool,
}

type Reply = oneshot::Sender<std::result::Result<Pushed, String>>;

/// The handle handlers push through.
#[derive(Clone, Debug)]
pub struct Ingest {
    queue: mpsc::Sender<(Job, Reply)>,
    /// Merges running ahead of the committer at once: one per core. More would not merge
    /// faster, only hold more documents in memory (200 phones at once reached 240 MiB).
    merging: Arc<Semaphore>,
}

impl Ingest {
    /// The handle and the receiving end, for [`run`].
    pub fn new() -> (Ingest, Committer) {
        let (queue, rx) = mpsc::channel(1024);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let merging = Arc::new(Semaphore::new(cores));
        (Ingest { queue, merging }, Committer { rx })
    }

    /// A slot to merge in (see [`crate::sync::premerge`]).
    pub(crate) async fn merge_slot(&self) -> Result<OwnedSemaphorePermit> {
        self.merging
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Config("the ingest task has stopped".into()))
    }

    pub(crate) async fn push(&self, state: &AppState, job: Job) -> Result<Pushed> {
        if state.db.dialect == Dialect::Postgres {
            let mut done = commit(state.clone(), vec![job]).await?;
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
}

/// The receiving end: [`run`] consumes it.
#[derive(Debug)]
pub struct Committer {
    rx: mpsc::Receiver<(Job, Reply)>,
}

/// The committer loop: runs until every [`Ingest`] handle is gone.
pub async fn run(state: AppState, mut committer: Committer) {
    while let Some(first) = committer.rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match committer.rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<Reply>) = batch.into_iter().unzip();
        let count = jobs.len();
        // A task per batch: a panic fails this batch (its phones retry), not the committer,
        // which would otherwise leave every later push waiting for an answer that never
        // comes.
        let batch = tokio::spawn(commit(state.clone(), jobs));
        let outcome = match batch.await {
            Ok(outcome) => outcome,
            Err(e) => Err(Error::Config(format!("the ingest batch panicked: {e}"))),
        };
        match outcome {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = count, "ingest batch failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

async fn commit(state: AppState, jobs: Vec<Job>) -> Result<Vec<Pushed>> {
    let state = &state;
    let now = state.clock.now().0;
    let mut tx = state.db.writer.begin().await?;
    if state.db.dialect == Dialect::Postgres {
        // Every case of the batch, locked up front in id order: batches of two server
        // processes cannot deadlock.
        let ids: BTreeSet<CaseId> = jobs
            .iter()
            .flat_map(|j| j.push.iter().map(|p| p.doc_id))
            .collect();
        cases::lock_many(&mut tx, &ids.into_iter().collect::<Vec<_>>()).await?;
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(
            merge_push(
                &mut tx,
                state,
                &job.caller,
                &job.actors,
                &job.push,
                job.premerged,
                job.fresh,
                now,
            )
            .await?,
        );
    }
    tx.commit().await?;
    metrics::histogram!("gridsync_ingest_batch_size").record(outcomes.len() as f64);
    Ok(outcomes)
}
