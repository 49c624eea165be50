//! Accounts for the simulated county: one grid worker per village (as in a real county,
//! so each phone's scope holds only its own cases), and device sessions.
//!
//! [`provision`] writes townships, villages and workers straight into the server's
//! database, idempotently (`ON CONFLICT DO NOTHING`), in one transaction, with one argon2
//! hash shared by every worker. Logins are argon2 on the server (slow by design), so a
//! local run may [`register_devices`] directly and sign access tokens with the server's
//! JWT secret; a remote run logs in over HTTP during setup.

use gridsync_server::db::Db;
use sqlx::Acquire;

use super::LoadError;

/// Workers per township in the synthetic county (townships `330182300…`, `…301…`, …).
const VILLAGES_PER_TOWNSHIP: usize = 100;

/// The password of every provisioned worker.
pub const WORKER_PASSWORD: &str = "gridsync-load";

/// A provisioned grid worker and the village their phone serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worker {
    pub user_id: String,
    pub username: String,
    pub org_id: String,
    pub area_code: String,
}

/// The `i`-th worker of the synthetic county (stable across runs).
pub fn worker(i: usize) -> Worker {
    let township = 300 + i / VILLAGES_PER_TOWNSHIP;
    let village = i % VILLAGES_PER_TOWNSHIP;
    let area_code = format!("330182{township:03}{village:03}");
    Worker {
        user_id: format!("u-lg-{i:06}"),
        username: format!("lg.w{i:06}"),
        org_id: area_code.clone(),
        area_code,
    }
}

/// Creates the townships, villages and workers `0..n` that are missing, under the demo
/// county's center (`330182-center`, which must exist: start the server with `--demo`).
pub async fn provision(db: &Db, n: usize) -> Result<Vec<Worker>, LoadError> {
    let workers: Vec<Worker> = (0..n).map(worker).collect();
    let hash = gridsync_server::auth::hash_password(WORKER_PASSWORD);
    let now = now_ms();
    let pool = db.pool();
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let org_sql =
        "INSERT INTO orgs (id, parent_id, name, kind, tier, area_code, scope_prefix, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING";
    for t in 0..n.div_ceil(VILLAGES_PER_TOWNSHIP) {
        let prefix = format!("330182{:03}", 300 + t);
        sqlx::query(org_sql)
            .bind(format!("{prefix}-center"))
            .bind("330182-center")
            .bind(format!("负载测试第{t}镇综治中心"))
            .bind("CENTER")
            .bind("TOWNSHIP")
            .bind(format!("{prefix}000"))
            .bind(&prefix)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    for (i, w) in workers.iter().enumerate() {
        let township = &w.area_code[..9];
        sqlx::query(org_sql)
            .bind(&w.org_id)
            .bind(format!("{township}-center"))
            .bind(format!("负载测试第{i}村"))
            .bind("VILLAGE")
            .bind("VILLAGE")
            .bind(&w.area_code)
            .bind(&w.area_code)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, role, org_id, active, created_at)
             VALUES ($1, $2, $3, $4, 'GRID_WORKER', $5, 1, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&w.user_id)
        .bind(&w.username)
        .bind(format!("网格员{i}"))
        .bind(&hash)
        .bind(&w.org_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(workers)
}

/// Registers devices and binds their Automerge actors, as a login would, in one
/// transaction: `(device_id, user_id, actor_hex, signing_key_hex)`.
pub async fn register_devices(
    db: &Db,
    devices: &[(String, String, String, String)],
) -> Result<(), LoadError> {
    let now = now_ms();
    let pool = db.pool();
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    for (device, user, actor, key) in devices {
        sqlx::query(
            "INSERT INTO devices (id, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(device)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_keys (public_key, device_id, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $3) ON CONFLICT (public_key) DO NOTHING",
        )
        .bind(key)
        .bind(device)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_actors (actor, device_id, public_key) VALUES ($1, $2, $3)
             ON CONFLICT (actor) DO NOTHING",
        )
        .bind(actor.to_ascii_lowercase())
        .bind(device)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
