//! Evidence's rows (migration 0017): blobs held whole, which cases hold them, unfinished
//! uploads and their durable chunks, bytes uploaded per device per day. The bytes
//! themselves live in the object store (`crate::evidence`); a row here is what makes them
//! count, so a chunk written to the store but never recorded is garbage for the collector.

use sqlx::Row;

use super::Db;
use super::scope::Scope;
use crate::error::Result;

/// A blob held whole and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Blob {
    pub(crate) size: i64,
    pub(crate) mime: String,
}

/// An unfinished upload of one blob to one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Upload {
    /// The size declared when it began.
    pub(crate) size: i64,
    /// Bytes held (durable chunks).
    pub(crate) received: i64,
    pub(crate) mime: String,
}

/// A durable chunk: where it starts, its length, its object key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) pos: i64,
    pub(crate) len: i64,
    pub(crate) object: String,
}

/// A chunk to record (see [`Db::commit_chunk`]).
#[derive(Clone, Debug)]
pub(crate) struct NewChunk<'a> {
    pub(crate) case_id: &'a str,
    pub(crate) sha256: &'a str,
    pub(crate) pos: i64,
    pub(crate) len: i64,
    pub(crate) object: &'a str,
    pub(crate) device_id: &'a str,
    pub(crate) day: i64,
    pub(crate) now: i64,
}

impl Db {
    pub(crate) async fn evidence_blob(&self, sha256: &str) -> Result<Option<Blob>> {
        let row = sqlx::query("SELECT size, mime FROM evidence_blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Blob {
            size: r.get(0),
            mime: r.get(1),
        }))
    }

    /// Whether `case_id` holds the blob.
    pub(crate) async fn evidence_linked(&self, case_id: &str, sha256: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM evidence_links WHERE case_id = $1 AND sha256 = $2")
            .bind(case_id)
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Whether a case inside `scope` holds the blob (so its bytes are already the caller's
    /// to see).
    pub(crate) async fn evidence_in_scope(&self, scope: Scope<'_>, sha256: &str) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM evidence_links l JOIN cases k ON k.id = l.case_id
             WHERE l.sha256 = $4 AND {} LIMIT 1",
            Scope::sql(self.dialect, "k", 1)
        );
        let (lo, hi, org) = scope.params();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lo)
            .bind(hi)
            .bind(org)
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Records that `case_id` holds a blob already stored.
    pub(crate) async fn link_evidence(&self, case_id: &str, sha256: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO evidence_links (case_id, sha256, linked_at) VALUES ($1, $2, $3)
             ON CONFLICT (case_id, sha256) DO NOTHING",
        )
        .bind(case_id)
        .bind(sha256)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Bytes of the distinct blobs a case holds.
    pub(crate) async fn evidence_case_bytes(&self, case_id: &str) -> Result<i64> {
        let row = sqlx::query(
            // SUM of BIGINT is NUMERIC on PostgreSQL, which `Any` cannot read.
            "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM evidence_links l
             JOIN evidence_blobs b ON b.sha256 = l.sha256 WHERE l.case_id = $1",
        )
        .bind(case_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Bytes the device uploaded on `day` (UTC days since the epoch).
    pub(crate) async fn evidence_quota_used(&self, device_id: &str, day: i64) -> Result<i64> {
        let row = sqlx::query("SELECT bytes FROM evidence_quota WHERE device_id = $1 AND day = $2")
            .bind(device_id)
            .bind(day)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)).unwrap_or(0))
    }

    pub(crate) async fn evidence_upload(
        &self,
        case_id: &str,
        sha256: &str,
    ) -> Result<Option<Upload>> {
        let row = sqlx::query(
            "SELECT size, received, mime FROM evidence_uploads WHERE case_id = $1 AND sha256 = $2",
        )
        .bind(case_id)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Upload {
            size: r.get(0),
            received: r.get(1),
            mime: r.get(2),
        }))
    }

    /// Begins an upload at 0 bytes, unless one is under way (then nothing changes).
    pub(crate) async fn start_evidence_upload(
        &self,
        case_id: &str,
        sha256: &str,
        size: i64,
        mime: &str,
        device_id: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO evidence_uploads
                 (case_id, sha256, size, received, mime, device_id, started_at, touched_at)
             VALUES ($1, $2, $3, 0, $4, $5, $6, $6)
             ON CONFLICT (case_id, sha256) DO NOTHING",
        )
        .bind(case_id)
        .bind(sha256)
        .bind(size)
        .bind(mime)
        .bind(device_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Makes a chunk durable: in one transaction the upload moves from `pos` to
    /// `pos + len` (only if it still holds exactly `pos` bytes: two requests racing for one
    /// offset, from one process or two, cannot both win), the chunk is listed and the
    /// device's day is charged. `false`: another request got there first.
    pub(crate) async fn commit_evidence_chunk(&self, c: &NewChunk<'_>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let moved = sqlx::query(
            "UPDATE evidence_uploads SET received = $1, touched_at = $2
             WHERE case_id = $3 AND sha256 = $4 AND received = $5",
        )
        .bind(c.pos + c.len)
        .bind(c.now)
        .bind(c.case_id)
        .bind(c.sha256)
        .bind(c.pos)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO evidence_chunks (case_id, sha256, pos, len, object)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.case_id)
        .bind(c.sha256)
        .bind(c.pos)
        .bind(c.len)
        .bind(c.object)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO evidence_quota (device_id, day, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (device_id, day) DO UPDATE SET bytes = evidence_quota.bytes + $3",
        )
        .bind(c.device_id)
        .bind(c.day)
        .bind(c.len)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An upload's chunks in offset order.
    pub(crate) async fn evidence_chunks(&self, case_id: &str, sha256: &str) -> Result<Vec<Chunk>> {
        let rows = sqlx::query(
            "SELECT pos, len, object FROM evidence_chunks
             WHERE case_id = $1 AND sha256 = $2 ORDER BY pos",
        )
        .bind(case_id)
        .bind(sha256)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Chunk {
                pos: r.get(0),
                len: r.get(1),
                object: r.get(2),
            })
            .collect())
    }

    /// The upload is done: the blob is recorded (if it was not), the case holds it, the
    /// upload and its chunk rows are gone. One transaction.
    pub(crate) async fn finish_evidence_upload(
        &self,
        case_id: &str,
        sha256: &str,
        blob: &Blob,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO evidence_blobs (sha256, size, mime, stored_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(blob.size)
        .bind(&blob.mime)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO evidence_links (case_id, sha256, linked_at) VALUES ($1, $2, $3)
             ON CONFLICT (case_id, sha256) DO NOTHING",
        )
        .bind(case_id)
        .bind(sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        forget_upload(&mut tx, case_id, sha256).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drops an upload's rows (its chunk objects are the caller's to delete, listed first).
    pub(crate) async fn discard_evidence_upload(&self, case_id: &str, sha256: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        forget_upload(&mut tx, case_id, sha256).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uploads untouched since `before`, or whose device is revoked: `(case_id, sha256)`.
    pub(crate) async fn stale_evidence_uploads(
        &self,
        before: i64,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT u.case_id, u.sha256 FROM evidence_uploads u
             LEFT JOIN devices d ON d.id = u.device_id
             WHERE u.touched_at < $1 OR d.revoked_at IS NOT NULL",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Blobs stored before `before` that no existing case holds.
    pub(crate) async fn unreferenced_evidence(&self, before: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT b.sha256 FROM evidence_blobs b WHERE b.stored_at < $1 AND NOT EXISTS
                 (SELECT 1 FROM evidence_links l JOIN cases k ON k.id = l.case_id
                  WHERE l.sha256 = b.sha256)",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Forgets a blob if still no existing case holds it; `true` if it was forgotten (then
    /// its objects are the caller's to delete).
    pub(crate) async fn forget_evidence_blob(&self, sha256: &str) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let gone = sqlx::query(
            "DELETE FROM evidence_blobs WHERE sha256 = $1 AND NOT EXISTS
                 (SELECT 1 FROM evidence_links l JOIN cases k ON k.id = l.case_id
                  WHERE l.sha256 = $1)",
        )
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
        if gone.rows_affected() == 1 {
            sqlx::query("DELETE FROM evidence_links WHERE sha256 = $1")
                .bind(sha256)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone.rows_affected() == 1)
    }

    /// Whether a chunk object is recorded (a chunk of a live upload).
    pub(crate) async fn evidence_chunk_known(&self, object: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM evidence_chunks WHERE object = $1")
            .bind(object)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

async fn forget_upload(tx: &mut super::Conn, case_id: &str, sha256: &str) -> Result<()> {
    sqlx::query("DELETE FROM evidence_chunks WHERE case_id = $1 AND sha256 = $2")
        .bind(case_id)
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM evidence_uploads WHERE case_id = $1 AND sha256 = $2")
        .bind(case_id)
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// PostgreSQL advisory lock key of the evidence collector's leader ("gridevid").
const COLLECTOR_LOCK: i64 = 0x6772_6964_6576_6964;

/// The right to collect, held as long as this value lives: on PostgreSQL a session
/// advisory lock on its own connection (one collector per deployment); SQLite has one
/// process.
#[derive(Debug)]
pub(crate) struct CollectorLease {
    _conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
}

/// Takes the collector's lease, or `None` while another process holds it.
pub(crate) async fn lead_collector(db: &Db) -> Result<Option<CollectorLease>> {
    if db.dialect == super::Dialect::Sqlite {
        return Ok(Some(CollectorLease { _conn: None }));
    }
    let mut conn = db.pool().acquire().await?;
    let got: bool = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(COLLECTOR_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    Ok(got.then_some(CollectorLease { _conn: Some(conn) }))
}
