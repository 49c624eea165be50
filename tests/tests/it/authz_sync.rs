//! The permission matrix of `POST /v1/sync`, the phones' only way in: every role that can
//! hold a phone × every event kind pushed as a raw Automerge change (what a tampered client
//! can send) × a case in and out of the caller's scope, plus field edits and forged
//! authorship. Expected, cell by cell: a case outside the scope, or any case on the device
//! of a role whose devices hold no cases (supervisor, administrator), is refused
//! `out_of_scope`; an event the role may not author from a device (`may_push`: the
//! center's own steps are taken at the center), or authored as someone else, or an
//! altered event, is refused `event_not_permitted`; a field the role may not edit (or the
//! center's time limits) is refused `operation_not_permitted`; a permitted event or field
//! edit on a case in scope is acknowledged. After every cell the center's copy is read back: a refused case is exactly
//! as before (same heads, no forged event), an accepted one holds the pushed event, and a
//! legitimate edit pushed in the same batch always lands (nothing lost beside a refusal).

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use gridsync_core::case::{CaseId, LIMIT_KEYS, Part, may_edit};
use gridsync_core::protocol::DocChanges;
use gridsync_core::workflow::{Author, EventKind, Role, may_push};
use gridsync_server::db::accounts::User;
use gridsync_tests::{Phone, TestServer};

use crate::forge::{append_event, load, push, raw_change};
use serde_json::json;

/// A payload that parses for each kind (the fold, not the ingest, judges the state).
pub(crate) fn payload(kind: EventKind) -> serde_json::Value {
    match kind {
        EventKind::Return | EventKind::Void | EventKind::SendBack | EventKind::Reopen => {
            json!({ "reason": "理由" })
        }
        EventKind::Dispatch => {
            json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" })
        }
        EventKind::Accept => json!({ "case_no": "330182-20261128-999999", "tier": "COUNTY" }),
        EventKind::ExtensionRequest => json!({ "days": 3, "reason": "等待鉴定" }),
        EventKind::ExtensionDecision => json!({ "approved": true }),
        EventKind::Escalate => json!({ "to_tier": "COUNTY", "reason": "提级" }),
        EventKind::Resolve => json!({ "success": true, "outcome": "调解成功" }),
        EventKind::ResolveOnSite => json!({ "outcome": "当场化解" }),
        EventKind::FollowUp => {
            json!({ "method": "PHONE", "satisfaction": 5, "agreement_performed": null, "note": "" })
        }
        EventKind::Supervise => json!({ "level": "NORMAL" }),
        EventKind::CoHandlingFeedback => json!({ "opinion": "已核实，建议调解" }),
        _ => json!({}),
    }
}

/// What a cell pushes.
enum Probe {
    /// An event of this kind, authored as the caller.
    Event(EventKind),
    /// The title, the first party's ID number, or the center's time limits.
    Field(&'static str),
    /// A permitted event authored as another user / role / organisation, an unknown kind,
    /// or an edit of an event already in the log.
    Forgery(&'static str),
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Event(k) => write!(f, "event {k}"),
            Probe::Field(x) => write!(f, "field {x}"),
            Probe::Forgery(x) => write!(f, "forgery {x}"),
        }
    }
}

const FIELDS: [&str; 3] = ["title", "id_number", "time_limits"];
const FORGERIES: [&str; 5] = [
    "other_user",
    "other_role",
    "other_org",
    "unknown_kind",
    "altered",
];

/// Cases recorded in village A (东岭村) by a seeding phone, submitted, accepted and
/// dispatched to the labour inspectorate: in the area scope of the village and township
/// users, and assigned to the labour department.
fn seed(server: &TestServer, phone: &mut Phone, n: usize, to: &str) -> Vec<CaseId> {
    let ids: Vec<CaseId> = (0..n).map(|i| phone.record(&format!("矩阵 {i}"))).collect();
    for id in &ids {
        phone.store.submit(*id).unwrap();
    }
    phone.sync().unwrap();
    for id in &ids {
        crate::matrix::accept_and_dispatch(server, *id, to);
    }
    ids
}

#[test]
fn every_phone_role_every_push_in_and_out_of_scope() {
    let server = TestServer::start();
    let base = server.base_url();
    let now = server.state.clock.now().0;
    let hash = gridsync_server::auth::hash_password(gridsync_server::demo::DEMO_PASSWORD);
    // Township-scoped supervisor and administrator, so that some cases are outside their
    // scope (the demo's are county-wide).
    for (id, username, role) in [
        ("u-qian.super", "qian.super", Role::Supervisor),
        ("u-qian.admin", "qian.admin", Role::Admin),
    ] {
        let user = User {
            id: id.into(),
            username: username.into(),
            display_name: username.into(),
            role,
            org_id: "330182101-center".into(),
            active: true,
        };
        server
            .block_on(server.state.db.create_user(&user, &hash, now))
            .unwrap();
    }
    let mut seeder_a = Phone::login(&base, "wang.grid", "seed-a");
    let mut seeder_b = Phone::login(&base, "zhao.grid", "seed-b");
    // Village B (河口村, another township), with the family mediation room: outside every
    // caller's scope below.
    let outside = seed(&server, &mut seeder_b, 1, "330182-room-family")[0];

    let users = [
        ("wang.grid", Role::GridWorker, "330182101201"),
        ("li.mediator", Role::VillageMediator, "330182101201"),
        ("sun.town", Role::Dispatcher, "330182101-center"),
        ("liu.labour", Role::DepartmentHandler, "330182-labour"),
        ("qian.super", Role::Supervisor, "330182101-center"),
        ("qian.admin", Role::Admin, "330182101-center"),
    ];
    let (mut cells, mut accepted) = (0usize, 0usize);
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = Vec::new();
    for (username, role, org) in users {
        let mut phone = Phone::login(&base, username, &format!("mx-{username}"));
        let me = Author::new(format!("u-{username}"), role, org);
        let actor = phone.store.actor_id().clone();
        let mut probes: Vec<Probe> = EventKind::ALL.iter().map(|k| Probe::Event(*k)).collect();
        probes.extend(FIELDS.iter().map(|f| Probe::Field(f)));
        probes.extend(FORGERIES.iter().map(|f| Probe::Forgery(f)));
        // One fresh case per in-scope probe (an accepted step must not change the next
        // cell's case), and a companion case for the legitimate edit beside each probe.
        let mut inside = seed(&server, &mut seeder_a, probes.len() + 1, "330182-labour");
        let companion = inside.pop().unwrap();
        // The phone holds what is in its scope, as a real one does after its first sync.
        phone.sync().unwrap();
        assert!(!phone.store.has_case(outside).unwrap(), "{username}");
        // A kind the role may author, for the forgeries (administrators may author none).
        let own_kind = EventKind::ALL
            .iter()
            .copied()
            .find(|k| may_push(role, *k))
            .unwrap_or(EventKind::Submit);

        for (probe, case_in) in probes.iter().zip(&inside) {
            for (in_scope, case) in [(true, *case_in), (false, outside)] {
                cells += 1;
                let event_id = format!("mx-{username}-{cells}");
                let before = load(&server, case);
                let change = raw_change(&server, case, actor.clone(), |d| match probe {
                    Probe::Event(kind) => append_event(
                        d,
                        &event_id,
                        kind.as_code(),
                        &me,
                        &payload(*kind).to_string(),
                    ),
                    Probe::Field("title") => d.put(ROOT, "title", "篡改的标题").unwrap(),
                    Probe::Field("id_number") => {
                        let parties = d.get(ROOT, "parties").unwrap().unwrap().1;
                        let first = d.get(&parties, 0).unwrap().unwrap().1;
                        d.put(&first, "id_number", "110101199001010000").unwrap();
                    }
                    Probe::Field(_) => {
                        // A complete, valid set: a year for everything (the deadlines a
                        // tampered phone would like).
                        let limits = d.put_object(ROOT, "time_limits", ObjType::Map).unwrap();
                        for key in LIMIT_KEYS.into_iter().take(7) {
                            d.put(&limits, key, 365 * 86_400_000i64).unwrap();
                        }
                        d.put(&limits, "yellow_percent", 100i64).unwrap();
                    }
                    Probe::Forgery(what) => {
                        let payload = payload(own_kind).to_string();
                        let mut by = me.clone();
                        let mut kind = own_kind.as_code();
                        match *what {
                            "other_user" => by.user = "u-chen.dispatch".into(),
                            "other_role" => {
                                by.role = if role == Role::Dispatcher {
                                    Role::Supervisor
                                } else {
                                    Role::Dispatcher
                                }
                            }
                            "other_org" => by.org = "330182-center".into(),
                            "unknown_kind" => kind = "GRANT_ADMIN",
                            _ => {
                                // Backdate the SUBMIT already in the log.
                                let events = d.get(ROOT, "events").unwrap().unwrap().1;
                                let first = d.get(&events, 0).unwrap().unwrap().1;
                                d.put(&first, "at", 0i64).unwrap();
                                return;
                            }
                        }
                        append_event(d, &event_id, kind, &by, &payload);
                    }
                });
                let marker = format!("companion of cell {cells}");
                let beside = raw_change(&server, companion, actor.clone(), |d| {
                    let notes = d.get(ROOT, "notes").unwrap().unwrap().1;
                    let n = d.length(&notes);
                    let note = d.insert_object(&notes, n, ObjType::Map).unwrap();
                    for (k, v) in [
                        ("id", format!("note-{cells}")),
                        ("kind", "OTHER".to_owned()),
                        ("author", me.user.clone()),
                        ("text", marker.clone()),
                    ] {
                        d.put(&note, k, v).unwrap();
                    }
                    d.put(&note, "at", 1_795_000_000_000i64).unwrap();
                });
                let response = push(
                    &phone,
                    vec![
                        DocChanges {
                            signatures: Vec::new(),
                            doc_id: case,
                            changes: vec![change],
                        },
                        DocChanges {
                            signatures: Vec::new(),
                            doc_id: companion,
                            changes: vec![beside],
                        },
                    ],
                );

                let holds = !matches!(role, Role::Supervisor | Role::Admin);
                let expected: Result<(), &str> = if !in_scope || !holds {
                    Err("out_of_scope")
                } else {
                    match probe {
                        Probe::Event(kind) if may_push(role, *kind) => Ok(()),
                        Probe::Event(_) | Probe::Forgery(_) => Err("event_not_permitted"),
                        Probe::Field("time_limits") => Err("operation_not_permitted"),
                        Probe::Field("title") if !may_edit(role, Part::Fields) => {
                            Err("operation_not_permitted")
                        }
                        Probe::Field(_) => Ok(()),
                    }
                };
                let got = crate::forge::verdict(&response, case);
                let label = format!("{username} {probe} in_scope={in_scope}");
                if got.as_ref().map(|_| ()).map_err(String::as_str) != expected {
                    failures.push(format!("{label}: expected {expected:?}, got {got:?}"));
                }
                *codes
                    .entry(got.clone().err().unwrap_or_else(|| "accepted".into()))
                    .or_default() += 1;

                // The center's copy afterwards.
                let mut after = load(&server, case);
                let landed = after.events().iter().any(|e| e.id == event_id);
                if got.is_ok() {
                    accepted += 1;
                    if matches!(probe, Probe::Event(_)) && !landed {
                        failures.push(format!("{label}: acknowledged but the event is missing"));
                    }
                } else {
                    let mut before = before;
                    if landed || after.heads() != before.heads() {
                        failures.push(format!("{label}: refused, yet the case changed"));
                    }
                    if after.case().title != before.case().title
                        || after.case().parties != before.case().parties
                        || after.case().time_limits != before.case().time_limits
                    {
                        failures.push(format!("{label}: refused, yet a field changed"));
                    }
                }
                // Nothing lost: the legitimate edit in the same batch landed.
                let landed_beside = load(&server, companion)
                    .case()
                    .notes
                    .iter()
                    .any(|n| n.text == marker);
                if holds && (!response.acks.iter().any(|a| a.doc_id == companion) || !landed_beside)
                {
                    failures.push(format!("{label}: the companion edit was lost"));
                }
            }
        }
    }
    let per_role = EventKind::ALL.len() + FIELDS.len() + FORGERIES.len();
    assert_eq!(cells, 6 * per_role * 2);
    eprintln!("sync matrix: {cells} cells, {accepted} accepted, refused by code: {codes:?}");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
