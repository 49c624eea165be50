//! The center's sync ingest: a decoded `SyncRequest` goes to the server's sync logic
//! (`gridsync_server::sync::sync`: merge, checks, projection, auto-dispatch, pull) on a real
//! SQLite database with the demo county, as the demo grid worker signed in on a phone.
//!
//! Invariants: no panic; the exchange succeeds (a bad case is refused on its own with a
//! known `RejectCode`, never `internal`, and never fails the whole sync); every pushed case
//! is either acknowledged or refused; the response encodes and decodes. And the trust
//! boundary (DESIGN §5): every pushed case the center held still loads; a refused one is
//! exactly as before (same heads); whatever was acknowledged, the events and notes present
//! before read exactly as before and in order, and the parties present before are all there,
//! in order (their fields may change: a phone may edit a party).
//!
//! The database is opened once per process; before every input it is put back to the state
//! right after login, so each input meets the same database and a crash reproduces alone.
//! Input: a mode byte, then raw body bytes (decoded as the handler does) or a script of up
//! to three sync rounds whose pushes are real Automerge changes built by `gridsync_fuzz`.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use arbitrary::Unstructured;
use automerge::{AutoCommit, ChangeHash};
use axum::body::Body;
use gridsync_core::case::{CaseId, Timestamp};
use gridsync_core::clock::ManualClock;
use gridsync_core::protocol::{DecodeLimits, DocChanges, RejectCode, SyncRequest, SyncResponse};
use gridsync_fuzz::{
    BOUND_ACTORS, Held, KNOWN_REJECT_CODES, NOW_MS, ORG, USER, actor, case_id, record, run,
};
use gridsync_server::caller::Caller;
use gridsync_server::{AppState, Config};
use libfuzzer_sys::fuzz_target;
use sqlx::AnyConnection;
use tower::ServiceExt;

const DEVICE: &str = "fuzz-phone";

struct Fixture {
    rt: tokio::runtime::Runtime,
    state: AppState,
    caller: Caller,
    /// A connection with the post-login template attached, for the reset.
    reset: Mutex<(AnyConnection, String)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        gridsync_fuzz::report_panics_without_aborting();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = work_dir();
        let (state, caller, conn, script) = rt.block_on(async {
            let config = Config {
                database_url: format!("sqlite://{}?mode=rwc", dir.join("center.db").display()),
                jwt_secret: Some("fuzzing-secret-0123456789".into()),
                demo: true,
                scan_every: None,
                time_zone: gridsync_server::county_time::DEFAULT_TIME_ZONE.into(),
                require_signatures: false,
            };
            let clock = Arc::new(ManualClock::new(Timestamp(NOW_MS)));
            let (state, _) = gridsync_server::open(&config, clock).await.expect("open");
            login(&state).await;
            let db = &state.db;
            let user = db.user(USER).await.expect("user").expect("demo user");
            let org = db.org(ORG).await.expect("org").expect("demo org");
            let caller = Caller {
                user,
                org,
                device_id: DEVICE.into(),
                former_org: None,
            };

            let template = dir.join("template.db");
            let mut conn = db.pool().acquire().await.expect("connection").detach();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "VACUUM INTO '{0}'; PRAGMA foreign_keys = OFF; ATTACH DATABASE '{0}' AS tpl;",
                template.display()
            )))
            .execute(&mut conn)
            .await
            .expect("template");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM tpl.sqlite_master WHERE type = 'table'
                 AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND name <> 'sqlite_stat1'",
            )
            .fetch_all(&mut conn)
            .await
            .expect("tables");
            let mut script = String::from("BEGIN IMMEDIATE;");
            for t in &tables {
                script.push_str(&format!(
                    "DELETE FROM main.\"{t}\"; INSERT INTO main.\"{t}\" SELECT * FROM tpl.\"{t}\";"
                ));
            }
            script.push_str("COMMIT;");
            (state, caller, conn, script)
        });
        Fixture {
            rt,
            state,
            caller,
            reset: Mutex::new((conn, script)),
        }
    })
}

/// A directory of this process for the database; those of dead fuzzing processes go.
fn work_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
    .join("gridsync-fuzz");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            let name = e.file_name();
            if !PathBuf::from("/proc").join(&name).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// Signs the grid worker in on the fuzzing phone through the real login route, which
/// registers the device and binds its Automerge actors.
async fn login(state: &AppState) {
    let actors: Vec<String> = (0..BOUND_ACTORS)
        .map(|n| actor(n).to_hex_string())
        .collect();
    let body = serde_json::json!({
        "username": "wang.grid", "password": gridsync_server::demo::DEMO_PASSWORD,
        "device_id": DEVICE, "actor_ids": actors,
    });
    let mut request = axum::http::Request::post("/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let response = gridsync_server::app(state.clone())
        .oneshot(request)
        .await
        .expect("login");
    assert!(
        response.status().is_success(),
        "login: {}",
        response.status()
    );
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    f.rt.block_on(async {
        {
            let mut guard = f.reset.lock().expect("reset lock");
            let (conn, script) = &mut *guard;
            sqlx::raw_sql(sqlx::AssertSqlSafe(script.clone()))
                .execute(conn)
                .await
                .expect("reset");
        }
        let Some((&mode, rest)) = data.split_first() else {
            return;
        };
        if mode % 4 == 0 {
            // Raw: what the handler decodes from a body, sent from our device.
            let limits = DecodeLimits::default();
            if let Ok(mut request) = SyncRequest::from_body(rest, &limits) {
                request.device_id = DEVICE.into();
                exchange(f, &request).await;
            }
        } else {
            rounds(f, &mut Unstructured::new(rest)).await;
        }
    });
});

/// Up to three sync rounds; each pushes changes of documents built by scripts.
async fn rounds(f: &Fixture, u: &mut Unstructured<'_>) {
    let mut docs: BTreeMap<u8, AutoCommit> = BTreeMap::new();
    let mut sent: BTreeMap<u8, Vec<ChangeHash>> = BTreeMap::new();
    let mut cursor = 0u64;
    for _ in 0..u.int_in_range(1..=3u8).unwrap_or(1) {
        let mut request = SyncRequest::new(DEVICE, cursor, 256 * 1024);
        if let Ok(true) = u.ratio(1, 8) {
            request.cursor = u.arbitrary().unwrap_or(0);
        }
        if let Ok(true) = u.ratio(1, 8) {
            request.max_bytes = u.arbitrary().unwrap_or(0);
        }
        for _ in 0..u.int_in_range(0..=2u8).unwrap_or(0) {
            let Ok(n) = u.int_in_range(0..=3u8) else {
                break;
            };
            let who = actor(u.int_in_range(0..=7).unwrap_or(0));
            if !docs.contains_key(&n) {
                let Ok(doc) = record(u, case_id(n), who.clone()) else {
                    break;
                };
                docs.insert(n, doc);
            }
            let doc = docs.get_mut(&n).expect("just inserted");
            if let Ok(true) = u.ratio(1, 4) {
                // Another of the phone's actors (or a stranger) continues the document.
                *doc = doc.fork().with_actor(who);
            }
            let _ = run(u, doc, 24);
            let since = if u.ratio(1, 3).unwrap_or(false) {
                Vec::new()
            } else {
                sent.get(&n).cloned().unwrap_or_default()
            };
            let mut changes: Vec<Vec<u8>> = doc
                .get_changes(&since)
                .into_iter()
                .map(|mut c| c.bytes().into_owned())
                .collect();
            sent.insert(n, doc.get_heads());
            mangle(u, &mut changes);
            // Unsigned, as an older app pushes (accepted where signatures are not required).
            request.push.push(DocChanges::new(case_id(n), changes));
        }
        // Over the wire and back, as the handler receives it.
        let body = request.to_body();
        let request = SyncRequest::from_body(&body, &DecodeLimits::default()).expect("own body");
        let response = exchange(f, &request).await;
        cursor = response.cursor;
    }
}

/// What a broken or hostile app might do to its outbox.
fn mangle(u: &mut Unstructured<'_>, changes: &mut Vec<Vec<u8>>) {
    if changes.is_empty() || !u.ratio(1, 6).unwrap_or(false) {
        return;
    }
    let i = u.choose_index(changes.len()).unwrap_or(0);
    match u.int_in_range(0..=4u8).unwrap_or(0) {
        0 => {
            changes.remove(i);
        }
        1 => changes.push(changes[i].clone()),
        2 => changes.reverse(),
        3 => {
            let c = &mut changes[i];
            if !c.is_empty() {
                let at = u.choose_index(c.len()).unwrap_or(0);
                c[at] ^= u.arbitrary::<u8>().unwrap_or(1) | 1;
            }
        }
        _ => {
            let half = changes[i].len() / 2;
            changes[i].truncate(half);
        }
    }
}

async fn exchange(f: &Fixture, request: &SyncRequest) -> SyncResponse {
    // To turn a finding into a regression test: the requests as bodies, numbered.
    if let Some(dir) = std::env::var_os("GRIDSYNC_FUZZ_DUMP") {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = std::fs::write(
            PathBuf::from(dir).join(format!("request-{n}.cbor")),
            request.encode(),
        );
    }
    let ids: BTreeSet<CaseId> = request.push.iter().map(|p| p.doc_id).collect();
    let mut before = BTreeMap::new();
    for id in &ids {
        match gridsync_server::center::cases::load(&f.state, *id).await {
            Ok(Some(mut doc)) => {
                before.insert(*id, Held::of(&mut doc));
            }
            Ok(None) => {}
            Err(e) => panic!("case {id} does not load at the center before the push: {e}"),
        }
    }
    let (response, _stats) = match gridsync_server::sync::sync(&f.state, &f.state.ingest, &f.caller, request).await {
        Ok(done) => done,
        Err(e) => panic!("sync failed instead of refusing case by case: {e:?}"),
    };
    let pushed: BTreeSet<_> = request.push.iter().map(|p| p.doc_id).collect();
    let mut answered = BTreeSet::new();
    for ack in &response.acks {
        assert!(pushed.contains(&ack.doc_id), "ack for a case not pushed");
        answered.insert(ack.doc_id);
    }
    for r in &response.rejected {
        assert!(pushed.contains(&r.doc_id), "rejection of a case not pushed");
        assert!(
            !matches!(r.code, RejectCode::Internal)
                && KNOWN_REJECT_CODES.contains(&r.code.as_str()),
            "untyped refusal: {} {}",
            r.code,
            r.message
        );
        answered.insert(r.doc_id);
    }
    assert_eq!(
        answered, pushed,
        "every pushed case is acknowledged or refused"
    );
    let limits = DecodeLimits::default();
    let decoded = SyncResponse::from_body(&response.to_body(), &limits).expect("response decodes");
    assert_eq!(decoded, response);
    // What others wrote survives, and every case the center held still loads.
    for (id, held) in &before {
        let mut doc = match gridsync_server::center::cases::load(&f.state, *id).await {
            Ok(Some(doc)) => doc,
            Ok(None) => panic!("case {id} is gone from the center"),
            Err(e) => panic!("case {id} no longer loads at the center: {e}"),
        };
        let after = Held::of(&mut doc);
        let refused = response.rejected.iter().any(|r| r.doc_id == *id);
        if refused {
            assert_eq!(
                after.heads, held.heads,
                "case {id} was refused, yet it changed"
            );
        }
        if let Err(what) = held.kept_in(&after) {
            panic!("case {id}: {what}");
        }
    }
    response
}
