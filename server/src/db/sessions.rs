//! Console sessions (`web_sessions`): created at a console sign-in, found by the hash of
//! the cookie's secret, touched as they are used, ended at sign-out.

use sqlx::Row;

use super::Db;
use crate::error::Result;

/// A console session as stored.
#[derive(Clone, Debug)]
pub(crate) struct WebSession {
    pub(crate) user_id: String,
    pub(crate) device_id: String,
    pub(crate) csrf_token: String,
    pub(crate) last_seen_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) ended_at: Option<i64>,
}

/// Sessions are kept this long after they expired (then deleted at the next sign-in).
const KEEP_EXPIRED_MS: i64 = 24 * 3_600_000;

impl Db {
    /// Stores a new session; sessions expired more than a day ago are deleted meanwhile.
    pub(crate) async fn insert_web_session(
        &self,
        token_hash: &str,
        user_id: &str,
        device_id: &str,
        csrf_token: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(now - KEEP_EXPIRED_MS)
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO web_sessions
                 (token_hash, user_id, device_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(device_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(crate) async fn web_session(&self, token_hash: &str) -> Result<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT user_id, device_id, csrf_token, last_seen_at, expires_at, ended_at
             FROM web_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(WebSession {
                user_id: r.try_get("user_id")?,
                device_id: r.try_get("device_id")?,
                csrf_token: r.try_get("csrf_token")?,
                last_seen_at: r.try_get("last_seen_at")?,
                expires_at: r.try_get("expires_at")?,
                ended_at: r.try_get("ended_at")?,
            })
        })
        .transpose()
    }

    /// Marks the session used now. Minute resolution: most requests write nothing.
    pub(crate) async fn touch_web_session(&self, token_hash: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE web_sessions SET last_seen_at = $2
             WHERE token_hash = $1 AND last_seen_at < $2 - 60000",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Ends a session (sign-out).
    pub(crate) async fn end_web_session(&self, token_hash: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE web_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
