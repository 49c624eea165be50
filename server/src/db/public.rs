//! The citizens' pages as stored: one-time codes (`public_codes`, hashes only) and the
//! cases filed online (`public_filings`: the applicant's mobile, the messages sent, the
//! follow-up survey's token hash).

use sqlx::Row;

use super::Db;
use crate::error::Result;

/// A live one-time code.
#[derive(Clone, Debug)]
pub(crate) struct Code {
    pub(crate) code_hash: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) tries: i64,
}

/// Stores a new code for (mobile, purpose), replacing any earlier one.
pub(crate) async fn put_code(
    db: &Db,
    mobile_hash: &str,
    purpose: &str,
    code_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO public_codes (mobile_hash, purpose, code_hash, created_at, expires_at, tries)
         VALUES ($1, $2, $3, $4, $5, 0)
         ON CONFLICT (mobile_hash, purpose) DO UPDATE SET code_hash = excluded.code_hash,
             created_at = excluded.created_at, expires_at = excluded.expires_at, tries = 0",
    )
    .bind(mobile_hash)
    .bind(purpose)
    .bind(code_hash)
    .bind(now)
    .bind(expires_at)
    .execute(&db.writer)
    .await?;
    Ok(())
}

pub(crate) async fn code(db: &Db, mobile_hash: &str, purpose: &str) -> Result<Option<Code>> {
    let row = sqlx::query(
        "SELECT code_hash, created_at, expires_at, tries FROM public_codes
         WHERE mobile_hash = $1 AND purpose = $2",
    )
    .bind(mobile_hash)
    .bind(purpose)
    .fetch_optional(&db.writer)
    .await?;
    row.map(|r| {
        Ok(Code {
            code_hash: r.try_get("code_hash")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            tries: r.try_get("tries")?,
        })
    })
    .transpose()
}

/// Counts a try; `false` when another request spent the code meanwhile (or it is gone).
pub(crate) async fn count_try(
    db: &Db,
    mobile_hash: &str,
    purpose: &str,
    tries_before: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE public_codes SET tries = tries + 1
         WHERE mobile_hash = $1 AND purpose = $2 AND tries = $3",
    )
    .bind(mobile_hash)
    .bind(purpose)
    .bind(tries_before)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A code is single-use: spent, it is deleted.
pub(crate) async fn spend_code(db: &Db, mobile_hash: &str, purpose: &str) -> Result<()> {
    sqlx::query("DELETE FROM public_codes WHERE mobile_hash = $1 AND purpose = $2")
        .bind(mobile_hash)
        .bind(purpose)
        .execute(&db.writer)
        .await?;
    Ok(())
}

/// Deletes codes that expired more than a day ago (one row per mobile and purpose).
pub(crate) async fn purge_codes(db: &Db, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM public_codes WHERE expires_at < $1")
        .bind(now - 24 * 3_600_000)
        .execute(&db.writer)
        .await?;
    Ok(())
}

/// Records a case filed online.
pub(crate) async fn insert_filing(
    db: &Db,
    case_id: &str,
    mobile_hash: &str,
    mobile: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO public_filings (case_id, mobile_hash, mobile, filed_at, notified)
         VALUES ($1, $2, $3, $4, ',')",
    )
    .bind(case_id)
    .bind(mobile_hash)
    .bind(mobile)
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(())
}

/// Cases filed with this mobile since `since`.
pub(crate) async fn filings_since(db: &Db, mobile_hash: &str, since: i64) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM public_filings WHERE mobile_hash = $1 AND filed_at >= $2",
    )
    .bind(mobile_hash)
    .bind(since)
    .fetch_one(&db.writer)
    .await?;
    Ok(row.try_get("n")?)
}

/// The case numbered `case_no` if it was filed online with this mobile.
pub(crate) async fn filed_case(
    db: &Db,
    case_no: &str,
    mobile_hash: &str,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT f.case_id FROM public_filings f JOIN cases c ON c.id = f.case_id
         WHERE c.case_no = $1 AND f.mobile_hash = $2",
    )
    .bind(case_no)
    .bind(mobile_hash)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok(r.try_get("case_id")?)).transpose()
}

/// Whether any case numbered `case_no` was filed with this mobile (a code is only sent then).
pub(crate) async fn has_filing(db: &Db, case_no: &str, mobile_hash: &str) -> Result<bool> {
    Ok(filed_case(db, case_no, mobile_hash).await?.is_some())
}

/// A filing whose applicant may still be owed a message: the case's status and number.
#[derive(Clone, Debug)]
pub(crate) struct Watched {
    pub(crate) case_id: String,
    pub(crate) mobile: String,
    pub(crate) mobile_hash: String,
    pub(crate) notified: String,
    pub(crate) status: String,
    pub(crate) case_no: Option<String>,
}

/// Filings not yet through the survey message.
pub(crate) async fn watched(db: &Db) -> Result<Vec<Watched>> {
    let rows = sqlx::query(
        "SELECT f.case_id, f.mobile, f.mobile_hash, f.notified, c.status, c.case_no
         FROM public_filings f JOIN cases c ON c.id = f.case_id
         WHERE f.notified NOT LIKE '%,SURVEY,%'
         ORDER BY f.filed_at LIMIT 5000",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Watched {
                case_id: r.try_get("case_id")?,
                mobile: r.try_get("mobile")?,
                mobile_hash: r.try_get("mobile_hash")?,
                notified: r.try_get("notified")?,
                status: r.try_get("status")?,
                case_no: r.try_get("case_no")?,
            })
        })
        .collect()
}

/// Marks the applicant's messages up to `notified` as queued.
pub(crate) async fn set_notified(db: &Db, case_id: &str, notified: &str) -> Result<()> {
    sqlx::query("UPDATE public_filings SET notified = $2 WHERE case_id = $1")
        .bind(case_id)
        .bind(notified)
        .execute(&db.writer)
        .await?;
    Ok(())
}

/// Sets the follow-up survey's token (its hash), once per case: `false` when it was set.
pub(crate) async fn set_survey(db: &Db, case_id: &str, token_hash: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE public_filings SET survey_hash = $2 WHERE case_id = $1 AND survey_hash IS NULL",
    )
    .bind(case_id)
    .bind(token_hash)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The case a survey token belongs to, if it is unanswered.
pub(crate) async fn survey_case(db: &Db, token_hash: &str) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT case_id FROM public_filings
         WHERE survey_hash = $1 AND survey_answered_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(&db.writer)
    .await?;
    row.map(|r| Ok(r.try_get("case_id")?)).transpose()
}

/// Spends a survey token; `false` when it was spent meanwhile.
pub(crate) async fn answer_survey(db: &Db, token_hash: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE public_filings SET survey_answered_at = $2
         WHERE survey_hash = $1 AND survey_answered_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Undoes [`answer_survey`] when the follow-up step could not be taken.
pub(crate) async fn unanswer_survey(db: &Db, token_hash: &str) -> Result<()> {
    sqlx::query("UPDATE public_filings SET survey_answered_at = NULL WHERE survey_hash = $1")
        .bind(token_hash)
        .execute(&db.writer)
        .await?;
    Ok(())
}
