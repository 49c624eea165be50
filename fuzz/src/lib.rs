//! Shared by the fuzz targets: a small script language that turns fuzz bytes into case
//! documents, valid or hostile. Mutating saved Automerge bytes mostly breaks their checksums,
//! so the interesting inputs (a document a modified app could send) are built here with real
//! Automerge operations: well-formed events, events with odd payloads or authors, keys of
//! the wrong type, lists holding scalars, extreme numbers, concurrent edits.

use arbitrary::{Arbitrary, Result, Unstructured};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use gridsync_core::case::{
    AgreementForm, CaseDoc, CaseId, Category, Difficulty, IdDocType, NewCase, NoteKind, PartyInput,
    PartyRole, RiskFlag, RiskLevel, Sex, Source, Timestamp,
};
use gridsync_core::workflow::{Author, Event, EventKind, Role, SupervisionLevel, Tier};

/// 2026-11-01 00:00 UTC+8, the fuzzers' "now".
pub const NOW_MS: i64 = 1_793_462_400_000;

/// The demo grid worker the server-side target logs in as.
pub const USER: &str = "u-wang.grid";
pub const ORG: &str = "330182101201";
pub const AREA: &str = "330182101201";

/// Every refusal code the center may answer a pushed case with (wire strings): this build's
/// typed ones (but `internal`) and the operation judge's (DESIGN §5 "The trust boundary").
pub const KNOWN_REJECT_CODES: &[&str] = &[
    "out_of_scope",
    "event_not_permitted",
    "actor_not_bound",
    "malformed_change",
    "too_large",
    "operation_not_permitted",
    "invalid_value",
    // A new case whose first change depends on changes the center never got.
    "missing_dependencies",
];

/// What others wrote in a case, as the center reads it: what a push must leave as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub heads: Vec<automerge::ChangeHash>,
    pub events: Vec<Event>,
    pub notes: Vec<gridsync_core::case::Note>,
    /// Party ids, in order (a phone may edit a party's fields, not remove or move one).
    pub parties: Vec<String>,
}

impl Held {
    pub fn of(doc: &mut CaseDoc) -> Held {
        let case = doc.case();
        Held {
            heads: doc.heads(),
            events: doc.events(),
            notes: case.notes,
            parties: case.parties.into_iter().map(|p| p.id).collect(),
        }
    }

    /// Whether everything held here is in `after`, unchanged and in the same order.
    pub fn kept_in(&self, after: &Held) -> std::result::Result<(), &'static str> {
        fn within<T: PartialEq>(before: &[T], after: &[T]) -> bool {
            let mut rest = after.iter();
            before.iter().all(|x| rest.any(|y| y == x))
        }
        if !within(&self.events, &after.events) {
            return Err("an event present before is gone, altered or moved");
        }
        if !within(&self.notes, &after.notes) {
            return Err("a note present before is gone, altered or moved");
        }
        if !within(&self.parties, &after.parties) {
            return Err("a party present before is gone or moved");
        }
        Ok(())
    }
}

/// Automerge actors: the first ones are bound to the fuzzed device at login.
pub fn actor(n: u8) -> ActorId {
    ActorId::from([0xF0, 0x22, 0x00, n % 8].as_slice())
}

/// How many of [`actor`]'s ids are bound to the device (the rest are strangers).
pub const BOUND_ACTORS: u8 = 6;

/// Case ids the scripts write: few, so pushes meet earlier pushes of the same case.
pub fn case_id(n: u8) -> CaseId {
    CaseId::from_bytes([
        0x5e,
        0xed,
        0,
        0,
        0,
        0,
        0x40,
        0,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        n % 4,
    ])
}

const ROOT_KEYS: &[&str] = &gridsync_core::case::ROOT_KEYS;

const ITEM_KEYS: &[&str] = &[
    "id",
    "kind",
    "by_user",
    "by_role",
    "org",
    "at",
    "payload",
    "role",
    "name",
    "id_type",
    "id_number",
    "sex",
    "ethnicity",
    "phone",
    "address",
    "minor",
    "author",
    "text",
    "sha256",
    "size",
    "mime",
    "caption",
    "lat",
    "lon",
    "accept",
    "accept_high_risk",
    "sign",
    "handle_simple",
    "handle_general",
    "handle_complex",
    "follow_up",
    "yellow_percent",
    "co_handle",
];

const LISTS: &[&str] = &["parties", "notes", "attachments", "events"];
const MAPS: &[&str] = &["risk_flags", "payments", "time_limits", "location"];

const USERS: &[&str] = &[
    USER,
    "u-zhao.grid",
    "u-chen.dispatch",
    "u-admin",
    "system",
    "",
];
const ORGS: &[&str] = &[
    ORG,
    "330182-center",
    "330182101-center",
    "330182-labour",
    "",
];
const AREAS: &[&str] = &[
    AREA,
    "330182101202",
    "330182102203",
    "330182101201001",
    "33018210120",
    "",
];
const CASE_NOS: &[&str] = &[
    "330182-20261101-0001",
    "330182-99991231-9999",
    "330182-00000101-0000",
    "33018-20261101-1",
    "",
];
const INTS: &[i64] = &[
    0,
    1,
    -1,
    NOW_MS,
    NOW_MS - 86_400_000,
    NOW_MS + 86_400_000,
    i64::MAX,
    i64::MIN,
    i64::MAX - 1,
    i64::MIN + 1,
    u32::MAX as i64,
    i32::MAX as i64,
    253_402_300_799_999, // 9999-12-31
    -62_135_596_800_000, // year 1
    100,
    101,
    90,
    91,
];

fn pick<'a, T: ?Sized>(u: &mut Unstructured<'_>, from: &[&'a T]) -> Result<&'a T> {
    Ok(*u.choose(from)?)
}

/// An integer, usually an interesting one.
pub fn int(u: &mut Unstructured<'_>) -> Result<i64> {
    if u.ratio(3, 4)? {
        Ok(*u.choose(INTS)?)
    } else {
        i64::arbitrary(u)
    }
}

/// A string, usually a code or id the program knows.
pub fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => pick(u, USERS)?.to_owned(),
        1 => pick(u, ORGS)?.to_owned(),
        2 => pick(u, AREAS)?.to_owned(),
        3 => pick(u, CASE_NOS)?.to_owned(),
        4 => u.choose(EventKind::ALL)?.as_code().to_owned(),
        5 => u.choose(Role::ALL)?.as_code().to_owned(),
        6 => code(u)?,
        7 => "界".repeat(u.int_in_range(0..=300)?),
        _ => String::arbitrary(u)?,
    })
}

fn code(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=11u8)? {
        0 => u.choose(Category::ALL)?.as_code(),
        1 => u.choose(RiskLevel::ALL)?.as_code(),
        2 => u.choose(RiskFlag::ALL)?.as_code(),
        3 => u.choose(Difficulty::ALL)?.as_code(),
        4 => u.choose(Source::ALL)?.as_code(),
        5 => u.choose(PartyRole::ALL)?.as_code(),
        6 => u.choose(IdDocType::ALL)?.as_code(),
        7 => u.choose(Sex::ALL)?.as_code(),
        8 => u.choose(NoteKind::ALL)?.as_code(),
        9 => u.choose(AgreementForm::ALL)?.as_code(),
        10 => u.choose(Tier::ALL)?.as_code(),
        _ => u.choose(SupervisionLevel::ALL)?.as_code(),
    }
    .to_owned())
}

fn scalar(u: &mut Unstructured<'_>) -> Result<ScalarValue> {
    Ok(match u.int_in_range(0..=8u8)? {
        0 | 1 => ScalarValue::Str(text(u)?.into()),
        2 | 3 => ScalarValue::Int(int(u)?),
        4 => ScalarValue::Uint(u64::arbitrary(u)?),
        5 => ScalarValue::F64(f64::arbitrary(u)?),
        6 => ScalarValue::Boolean(bool::arbitrary(u)?),
        7 => ScalarValue::Timestamp(int(u)?),
        _ => ScalarValue::Null,
    })
}

/// An event payload: the JSON of some action, with fuzzed fields (a superset object, so
/// every kind finds its fields), or an arbitrary string.
fn payload(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 8)? {
        return text(u);
    }
    let num = |u: &mut Unstructured<'_>| -> Result<serde_json::Value> {
        Ok(match u.int_in_range(0..=3u8)? {
            0 => serde_json::json!(u.int_in_range(0..=100u32)?),
            1 => serde_json::json!(int(u)?),
            2 => serde_json::json!(f64::arbitrary(u)?),
            _ => serde_json::json!(text(u)?),
        })
    };
    let mut installments = Vec::new();
    for _ in 0..u.int_in_range(0..=3u8)? {
        installments.push(serde_json::json!({
            "id": text(u)?, "due_at": int(u)?, "amount": int(u)?,
            "paid_at": if bool::arbitrary(u)? { serde_json::json!(int(u)?) } else { serde_json::Value::Null },
        }));
    }
    let mut to = Vec::new();
    for _ in 0..u.int_in_range(0..=3u8)? {
        to.push(serde_json::json!({"id": text(u)?, "name": text(u)?}));
    }
    let value = serde_json::json!({
        "reason": text(u)?,
        "outcome": text(u)?,
        "note": text(u)?,
        "case_no": pick(u, CASE_NOS)?,
        "tier": u.choose(Tier::ALL)?.as_code(),
        "to_tier": u.choose(Tier::ALL)?.as_code(),
        "level": u.choose(SupervisionLevel::ALL)?.as_code(),
        "to": to,
        "assignee": if bool::arbitrary(u)? { serde_json::json!(text(u)?) } else { serde_json::Value::Null },
        "auto": bool::arbitrary(u)?,
        "days": num(u)?,
        "approved": bool::arbitrary(u)?,
        "success": bool::arbitrary(u)?,
        "method": pick(u, &["PHONE", "VISIT", "SMS", "FAX"])?,
        "satisfaction": num(u)?,
        "agreement_performed": bool::arbitrary(u)?,
        "agreement": if bool::arbitrary(u)? {
            serde_json::json!({
                "form": u.choose(AgreementForm::ALL)?.as_code(),
                "terms": text(u)?,
                "signed_at": int(u)?,
                "installments": installments,
            })
        } else {
            serde_json::Value::Null
        },
    });
    Ok(value.to_string())
}

/// The first document of a script: a valid draft recorded by the grid worker, or a bare
/// document with only an id (a modified app could send anything).
pub fn record(u: &mut Unstructured<'_>, id: CaseId, actor: ActorId) -> Result<AutoCommit> {
    if u.ratio(1, 8)? {
        let mut doc = AutoCommit::new().with_actor(actor);
        let _ = doc.put(ROOT, "id", id.to_string());
        commit(&mut doc, 0);
        return Ok(doc);
    }
    let new = NewCase {
        id: Some(id),
        area_code: if u.ratio(7, 8)? {
            AREA.into()
        } else {
            pick(u, AREAS)?.into()
        },
        grid_code: String::new(),
        source: *u.choose(Source::ALL)?,
        title: "邻里纠纷".into(),
        summary: String::new(),
        category: *u.choose(Category::ALL)?,
        occurred_at: None,
        address: String::new(),
        location: None,
        people_involved: u.int_in_range(0..=5)?,
        amount_involved: u.int_in_range(0..=1_000_000)?,
        risk_level: *u.choose(RiskLevel::ALL)?,
        risk_flags: if u.ratio(1, 4)? {
            vec![*u.choose(RiskFlag::ALL)?]
        } else {
            Vec::new()
        },
        difficulty: *u.choose(Difficulty::ALL)?,
        parties: vec![PartyInput {
            name: "张三".into(),
            ..Default::default()
        }],
    };
    let by = Author::new(USER, Role::GridWorker, ORG);
    let Ok(mut case) = CaseDoc::record(&new, &by, "fuzz-phone", Timestamp(NOW_MS), actor.clone())
    else {
        return Err(arbitrary::Error::IncorrectFormat);
    };
    AutoCommit::load(&case.save())
        .map(|d| d.with_actor(actor))
        .map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn commit(doc: &mut AutoCommit, time: i64) {
    doc.commit_with(CommitOptions::default().with_time(time));
}

/// Where an operation writes: the root, a nested map, or an item of a list.
fn target(u: &mut Unstructured<'_>, doc: &AutoCommit) -> Result<ObjId> {
    let key = if u.ratio(1, 3)? {
        return Ok(ROOT);
    } else if bool::arbitrary(u)? {
        pick(u, MAPS)?
    } else {
        pick(u, LISTS)?
    };
    match doc.get(ROOT, key) {
        Ok(Some((Value::Object(ObjType::Map), obj))) => Ok(obj),
        Ok(Some((Value::Object(ObjType::List), list))) => {
            let len = doc.length(&list);
            if len == 0 {
                return Ok(list);
            }
            let i = u.int_in_range(0..=len - 1)?;
            match doc.get(&list, i) {
                Ok(Some((Value::Object(_), obj))) => Ok(obj),
                _ => Ok(list),
            }
        }
        _ => Ok(ROOT),
    }
}

/// One step of a script.
fn step(u: &mut Unstructured<'_>, doc: &mut AutoCommit) -> Result<()> {
    // Automerge refuses some operations (a map key on a list, say): those are the
    // library's typed errors, not findings, so they are ignored.
    match u.int_in_range(0..=9u8)? {
        // A workflow event, usually well-formed and by the signed-in worker.
        0..=3 => {
            let Ok(Some((Value::Object(ObjType::List), list))) = doc.get(ROOT, "events") else {
                return Ok(());
            };
            let len = doc.length(&list);
            let Ok(obj) = doc.insert_object(&list, len, ObjType::Map) else {
                return Ok(());
            };
            let honest = u.ratio(3, 4)?;
            let kind = if u.ratio(15, 16)? {
                u.choose(EventKind::ALL)?.as_code().to_owned()
            } else {
                text(u)?
            };
            let id = format!("e{}", u.int_in_range(0..=15u8)?);
            let (user, role, org) = if honest {
                (
                    USER.to_owned(),
                    Role::GridWorker.as_code().to_owned(),
                    ORG.to_owned(),
                )
            } else {
                (text(u)?, text(u)?, text(u)?)
            };
            let at = if u.ratio(3, 4)? {
                NOW_MS + int(u)?.rem_euclid(1 << 32)
            } else {
                int(u)?
            };
            let _ = doc.put(&obj, "id", id);
            let _ = doc.put(&obj, "kind", kind);
            let _ = doc.put(&obj, "by_user", user);
            let _ = doc.put(&obj, "by_role", role);
            let _ = doc.put(&obj, "org", org);
            let _ = doc.put(&obj, "at", at);
            let _ = doc.put(&obj, "payload", payload(u)?);
        }
        // Any scalar at a known key of any object.
        4..=5 => {
            let obj = target(u, doc)?;
            let key = if bool::arbitrary(u)? {
                pick(u, ROOT_KEYS)?
            } else {
                pick(u, ITEM_KEYS)?
            };
            let value = scalar(u)?;
            let _ = match doc.object_type(&obj) {
                Ok(ObjType::List) => doc.insert(&obj, 0, value),
                _ => doc.put(&obj, key, value),
            };
        }
        // A container where a scalar belongs, or a fresh list or map.
        6 => {
            let key = pick(u, ROOT_KEYS)?;
            let ty = *u.choose(&[ObjType::Map, ObjType::List, ObjType::Text])?;
            let _ = doc.put_object(ROOT, key, ty);
        }
        7 => {
            let obj = target(u, doc)?;
            let key = pick(u, ITEM_KEYS)?;
            let _ = match doc.object_type(&obj) {
                Ok(ObjType::List) if doc.length(&obj) > 0 => doc.delete(&obj, 0),
                _ => doc.delete(&obj, key),
            };
        }
        // A new change: pushes carry several.
        8 => commit(doc, int(u)?.rem_euclid(1 << 40) / 1000),
        // A concurrent edit by another of the device's actors, merged: conflicting values.
        _ => {
            let mut other = doc.fork().with_actor(actor(u.int_in_range(0..=7)?));
            let key = pick(u, ROOT_KEYS)?;
            let _ = other.put(ROOT, key, scalar(u)?);
            let _ = doc.put(ROOT, key, scalar(u)?);
            commit(&mut other, 0);
            commit(doc, 0);
            let _ = doc.merge(&mut other);
        }
    }
    Ok(())
}

/// Runs up to `max_steps` steps of the script on `doc`, then commits.
pub fn run(u: &mut Unstructured<'_>, doc: &mut AutoCommit, max_steps: u8) -> Result<()> {
    for _ in 0..u.int_in_range(0..=max_steps)? {
        if u.is_empty() {
            break;
        }
        step(u, doc)?;
    }
    commit(doc, NOW_MS / 1000);
    Ok(())
}

/// libFuzzer's panic hook aborts at once, even for a panic the code under test catches
/// (sync-core catches Automerge's panics on hostile changes and refuses the input). This
/// hook only reports; a panic nobody catches still reaches libfuzzer-sys's `catch_unwind`
/// around the target, which aborts and records the input.
pub fn report_panics_without_aborting() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    });
}
