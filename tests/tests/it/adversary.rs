//! The adversarial phone (DESIGN §5, "The trust boundary"; issue 12): a real grid worker's
//! device, signed in with its own registered actors, builds arbitrary changes with the raw
//! Automerge API against the real cases of its village and of another, and pushes them
//! through `POST /v1/sync` while honest phones (`Phone`) and the center (`Staff` over HTTP:
//! ACCEPT, DISPATCH, SIGN_FOR, SUPERVISE) work the same cases.
//!
//! The generator reads the document it attacks (real object ids, real list elements, real
//! keys) and labels every change with what the contract expects: acknowledged, refused with
//! one of a few codes, "refused or read faithfully" (a Text object where a string belongs),
//! or "parked" (missing dependencies: never acknowledged, never served, never read).
//! Deletes, inserts at any index, puts on any key (root, inside parties, notes, events,
//! attachments, time limits, risk flags), Make Text/List/Map, center-only keys, wrong types,
//! invalid and huge values, area moves, foreign actors (another phone's, the center's, a
//! stranger's), stale bases and missing dependencies, mixed with legitimate appends and
//! edits, alone or several to a change.
//!
//! After each push every case it touched is read back at the center: a refused case reads
//! exactly as before; whatever was acknowledged, every event, note and attachment present
//! before reads exactly as before and in order, every party is still there (its fields
//! change only by a permitted edit), the center's own keys, `area_code` and the other
//! fields are unchanged unless a permitted edit wrote them, and the case loads; the
//! dispatcher reads one of the cases over HTTP each round (every one at the end) and lists
//! every submitted one. Honest syncs and the center's steps never fail (no 5xx, nothing of
//! theirs refused). At the end the honest phones and the center converge, and a fresh
//! device's whole pull holds no change whose dependency never arrived.
//!
//! A case the center gets wrong once is attacked no more (what follows there is
//! consequence, not news); the honest phone records new ones, up to 60. Against a center
//! that gets every case wrong the run stops early, with the list of what went wrong, by kind.
//!
//! Knobs: `GRIDSYNC_ADVERSARY_CHANGES` (hostile changes to try; default 3,000: about 2.5
//! minutes on SQLite and 2.75 on PostgreSQL on the project's 2-core machine, measured with
//! every change landing) and `GRIDSYNC_ADVERSARY_SEED` (the generator's seed; default fixed,
//! printed). Phones draw their own actor and item ids, so two runs of one seed may differ in
//! details. The long run, a few seeds of:
//! `GRIDSYNC_ADVERSARY_CHANGES=100000 GRIDSYNC_ADVERSARY_SEED=N cargo test -p gridsync-tests
//! --release --test it adversary` (tokens are renewed every ten minutes).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use gridsync_core::case::{
    AttachmentKind, Case, CaseDoc, CaseId, Category, Difficulty, IdDocType, MAX_NOTE_CHARS,
    MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, NewCase, NoteKind, PartyInput, PartyRole, RiskFlag,
    RiskLevel, Sex, Timestamp,
};
use gridsync_core::protocol::{DocChanges, SyncResponse};
use gridsync_core::store::CaseFilter;
use gridsync_core::workflow::{Author, Event, EventKind, Role, Status, may_author};
use gridsync_tests::{Phone, Staff, TestServer};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::forge;

/// How many hostile changes to try.
const CHANGES_ENV: &str = "GRIDSYNC_ADVERSARY_CHANGES";
const DEFAULT_CHANGES: usize = 3_000;
/// The generator's seed.
const SEED_ENV: &str = "GRIDSYNC_ADVERSARY_SEED";
const DEFAULT_SEED: u64 = 0x0ad5_e12a_2026_0012;

// The refusal codes of the contract (wire strings).
const OP: &str = "operation_not_permitted";
const EVENT: &str = "event_not_permitted";
const INVALID: &str = "invalid_value";
const SCOPE: &str = "out_of_scope";
const ACTOR: &str = "actor_not_bound";
const MALFORMED: &str = "malformed_change";
const TOO_LARGE: &str = "too_large";

/// The hostile device's user and scope: wang.grid of 东岭村.
const VILLAGE: &str = "330182101201";
const HOSTILE_DEVICE: &str = "adv-hostile";
/// Villages outside that scope: 西坞村 (same township), 河口村 (another one).
const OTHER_VILLAGES: [&str; 2] = ["330182101202", "330182102203"];

const LISTS: [&str; 4] = ["parties", "notes", "attachments", "events"];
use gridsync_core::case::{LIMIT_KEYS, ROOT_KEYS};
/// Keys only the center writes on an existing case (besides `time_limits`).
const CENTER_KEYS: [&str; 5] = ["schema", "id", "recorded_at", "recorded_by", "recorded_on"];
const STRING_FIELDS: [&str; 3] = ["title", "summary", "address"];

// ---- what a change should get ---------------------------------------------------------------

/// What the contract says of a change.
#[derive(Clone, Debug)]
enum Expect {
    /// Permitted: acknowledged, and it lands.
    Accept,
    /// Refused with one of these codes.
    Refuse(Vec<&'static str>),
    /// A Text object where a string belongs: refused with one of these codes, or acknowledged
    /// and read as the text it holds (never as an empty string).
    RefuseOrRead(Vec<&'static str>, Read, String),
    /// Its dependencies are missing: refused (with one of these codes; any, when empty) or
    /// acknowledged without it; either way the case reads as before.
    Parked(Vec<&'static str>, ChangeHash),
    /// Only the invariants (a parked change's missing dependency arriving).
    Any,
}

/// Where a faithful read of a Text object shows.
#[derive(Clone, Debug)]
enum Read {
    Root(&'static str),
    Note(String),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Accept => f.write_str("accepted"),
            Expect::Refuse(c) => write!(f, "refused {}", c.join("|")),
            Expect::RefuseOrRead(c, ..) => write!(f, "refused {} or read faithfully", c.join("|")),
            Expect::Parked(..) => f.write_str("parked (not acknowledged, not read)"),
            Expect::Any => f.write_str("anything, invariants kept"),
        }
    }
}

/// What an acknowledged permitted change may change of what was there before.
#[derive(Clone, Debug, Default)]
struct Allowed {
    root: HashSet<&'static str>,
    /// (party id, key)
    party: Vec<(String, &'static str)>,
}

/// One operation (or a few that belong together) of a change, labelled.
struct Op {
    label: &'static str,
    expect: Expect,
    allowed: Allowed,
}

impl Op {
    fn accept(label: &'static str) -> Op {
        Op {
            label,
            expect: Expect::Accept,
            allowed: Allowed::default(),
        }
    }

    fn field(label: &'static str, key: &'static str) -> Op {
        let mut op = Op::accept(label);
        op.allowed.root.insert(key);
        op
    }

    fn refuse(label: &'static str, codes: &[&'static str]) -> Op {
        Op {
            label,
            expect: Expect::Refuse(codes.to_vec()),
            allowed: Allowed::default(),
        }
    }

    /// `codes`, plus `event_not_permitted` when the operation touches the event log (the
    /// code events get today).
    fn refuse_in(label: &'static str, list: &str, codes: &[&'static str]) -> Op {
        let mut codes = codes.to_vec();
        if list == "events" || list == "time_limits" {
            codes.push(EVENT);
        }
        Op::refuse(label, &codes)
    }
}

/// The expectation of a change made of several operations: refused if any is.
fn combine(ops: Vec<Op>) -> (String, Expect, Allowed) {
    let label = ops.iter().map(|o| o.label).collect::<Vec<_>>().join(" + ");
    let mut codes: Vec<&'static str> = Vec::new();
    let mut refused = false;
    let mut read = None;
    let mut allowed = Allowed::default();
    for op in ops {
        match op.expect {
            Expect::Refuse(c) => {
                refused = true;
                codes.extend(c);
            }
            Expect::RefuseOrRead(c, r, t) => {
                codes.extend(c.iter().copied());
                read = Some(Expect::RefuseOrRead(c, r, t));
            }
            _ => {}
        }
        allowed.root.extend(op.allowed.root);
        allowed.party.extend(op.allowed.party);
    }
    codes.sort_unstable();
    codes.dedup();
    let expect = if refused {
        Expect::Refuse(codes)
    } else {
        read.unwrap_or(Expect::Accept)
    };
    (label, expect, allowed)
}

// ---- reading the document under attack -----------------------------------------------------

fn root_obj(d: &AutoCommit, key: &str, ty: ObjType) -> Option<ObjId> {
    match d.get(ROOT, key) {
        Ok(Some((Value::Object(t), id))) if t == ty => Some(id),
        _ => None,
    }
}

/// The map items of a list, with their index.
fn map_items(d: &AutoCommit, list: &ObjId) -> Vec<(usize, ObjId)> {
    (0..d.length(list))
        .filter_map(|i| match d.get(list, i) {
            Ok(Some((Value::Object(ObjType::Map), obj))) => Some((i, obj)),
            _ => None,
        })
        .collect()
}

fn str_at(d: &AutoCommit, obj: &ObjId, key: &str) -> String {
    match d.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

// ---- the generator ---------------------------------------------------------------------------

struct Gen<'a> {
    rng: &'a mut StdRng,
    me: &'a Author,
    /// Attachments other users appended (an attachment names no author).
    others: &'a HashSet<String>,
    /// Items this change appends.
    appended: Vec<String>,
}

impl Gen<'_> {
    fn id(&mut self) -> String {
        let id = format!("adv{:016x}", self.rng.random::<u64>());
        self.appended.push(id.clone());
        id
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        *from.choose(self.rng).expect("non-empty")
    }

    /// `chars` characters, never blank at either end (a trimmed title keeps its length).
    fn text(&mut self, chars: usize) -> String {
        const ALPHABET: [char; 8] = ['纠', '纷', '调', '解', 'a', 'Z', '7', ' '];
        (0..chars)
            .map(|i| match i {
                0 => '甲',
                _ if i + 1 == chars => '乙',
                _ => self.pick(&ALPHABET),
            })
            .collect()
    }

    /// A scalar of any type.
    fn scalar(&mut self) -> ScalarValue {
        match self.rng.random_range(0..6) {
            0 => ScalarValue::Str("篡改".into()),
            1 => ScalarValue::Int(self.rng.random_range(-5..5)),
            2 => ScalarValue::Uint(7),
            3 => ScalarValue::Boolean(true),
            4 => ScalarValue::F64(1.5),
            _ => ScalarValue::Null,
        }
    }

    fn note(&mut self, d: &mut AutoCommit, obj: &ObjId, text: &str) -> String {
        let id = self.id();
        d.put(obj, "id", id.as_str()).unwrap();
        d.put(obj, "kind", self.pick(NoteKind::ALL).as_code())
            .unwrap();
        d.put(obj, "author", self.me.user.as_str()).unwrap();
        d.put(obj, "at", 1_795_000_000_000i64).unwrap();
        d.put(obj, "text", text).unwrap();
        id
    }

    fn party(&mut self, d: &mut AutoCommit, obj: &ObjId, name: &str) {
        let id = self.id();
        d.put(obj, "id", id.as_str()).unwrap();
        d.put(obj, "role", self.pick(PartyRole::ALL).as_code())
            .unwrap();
        d.put(obj, "name", name).unwrap();
        d.put(obj, "id_type", self.pick(IdDocType::ALL).as_code())
            .unwrap();
        d.put(obj, "id_number", "330182199001011234").unwrap();
        d.put(obj, "sex", self.pick(Sex::ALL).as_code()).unwrap();
        d.put(obj, "ethnicity", "汉").unwrap();
        d.put(obj, "phone", "13900000000").unwrap();
        d.put(obj, "address", "东岭村").unwrap();
        d.put(obj, "minor", false).unwrap();
    }

    fn attachment(&mut self, d: &mut AutoCommit, obj: &ObjId, sha256: &str) {
        let id = self.id();
        d.put(obj, "id", id.as_str()).unwrap();
        d.put(obj, "sha256", sha256).unwrap();
        d.put(obj, "kind", self.pick(AttachmentKind::ALL).as_code())
            .unwrap();
        d.put(obj, "size", 1024u64).unwrap();
        d.put(obj, "mime", "image/jpeg").unwrap();
        d.put(obj, "caption", "现场照片").unwrap();
    }

    fn sha256(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            self.rng.random::<u64>(),
            self.rng.random::<u64>(),
            self.rng.random::<u64>(),
            self.rng.random::<u64>()
        )
    }

    /// A well-formed item of `list` at index `at`: a note, a party, an attachment, or an
    /// event the grid worker may author, as themself.
    fn item(&mut self, d: &mut AutoCommit, list: &ObjId, key: &str, at: usize) -> Option<()> {
        if key == "events" {
            let kind = self.permitted_kind();
            let id = self.id();
            let payload = crate::authz_sync::payload(kind).to_string();
            let e = d.insert_object(list, at, ObjType::Map).ok()?;
            put_event(d, &e, &id, kind.as_code(), self.me, &payload);
            return Some(());
        }
        let obj = d.insert_object(list, at, ObjType::Map).ok()?;
        match key {
            "parties" => self.party(d, &obj, "王五"),
            "notes" => {
                self.note(d, &obj, "走访记录");
            }
            _ => {
                let sha = self.sha256();
                self.attachment(d, &obj, &sha);
            }
        }
        Some(())
    }

    fn permitted_kind(&mut self) -> EventKind {
        let kinds: Vec<EventKind> = EventKind::ALL
            .iter()
            .copied()
            .filter(|k| may_author(self.me.role, *k))
            .collect();
        self.pick(&kinds)
    }

    /// A list of the document and its key; `non_empty`: with at least one element.
    fn list(&mut self, d: &AutoCommit, non_empty: bool) -> Option<(&'static str, ObjId)> {
        let key = self.pick(&LISTS);
        let list = root_obj(d, key, ObjType::List)?;
        (!non_empty || d.length(&list) > 0).then_some((key, list))
    }

    /// An item map of `key`'s list written by someone else (events: any).
    /// An item of `key`'s list another user wrote (an event: any). Items of the same user
    /// on another of their devices are left alone: whether those count as "someone else's"
    /// is not for this test to settle.
    fn foreign_item(&mut self, d: &AutoCommit, key: &str) -> Option<ObjId> {
        let list = root_obj(d, key, ObjType::List)?;
        let items: Vec<ObjId> = map_items(d, &list)
            .into_iter()
            .map(|(_, o)| o)
            .filter(|o| match key {
                "notes" => !matches!(str_at(d, o, "author").as_str(), "" | "u-wang.grid"),
                "attachments" => self.others.contains(&str_at(d, o, "id")),
                // Not one this change appended (its author's own, still being written).
                _ => !matches!(str_at(d, o, "by_user").as_str(), "" | "u-wang.grid"),
            })
            .collect();
        items.choose(self.rng).cloned()
    }

    // ---- permitted ------------------------------------------------------------------------

    fn legit(&mut self, d: &mut AutoCommit) -> Option<Op> {
        match self.rng.random_range(0..12) {
            0 | 1 => {
                let notes = root_obj(d, "notes", ObjType::List)?;
                let n = d.length(&notes);
                self.item(d, &notes, "notes", n)?;
                Some(Op::accept("append a note"))
            }
            2 => {
                // A chain: the second names the first, inserted just before by this change.
                let notes = root_obj(d, "notes", ObjType::List)?;
                let n = d.length(&notes);
                self.item(d, &notes, "notes", n)?;
                self.item(d, &notes, "notes", n + 1)?;
                Some(Op::accept("append two notes"))
            }
            3 => {
                let parties = root_obj(d, "parties", ObjType::List)?;
                let n = d.length(&parties);
                self.item(d, &parties, "parties", n)?;
                Some(Op::accept("append a party"))
            }
            4 => {
                let list = root_obj(d, "attachments", ObjType::List)?;
                let n = d.length(&list);
                self.item(d, &list, "attachments", n)?;
                Some(Op::accept("append an attachment"))
            }
            5 => {
                let list = root_obj(d, "events", ObjType::List)?;
                let n = d.length(&list);
                self.item(d, &list, "events", n)?;
                Some(Op::accept("append a permitted event"))
            }
            6..=8 => self.legit_field(d),
            9 => {
                let flags = root_obj(d, "risk_flags", ObjType::Map)?;
                let present: Vec<String> = d.keys(&flags).collect();
                if !present.is_empty() && self.chance(0.5) {
                    let key = present.choose(self.rng)?.clone();
                    d.delete(&flags, key.as_str()).ok()?;
                    Some(Op::field("drop a risk flag", "risk_flags"))
                } else {
                    let flag = self.pick(RiskFlag::ALL);
                    put_new(d, &flags, flag.as_code(), ScalarValue::Boolean(true))?;
                    Some(Op::field("add a risk flag", "risk_flags"))
                }
            }
            10 => {
                let party = self.pick_party(d)?;
                let party_id = str_at(d, &party, "id");
                let (key, value): (&'static str, ScalarValue) = match self.rng.random_range(0..6) {
                    0 => ("name", "李四".into()),
                    1 => ("phone", "13700001111".into()),
                    2 => ("address", "东岭村三组".into()),
                    3 => ("role", self.pick(PartyRole::ALL).as_code().into()),
                    4 => ("sex", self.pick(Sex::ALL).as_code().into()),
                    _ => ("minor", ScalarValue::Boolean(self.chance(0.5))),
                };
                put_new(d, &party, key, value)?;
                let mut op = Op::accept("edit a party's field");
                op.allowed.party.push((party_id, key));
                Some(op)
            }
            _ => {
                let loc = d.put_object(ROOT, "location", ObjType::Map).ok()?;
                d.put(&loc, "lat", 29.8 + self.rng.random_range(0.0..0.1))
                    .ok()?;
                d.put(&loc, "lon", 119.6 + self.rng.random_range(0.0..0.1))
                    .ok()?;
                Some(Op::field("set the location", "location"))
            }
        }
    }

    fn pick_party(&mut self, d: &AutoCommit) -> Option<ObjId> {
        let list = root_obj(d, "parties", ObjType::List)?;
        map_items(d, &list).choose(self.rng).map(|(_, o)| o.clone())
    }

    fn legit_field(&mut self, d: &mut AutoCommit) -> Option<Op> {
        let (key, value): (&'static str, ScalarValue) = match self.rng.random_range(0..9) {
            0 => {
                let n = if self.chance(0.2) {
                    MAX_TITLE_CHARS
                } else {
                    self.rng.random_range(1..40)
                };
                ("title", self.text(n).into())
            }
            1 => {
                let n = if self.chance(0.2) {
                    MAX_SUMMARY_CHARS
                } else {
                    self.rng.random_range(0..200)
                };
                ("summary", self.text(n.max(1)).into())
            }
            2 => ("address", "东岭村五组".into()),
            3 => ("category", self.pick(Category::ALL).as_code().into()),
            4 => ("risk_level", self.pick(RiskLevel::ALL).as_code().into()),
            5 => ("difficulty", self.pick(Difficulty::ALL).as_code().into()),
            6 => ("occurred_at", ScalarValue::Int(1_790_000_000_000)),
            7 => (
                "people_involved",
                ScalarValue::Uint(self.rng.random_range(0..50)),
            ),
            _ => (
                "amount_involved",
                ScalarValue::Int(self.rng.random_range(0..10_000_000)),
            ),
        };
        put_new(d, &ROOT, key, value)?;
        Some(Op::field("edit a field", key))
    }

    // ---- refused ----------------------------------------------------------------------------

    fn hostile(&mut self, d: &mut AutoCommit) -> Option<Op> {
        match self.rng.random_range(0..27) {
            0 | 1 => {
                let (key, list) = self.list(d, true)?;
                let i = self.rng.random_range(0..d.length(&list));
                d.delete(&list, i).ok()?;
                Some(Op::refuse_in("delete a list element", key, &[OP]))
            }
            2 => {
                let (key, list) = self.list(d, true)?;
                let (_, item) = map_items(d, &list).choose(self.rng)?.clone();
                let keys: Vec<String> = d.keys(&item).collect();
                let k = keys.choose(self.rng)?.clone();
                d.delete(&item, k.as_str()).ok()?;
                Some(Op::refuse_in("delete a key of an item", key, &[OP]))
            }
            3 => {
                let keys: Vec<String> = d.keys(ROOT).collect();
                let k = keys.choose(self.rng)?.clone();
                d.delete(ROOT, k.as_str()).ok()?;
                let mut codes = vec![OP];
                if k == "id" {
                    codes.push(MALFORMED);
                }
                if k == "area_code" || k == "grid_code" {
                    codes.extend([INVALID, SCOPE]);
                }
                Some(Op::refuse_in("delete a root key", &k, &codes))
            }
            4 => {
                let key = self.pick(&["time_limits", "location", "payments"]);
                let map = root_obj(d, key, ObjType::Map)?;
                let keys: Vec<String> = d.keys(&map).collect();
                let k = keys.choose(self.rng)?.clone();
                d.delete(&map, k.as_str()).ok()?;
                Some(Op::refuse_in("delete a key of a center map", key, &[OP]))
            }
            5 | 6 => {
                // Before what the author had seen last (index len would be an append).
                let (key, list) = self.list(d, true)?;
                let at = self.rng.random_range(0..d.length(&list));
                self.item(d, &list, key, at)?;
                Some(Op::refuse_in("insert before the last element", key, &[OP]))
            }
            7 => {
                let (key, list) = self.list(d, false)?;
                let at = self.rng.random_range(0..=d.length(&list));
                let v = self.scalar();
                d.insert(&list, at, v).ok()?;
                Some(Op::refuse_in(
                    "insert a scalar into a list",
                    key,
                    &[OP, INVALID],
                ))
            }
            8 => {
                let (key, list) = self.list(d, false)?;
                let n = d.length(&list);
                let ty = self.pick(&[ObjType::Text, ObjType::List]);
                let obj = d.insert_object(&list, n, ty).ok()?;
                if ty == ObjType::Text {
                    d.splice_text(&obj, 0, 0, "文本").ok()?;
                }
                Some(Op::refuse_in("append a Text or List to a list", key, &[OP]))
            }
            9 => {
                let (key, list) = self.list(d, true)?;
                let i = self.rng.random_range(0..d.length(&list));
                let v = self.scalar();
                d.put(&list, i, v).ok()?;
                Some(Op::refuse_in("overwrite a list element", key, &[OP]))
            }
            10 | 11 => {
                let key = self.pick(&["notes", "attachments"]);
                let item = self.foreign_item(d, key)?;
                let keys: Vec<String> = d.keys(&item).collect();
                let k = keys.choose(self.rng)?.clone();
                d.put(&item, k.as_str(), "改写").ok()?;
                Some(Op::refuse(
                    "overwrite someone else's note or attachment",
                    &[OP],
                ))
            }
            12 => {
                let item = self.foreign_item(d, "events")?;
                let keys: Vec<String> = d.keys(&item).collect();
                let k = keys.choose(self.rng)?.clone();
                d.put(&item, k.as_str(), "改写").ok()?;
                Some(Op::refuse("alter an event", &[OP, EVENT]))
            }
            13 => {
                let key = self.pick(&ROOT_KEYS);
                let ty = self.pick(&[ObjType::Map, ObjType::List, ObjType::Text]);
                if (key == "location" && ty == ObjType::Map)
                    || (ty == ObjType::Text && STRING_FIELDS.contains(&key))
                {
                    return None;
                }
                d.put_object(ROOT, key, ty).ok()?;
                let mut codes = vec![OP];
                if !LISTS.contains(&key) && !["risk_flags", "payments", "location"].contains(&key) {
                    // An object where a scalar belongs: a value of the wrong type too.
                    codes.push(INVALID);
                }
                if key == "id" {
                    codes.push(MALFORMED);
                }
                if key == "area_code" || key == "grid_code" {
                    codes.push(SCOPE);
                }
                Some(Op::refuse_in("make an object at a root key", key, &codes))
            }
            14 => {
                let key = self.pick(&STRING_FIELDS);
                let n = self.rng.random_range(1..30);
                let text = self.text(n);
                let obj = d.put_object(ROOT, key, ObjType::Text).ok()?;
                d.splice_text(&obj, 0, 0, &text).ok()?;
                let mut op = Op::field("a Text object for a string field", key);
                op.expect = Expect::RefuseOrRead(vec![OP, INVALID], Read::Root(key), text);
                Some(op)
            }
            15 => {
                let notes = root_obj(d, "notes", ObjType::List)?;
                let n = d.length(&notes);
                let obj = d.insert_object(&notes, n, ObjType::Map).ok()?;
                let id = self.note(d, &obj, "placeholder");
                let n = self.rng.random_range(1..30);
                let text = self.text(n);
                let t = d.put_object(&obj, "text", ObjType::Text).ok()?;
                d.splice_text(&t, 0, 0, &text).ok()?;
                let mut op = Op::accept("a new note whose text is a Text object");
                op.expect = Expect::RefuseOrRead(vec![OP, INVALID], Read::Note(id), text);
                Some(op)
            }
            16 => {
                let key = self.pick(&["parties", "notes", "attachments", "events"]);
                let item = if key == "parties" || key == "events" {
                    let list = root_obj(d, key, ObjType::List)?;
                    map_items(d, &list).choose(self.rng)?.1.clone()
                } else {
                    self.foreign_item(d, key)?
                };
                let k = self.pick(&["name", "text", "payload", "extra", "id"]);
                let ty = self.pick(&[ObjType::Map, ObjType::List]);
                d.put_object(&item, k, ty).ok()?;
                Some(Op::refuse_in(
                    "make an object inside an item",
                    key,
                    &[OP, INVALID],
                ))
            }
            17 => {
                let key = self.pick(&CENTER_KEYS);
                let value: ScalarValue = match key {
                    "schema" => ScalarValue::Uint(self.pick(&[1, 2, 99])),
                    "id" => CaseId::new_random().to_string().into(),
                    "recorded_at" => ScalarValue::Int(1),
                    "recorded_by" => self.pick(&["u-wang.grid", "u-chen.dispatch"]).into(),
                    _ => HOSTILE_DEVICE.into(),
                };
                d.put(ROOT, key, value).ok()?;
                let mut codes = vec![OP];
                if key == "id" {
                    codes.push(MALFORMED);
                }
                Some(Op::refuse("write a center-only key", &codes))
            }
            18 => {
                match root_obj(d, "time_limits", ObjType::Map) {
                    Some(limits) if self.chance(0.5) => {
                        let k = self.pick(&LIMIT_KEYS);
                        d.put(&limits, k, ScalarValue::Int(365 * 86_400_000 + 1))
                            .ok()?;
                    }
                    _ => {
                        let limits = d.put_object(ROOT, "time_limits", ObjType::Map).ok()?;
                        for k in &LIMIT_KEYS[..7] {
                            d.put(&limits, *k, 365 * 86_400_000i64).ok()?;
                        }
                        d.put(&limits, "yellow_percent", 100i64).ok()?;
                    }
                }
                Some(Op::refuse("write time_limits", &[OP, EVENT]))
            }
            19 => {
                let key = self.pick(&["admin", "case_no", "status", "approved_by", "备注"]);
                let v = self.scalar();
                d.put(ROOT, key, v).ok()?;
                Some(Op::refuse("an unknown root key", &[OP]))
            }
            20 => {
                let (key, value): (&'static str, ScalarValue) = match self.rng.random_range(0..9) {
                    0 => ("title", ScalarValue::Int(42)),
                    1 => ("summary", ScalarValue::Int(7)),
                    2 => ("address", ScalarValue::Boolean(true)),
                    3 => ("category", ScalarValue::Int(3)),
                    4 => ("risk_level", ScalarValue::Uint(1)),
                    5 => ("difficulty", ScalarValue::Null),
                    6 => ("amount_involved", "一万元".into()),
                    7 => ("people_involved", "三人".into()),
                    _ => ("occurred_at", "昨天".into()),
                };
                d.put(ROOT, key, value).ok()?;
                Some(Op::refuse("a value of the wrong type", &[OP, INVALID]))
            }
            21 => {
                let party = self.pick_party(d)?;
                let (key, value): (&str, ScalarValue) = match self.rng.random_range(0..4) {
                    0 => ("name", ScalarValue::Int(1)),
                    1 => ("minor", "是".into()),
                    2 => ("role", ScalarValue::Uint(2)),
                    _ => ("phone", ScalarValue::F64(1.38e10)),
                };
                d.put(&party, key, value).ok()?;
                Some(Op::refuse(
                    "a party field of the wrong type",
                    &[OP, INVALID],
                ))
            }
            22 => self.invalid(d),
            23 => {
                // An event the grid worker may not author, or one authored as someone else.
                let list = root_obj(d, "events", ObjType::List)?;
                let n = d.length(&list);
                let id = self.id();
                let mut by = self.me.clone();
                let kind = match self.rng.random_range(0..5) {
                    0 => {
                        by.user = "u-chen.dispatch".into();
                        self.permitted_kind().as_code()
                    }
                    1 => {
                        by.role = Role::Dispatcher;
                        self.permitted_kind().as_code()
                    }
                    2 => {
                        by.org = "330182-center".into();
                        self.permitted_kind().as_code()
                    }
                    3 => "GRANT_ADMIN",
                    _ => {
                        let refused: Vec<EventKind> = EventKind::ALL
                            .iter()
                            .copied()
                            .filter(|k| !may_author(self.me.role, *k))
                            .collect();
                        self.pick(&refused).as_code()
                    }
                };
                let payload = EventKind::from_code(kind)
                    .map(|k| crate::authz_sync::payload(k).to_string())
                    .unwrap_or_default();
                let e = d.insert_object(&list, n, ObjType::Map).ok()?;
                put_event(d, &e, &id, kind, &by, &payload);
                Some(Op::refuse("a forged event", &[EVENT]))
            }
            24 => {
                if self.chance(0.7) {
                    let to = self.pick(&OTHER_VILLAGES);
                    d.put(ROOT, "area_code", to).ok()?;
                    Some(Op::refuse("move the case to another village", &[SCOPE]))
                } else {
                    let to = format!("{}001", self.pick(&OTHER_VILLAGES));
                    d.put(ROOT, "grid_code", to).ok()?;
                    Some(Op::refuse(
                        "move the grid to another village",
                        &[SCOPE, INVALID],
                    ))
                }
            }
            25 => {
                // Rare and heavy: one to four hundred thousand characters.
                if !self.chance(0.25) {
                    return None;
                }
                let n = self.rng.random_range(20_000..60_000);
                let huge = "纠".repeat(n);
                if self.chance(0.5) {
                    let key = self.pick(&["title", "summary"]);
                    d.put(ROOT, key, huge).ok()?;
                } else {
                    let notes = root_obj(d, "notes", ObjType::List)?;
                    let len = d.length(&notes);
                    let obj = d.insert_object(&notes, len, ObjType::Map).ok()?;
                    self.note(d, &obj, &huge);
                }
                Some(Op::refuse("a huge value", &[INVALID, TOO_LARGE]))
            }
            _ => {
                let (key, _) = self.list(d, false)?;
                if key == "events" {
                    return None;
                }
                let list = root_obj(d, key, ObjType::List)?;
                let n = d.length(&list);
                let obj = d.insert_object(&list, n, ObjType::Map).ok()?;
                match key {
                    "notes" => {
                        let text = if self.chance(0.5) {
                            String::new()
                        } else {
                            self.text(MAX_NOTE_CHARS + 1)
                        };
                        self.note(d, &obj, &text);
                    }
                    "parties" => {
                        let name = if self.chance(0.5) { "" } else { "  " };
                        self.party(d, &obj, name);
                    }
                    _ => self.attachment(d, &obj, "not-a-sha256"),
                }
                Some(Op::refuse("an invalid new item", &[INVALID]))
            }
        }
    }

    /// A field value the HTTP API refuses.
    fn invalid(&mut self, d: &mut AutoCommit) -> Option<Op> {
        let (key, value, codes): (&str, ScalarValue, &[&'static str]) =
            match self.rng.random_range(0..9) {
                0 => ("title", self.pick(&["", "   "]).into(), &[INVALID]),
                1 => {
                    let n = self
                        .rng
                        .random_range(MAX_TITLE_CHARS + 1..MAX_TITLE_CHARS * 3);
                    ("title", self.text(n).into(), &[INVALID])
                }
                2 => {
                    let n = self
                        .rng
                        .random_range(MAX_SUMMARY_CHARS + 1..MAX_SUMMARY_CHARS + 300);
                    ("summary", self.text(n).into(), &[INVALID])
                }
                3 => ("category", "NOT_A_CATEGORY".into(), &[INVALID]),
                4 => ("risk_level", "PURPLE".into(), &[INVALID]),
                5 => ("difficulty", "IMPOSSIBLE".into(), &[INVALID]),
                6 => (
                    "amount_involved",
                    ScalarValue::Int(-self.rng.random_range(1..1_000_000)),
                    &[INVALID],
                ),
                7 => (
                    "area_code",
                    self.pick(&["33018210120", "33018210120x", ""]).into(),
                    &[INVALID, SCOPE],
                ),
                _ => {
                    let loc = d.put_object(ROOT, "location", ObjType::Map).ok()?;
                    d.put(&loc, "lat", 200.0).ok()?;
                    d.put(&loc, "lon", 119.6).ok()?;
                    return Some(Op::refuse("an invalid field value", &[INVALID]));
                }
            };
        d.put(ROOT, key, value).ok()?;
        Some(Op::refuse("an invalid field value", codes))
    }

    /// An unknown risk flag (the HTTP API knows six).
    fn odd_flag(&mut self, d: &mut AutoCommit) -> Option<Op> {
        let flags = root_obj(d, "risk_flags", ObjType::Map)?;
        d.put(&flags, "NOT_A_FLAG", true).ok()?;
        Some(Op::refuse("an unknown risk flag", &[INVALID, OP]))
    }

    /// One operation: permitted (about a third) or not.
    fn op(&mut self, d: &mut AutoCommit) -> Option<Op> {
        match self.rng.random_range(0..100) {
            0..=32 => self.legit(d),
            33 => self.odd_flag(d),
            _ => self.hostile(d),
        }
    }

    /// An operation, retried until one applies to this document (Automerge writes no
    /// operation for a put of the value already there).
    fn some_op(&mut self, d: &mut AutoCommit, permitted: bool) -> Op {
        for _ in 0..20 {
            let pending = d.pending_ops();
            let op = if permitted { self.legit(d) } else { self.op(d) };
            if let Some(op) = op
                && d.pending_ops() > pending
            {
                return op;
            }
        }
        d.put(ROOT, "summary", "兜底修改").unwrap();
        Op::field("edit a field", "summary")
    }
}

/// A put of a value the key does not hold already: Automerge 0.12 writes nothing for the
/// same value, and a delete when that value is one of several conflicting ones (which a
/// permitted edit must not carry).
fn put_new(d: &mut AutoCommit, obj: &ObjId, key: &str, value: ScalarValue) -> Option<()> {
    let all = d.get_all(obj, key).ok()?;
    if all
        .iter()
        .any(|(v, _)| matches!(v, Value::Scalar(s) if s.as_ref() == &value))
    {
        return None;
    }
    d.put(obj, key, value).ok()
}

fn put_event(d: &mut AutoCommit, e: &ObjId, id: &str, kind: &str, by: &Author, payload: &str) {
    d.put(e, "id", id).unwrap();
    d.put(e, "kind", kind).unwrap();
    d.put(e, "by_user", by.user.as_str()).unwrap();
    d.put(e, "by_role", by.role.as_code()).unwrap();
    d.put(e, "org", by.org.as_str()).unwrap();
    d.put(e, "at", 1_795_000_000_000i64).unwrap();
    d.put(e, "payload", payload).unwrap();
}

// ---- the world ------------------------------------------------------------------------------

/// A case as the center reads it.
#[derive(Clone)]
struct Snap {
    case: Case,
    events: Vec<Event>,
    heads: Vec<ChangeHash>,
}

fn snap(server: &TestServer, id: CaseId) -> Result<Snap, String> {
    snap_doc(server, id).map(|(s, _)| s)
}

/// The case as the center reads it, and its document.
fn snap_doc(server: &TestServer, id: CaseId) -> Result<(Snap, CaseDoc), String> {
    let mut doc = forge::try_load(server, id)?.ok_or("the case is gone")?;
    let snap = Snap {
        case: doc.case(),
        events: doc.events(),
        heads: doc.heads(),
    };
    Ok((snap, doc))
}

/// The case's feed position at the center (it moves with every write to the case).
fn updated_pos(server: &TestServer, id: CaseId) -> Option<i64> {
    server
        .block_on(
            sqlx::query_scalar("SELECT updated_pos FROM cases WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&server.state.db.pool()),
        )
        .ok()
        .flatten()
}

/// A change pushed with missing dependencies, and the dependency held back.
struct Parked {
    case: CaseId,
    hash: ChangeHash,
    missing: Vec<u8>,
    /// What the held-back change may change once it arrives (it is a permitted edit).
    allowed: Allowed,
}

/// One pushed case: what it carried and what it should get.
struct Probe {
    case: CaseId,
    label: String,
    expect: Expect,
    allowed: Allowed,
    appended: Vec<String>,
    before: Snap,
}

#[derive(Default)]
struct Failures {
    /// kind → (count, first examples)
    by_kind: BTreeMap<String, (usize, Vec<String>)>,
}

impl Failures {
    fn add(&mut self, kind: impl Into<String>, example: impl Into<String>) {
        let e = self.by_kind.entry(kind.into()).or_default();
        e.0 += 1;
        if e.1.len() < 2 {
            e.1.push(example.into());
        }
    }

    fn total(&self) -> usize {
        self.by_kind.values().map(|(n, _)| n).sum()
    }

    fn report(&self) -> String {
        let mut out = String::new();
        for (kind, (n, examples)) in &self.by_kind {
            out.push_str(&format!("{n:>6} × {kind}\n"));
            for e in examples {
                out.push_str(&format!("           e.g. {e}\n"));
            }
        }
        out
    }
}

#[derive(Default)]
struct Tally {
    tried: usize,
    accepted: usize,
    refused: BTreeMap<String, usize>,
    labels: BTreeMap<String, usize>,
}

struct World {
    server: TestServer,
    rng: StdRng,
    me: Author,
    hostile: Phone,
    cursor: u64,
    /// The hostile device's second bound actor (the one a parked change depends on).
    second: ActorId,
    /// Actors that are not the hostile device's: another phone's, the center's, a stranger's.
    foreign: Vec<(&'static str, ActorId)>,
    honest: Vec<Phone>,
    dispatcher: Staff,
    handler: Staff,
    /// Cases of the hostile device's village, and of others.
    village: Vec<CaseId>,
    outside: Vec<CaseId>,
    broken: HashSet<CaseId>,
    /// Cases no longer attacked: broken ones, and those the center got wrong once (what
    /// follows there is consequence, not news).
    retired: HashSet<CaseId>,
    /// Attachments the mediator's phone appended.
    others: HashSet<String>,
    /// Heads each case had at earlier rounds (stale bases).
    history: HashMap<CaseId, Vec<Vec<ChangeHash>>>,
    parked: Vec<Parked>,
    /// The center's copy of each case as last read, by the case's feed position then.
    cache: HashMap<CaseId, (i64, Snap, CaseDoc)>,
    tally: Tally,
    failures: Failures,
    round: usize,
    /// When the tokens were last renewed (access tokens live 15 minutes; long runs outlast
    /// them).
    signed_in: Instant,
}

impl World {
    fn new(seed: u64) -> World {
        let server = TestServer::start();
        let base = server.base_url();
        let mut failures = Failures::default();
        let honest = vec![
            Phone::login(&base, "wang.grid", "adv-wang"),
            Phone::login(&base, "li.mediator", "adv-li"),
            Phone::login(&base, "zhao.grid", "adv-zhao"),
        ];
        let hostile = Phone::login(&base, "wang.grid", HOSTILE_DEVICE);
        // A second actor of its own, registered as any install may.
        let second = ActorId::from(seed.to_be_bytes());
        forge::login_with_actors(
            &base,
            "wang.grid",
            HOSTILE_DEVICE,
            &[second.to_hex_string()],
        )
        .expect("a second own actor binds");
        // The center's actor is reserved: binding it must fail (if it does not, the hostile
        // device goes on with it, as a real attacker would).
        let center = server.state.actor.clone();
        match forge::login_with_actors(
            &base,
            "wang.grid",
            HOSTILE_DEVICE,
            &[center.to_hex_string()],
        ) {
            Err(e) if e.status == 409 && e.code == "actor_taken" => {}
            Err(e) => failures.add(
                "setup: binding the center's actor answered wrongly (expected 409 actor_taken)",
                e.to_string(),
            ),
            Ok(_) => failures.add(
                "setup: the center's actor was bound to a phone (expected 409 actor_taken)",
                "login 200",
            ),
        }
        let foreign = vec![
            ("another phone's actor", honest[1].store.actor_id().clone()),
            ("the center's actor", center),
            ("a stranger's actor", ActorId::from([0x5a; 16])),
        ];
        let me = Author::new("u-wang.grid", Role::GridWorker, VILLAGE);
        let dispatcher = Staff::login(&server, "chen.dispatch");
        let handler = Staff::login(&server, "liu.labour");
        let mut w = World {
            server,
            rng: StdRng::seed_from_u64(seed),
            me,
            hostile,
            cursor: 0,
            second,
            foreign,
            honest,
            dispatcher,
            handler,
            village: Vec::new(),
            outside: Vec::new(),
            broken: HashSet::new(),
            retired: HashSet::new(),
            others: HashSet::new(),
            history: HashMap::new(),
            parked: Vec::new(),
            cache: HashMap::new(),
            tally: Tally::default(),
            failures,
            round: 0,
            signed_in: Instant::now(),
        };
        // Cases to attack: the village's (drafts and submitted ones, some accepted and
        // dispatched by the center) and another village's.
        for i in 0..8 {
            let id = w.honest[0].record(&format!("东岭村纠纷 {i}"));
            if i % 4 != 3 {
                w.honest[0].store.submit(id).unwrap();
            }
            w.village.push(id);
        }
        for i in 0..3 {
            let id = w.honest[2].record(&format!("河口村纠纷 {i}"));
            w.honest[2].store.submit(id).unwrap();
            w.outside.push(id);
        }
        for p in 0..3 {
            w.honest_sync(p);
        }
        for i in 0..4 {
            let case = w.village[i];
            w.center_step_on(case);
            if i % 2 == 0 {
                w.center_step_on(case);
            }
        }
        w
    }

    fn server(&self) -> &TestServer {
        &self.server
    }

    /// Signs everyone in again when their access tokens near their end.
    fn renew_tokens(&mut self) {
        if self.signed_in.elapsed().as_secs() < 600 {
            return;
        }
        let base = self.server.base_url();
        for p in self
            .honest
            .iter_mut()
            .chain(std::iter::once(&mut self.hostile))
        {
            let user = match p.device_id.as_str() {
                "adv-li" => "li.mediator",
                "adv-zhao" => "zhao.grid",
                _ => "wang.grid",
            };
            let v =
                forge::login_with_actors(&base, user, &p.device_id, &[]).expect("sign in again");
            p.access_token = v["access_token"].as_str().unwrap_or_default().to_owned();
        }
        self.dispatcher = Staff::login(&self.server, "chen.dispatch");
        self.handler = Staff::login(&self.server, "liu.labour");
        self.signed_in = Instant::now();
    }

    // ---- honest work ------------------------------------------------------------------------

    fn honest_sync(&mut self, p: usize) {
        let device = self.honest[p].device_id.clone();
        match self.honest[p].sync() {
            Ok(r) => {
                for x in &r.rejected {
                    self.failures.add(
                        "honest: a phone's own work was refused",
                        format!("{device}, round {}: {x:?}", self.round),
                    );
                }
            }
            Err(e) => self.failures.add(
                format!("honest: a phone's sync failed with {} {}", e.status, e.code),
                format!("{device}, round {}: {}", self.round, e.message),
            ),
        }
    }

    fn held(&self, p: usize) -> Vec<CaseId> {
        match self.honest[p].store.cases(&CaseFilter::default()) {
            Ok(list) => list.into_iter().map(|s| s.id).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// A phone works offline (records, notes, edits), then syncs.
    fn honest_step(&mut self) {
        let p = self.rng.random_range(0..self.honest.len());
        let held = self.held(p);
        let roll = self.rng.random_range(0..10);
        let target = held.choose(&mut self.rng).copied();
        let n = self.round;
        let result = match (p, roll, target) {
            (0 | 2, 0..=2, _) | (_, _, None) if p != 1 => {
                let id = self.honest[p].record(&format!("新纠纷 {n}"));
                if self.rng.random_bool(0.8) {
                    self.honest[p].store.submit(id).map(|_| ())
                } else {
                    Ok(())
                }
                .map(|()| {
                    if p == 0 {
                        self.village.push(id)
                    } else {
                        self.outside.push(id)
                    }
                })
            }
            (_, _, None) => Ok(()),
            (0, 3, Some(c)) => self.honest[p].store.edit(
                c,
                &gridsync_core::case::CaseEdit {
                    title: Some(format!("诚实的标题 {n}")),
                    summary: Some(format!("诚实的摘要 {n}")),
                    ..Default::default()
                },
            ),
            (0, 4, Some(c)) => self.honest[p]
                .store
                .add_party(
                    c,
                    &PartyInput {
                        name: format!("当事人 {n}"),
                        ..Default::default()
                    },
                )
                .map(|_| ()),
            (1, 0..=3, Some(c)) => {
                let attachment = gridsync_core::case::AttachmentRef {
                    sha256: format!("{:064x}", self.rng.random::<u128>()),
                    kind: AttachmentKind::Photo,
                    size: 2048,
                    mime: "image/jpeg".into(),
                    caption: format!("调解现场 {n}"),
                    ..Default::default()
                };
                self.honest[p]
                    .store
                    .add_attachment(c, &attachment)
                    .map(|id| {
                        self.others.insert(id);
                    })
            }
            (_, _, Some(c)) => self.honest[p]
                .store
                .add_note(c, NoteKind::HomeVisit, &format!("诚实的走访 {n}"))
                .map(|_| ()),
        };
        if let Err(e) = result {
            self.failures.add(
                format!("honest: a phone's typed operation failed ({})", e.code()),
                format!("{}, round {n}: {e}", self.honest[p].device_id),
            );
        }
        self.honest_sync(p);
    }

    /// The center takes the next step on a random case.
    fn center_step(&mut self) {
        let all: Vec<CaseId> = self
            .village
            .iter()
            .chain(&self.outside)
            .filter(|c| !self.retired.contains(c))
            .copied()
            .collect();
        if let Some(case) = all.choose(&mut self.rng).copied() {
            self.center_step_on(case);
        }
    }

    fn center_step_on(&mut self, case: CaseId) {
        let path = format!("/v1/cases/{case}");
        let (status, detail) = self.dispatcher.get(&path);
        if status != 200 {
            self.failures.add(
                format!("center: GET {{case}} answered {status}"),
                format!("round {}: {case}: {detail}", self.round),
            );
            return;
        }
        let labour = detail["state"]["assigned_orgs"]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o["id"] == "330182-labour"));
        let (who, kind, payload) = match detail["state"]["status"].as_str().unwrap_or_default() {
            "DRAFT" => return,
            "SUBMITTED" => ("dispatcher", "ACCEPT", json!({})),
            "ACCEPTED" => (
                "dispatcher",
                "DISPATCH",
                json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" }),
            ),
            "DISPATCHED" if labour => ("handler", "SIGN_FOR", json!({})),
            _ => ("dispatcher", "SUPERVISE", json!({ "level": "NORMAL" })),
        };
        let staff = if who == "handler" {
            &self.handler
        } else {
            &self.dispatcher
        };
        let (status, answer) = staff.act(&case.to_string(), kind, payload);
        // 409: not valid in the case's state (a phone's step landed first): the center's
        // business. Anything else but 200 is the center failing on its own case.
        if status != 200 && status != 409 {
            self.failures.add(
                format!("center: {kind} answered {status}"),
                format!("round {}: {case}: {answer}", self.round),
            );
        }
    }

    // ---- the attack -------------------------------------------------------------------------

    /// The hostile device's change to `case`: (label, expectation, what it may change,
    /// items it appends, change bytes).
    fn forge(
        &mut self,
        case: CaseId,
        mut doc: AutoCommit,
    ) -> (String, Expect, Allowed, Vec<String>, Vec<Vec<u8>>) {
        let own = self.hostile.store.actor_id().clone();
        let variant = self.rng.random_range(0..100);
        // A stale base: the case as it was some rounds ago (what an offline phone saw).
        if (5..15).contains(&variant)
            && let Some(old) = self
                .history
                .get(&case)
                .and_then(|h| h.choose(&mut self.rng))
            && let Ok(fork) = doc.fork_at(old)
        {
            doc = fork;
        }
        let actor = if self.rng.random_bool(0.2) {
            self.second.clone()
        } else {
            own.clone()
        };
        let mut g = Gen {
            rng: &mut self.rng,
            me: &self.me,
            others: &self.others,
            appended: Vec::new(),
        };
        if variant < 5 {
            // Under an actor that is not the device's.
            let (who, actor) = self.foreign[variant % self.foreign.len()].clone();
            let mut doc = doc.with_actor(actor);
            let before = doc.get_heads();
            let op = g.some_op(&mut doc, true);
            doc.commit();
            let change = doc.get_changes(&before).remove(0).bytes().into_owned();
            let label = format!("{} under {who}", op.label);
            return (
                label,
                Expect::Refuse(vec![ACTOR]),
                Allowed::default(),
                Vec::new(),
                vec![change],
            );
        }
        if variant >= 95 {
            // Missing dependencies: a change of the second actor held back, then one on top
            // of it under the device's own actor or the center's, the only one sent.
            let center = variant >= 98;
            let mut doc = doc.with_actor(self.second.clone());
            let before = doc.get_heads();
            // A permitted edit: once it arrives it lands, and may change what it edits.
            let first = g.some_op(&mut doc, true);
            doc.commit();
            doc.set_actor(if center {
                self.foreign[1].1.clone()
            } else {
                own
            });
            let op = g.some_op(&mut doc, false);
            doc.commit();
            let mut changes = doc.get_changes(&before);
            let top = changes.pop().expect("two changes");
            let missing = changes.pop().expect("two changes");
            let hash = top.hash();
            let codes = if center { vec![ACTOR] } else { Vec::new() };
            let label = format!(
                "a change with a missing dependency under {} ({})",
                if center {
                    "the center's actor"
                } else {
                    "its own actor"
                },
                op.label
            );
            self.parked.push(Parked {
                case,
                hash,
                missing: missing.raw_bytes().to_vec(),
                allowed: first.allowed,
            });
            return (
                label,
                Expect::Parked(codes, hash),
                Allowed::default(),
                Vec::new(),
                vec![top.raw_bytes().to_vec()],
            );
        }
        let mut doc = doc.with_actor(actor);
        let before = doc.get_heads();
        let n = if g.chance(0.25) {
            g.rng.random_range(2..=3)
        } else {
            1
        };
        let ops: Vec<Op> = (0..n).map(|_| g.some_op(&mut doc, false)).collect();
        let appended = std::mem::take(&mut g.appended);
        let (mut label, expect, allowed) = combine(ops);
        if (5..15).contains(&variant) {
            label.push_str(" (on a stale base)");
        }
        doc.commit();
        let changes = doc
            .get_changes(&before)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        (label, expect, allowed, appended, changes)
    }

    /// A new case recorded by the hostile device itself: in its village, or in another.
    fn forge_new_case(&mut self) -> (CaseId, String, Expect, Vec<Vec<u8>>) {
        let elsewhere = self.rng.random_bool(0.5);
        let new = NewCase {
            area_code: if elsewhere {
                OTHER_VILLAGES[1].into()
            } else {
                VILLAGE.into()
            },
            title: "自录案件".into(),
            parties: vec![PartyInput {
                name: "赵六".into(),
                ..Default::default()
            }],
            ..NewCase::default()
        };
        let mut doc = CaseDoc::record(
            &new,
            &self.me,
            HOSTILE_DEVICE,
            Timestamp(1_795_000_000_000),
            self.hostile.store.actor_id().clone(),
        )
        .unwrap();
        let (label, expect) = if elsewhere {
            ("a new case in another village", Expect::Refuse(vec![SCOPE]))
        } else {
            ("a new case in its own village", Expect::Accept)
        };
        (doc.id(), label.into(), expect, doc.changes_since(&[]))
    }

    /// Keeps a few cases of the village to attack: the honest phone records more.
    fn replenish(&mut self) {
        let active = self
            .village
            .iter()
            .filter(|c| !self.retired.contains(c))
            .count();
        // At most this many in all: against a center that gets every case wrong the run
        // ends early instead of recording cases for ever.
        if active >= 6 || self.village.len() >= 60 {
            return;
        }
        for i in active..6 {
            let id = self.honest[0].record(&format!("补充的纠纷 {} {i}", self.round));
            let _ = self.honest[0].store.submit(id);
            self.village.push(id);
        }
        self.honest_sync(0);
    }

    fn hostile_round(&mut self, budget: usize) {
        self.replenish();
        let mut pool: Vec<CaseId> = self
            .village
            .iter()
            .filter(|c| !self.retired.contains(c))
            .copied()
            .collect();
        pool.shuffle(&mut self.rng);
        let k = self.rng.random_range(6..=14).min(budget).min(pool.len());
        let mut targets: Vec<CaseId> = pool.into_iter().take(k).collect();
        if self.rng.random_bool(0.3)
            && let Some(c) = self
                .outside
                .iter()
                .filter(|c| !self.retired.contains(c) && !targets.contains(c))
                .copied()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
        {
            targets.push(*c);
        }
        let mut push = Vec::new();
        let mut probes = Vec::new();
        for case in targets {
            let cached = match self.cache.remove(&case) {
                Some((pos, snap, doc)) if Some(pos) == updated_pos(&self.server, case) => {
                    Ok((snap, doc))
                }
                _ => snap_doc(&self.server, case),
            };
            let (before, mut doc) = match cached {
                Ok(s) => s,
                Err(e) => {
                    self.broken_case(case, &e);
                    continue;
                }
            };
            let doc = forge::plain(&mut doc);
            let (mut label, mut expect, allowed, appended, changes) = self.forge(case, doc);
            if before.case.area_code != VILLAGE {
                // Outside the device's scope, whatever it carries.
                label = format!("outside its scope: {label}");
                expect = match expect {
                    Expect::Any => expect,
                    Expect::Parked(mut c, hash) => {
                        if !c.is_empty() {
                            c.push(SCOPE);
                        }
                        Expect::Parked(c, hash)
                    }
                    Expect::Refuse(mut c) => {
                        c.push(SCOPE);
                        Expect::Refuse(c)
                    }
                    Expect::RefuseOrRead(mut c, ..) => {
                        c.push(SCOPE);
                        Expect::Refuse(c)
                    }
                    Expect::Accept => Expect::Refuse(vec![SCOPE]),
                };
            }
            push.push(DocChanges {
                signatures: Vec::new(),
                doc_id: case,
                changes,
            });
            probes.push(Probe {
                case,
                label,
                expect,
                allowed,
                appended,
                before,
            });
        }
        // The dependency of an earlier parked change arrives (under the second actor).
        if self.rng.random_bool(0.2) && !self.parked.is_empty() {
            let i = self.rng.random_range(0..self.parked.len());
            let case = self.parked[i].case;
            if !probes.iter().any(|p| p.case == case)
                && !self.retired.contains(&case)
                && let Ok(before) = snap(&self.server, case)
            {
                let p = self.parked.swap_remove(i);
                push.push(DocChanges {
                    signatures: Vec::new(),
                    doc_id: case,
                    changes: vec![p.missing],
                });
                probes.push(Probe {
                    case,
                    label: "the missing dependency of a parked change arrives".into(),
                    expect: Expect::Any,
                    allowed: p.allowed,
                    appended: Vec::new(),
                    before,
                });
            }
        }
        if self.rng.random_bool(0.04) {
            let (case, label, expect, changes) = self.forge_new_case();
            push.push(DocChanges {
                signatures: Vec::new(),
                doc_id: case,
                changes,
            });
            probes.push(Probe {
                case,
                label,
                expect,
                allowed: Allowed::default(),
                appended: Vec::new(),
                before: Snap {
                    case: Case::default(),
                    events: Vec::new(),
                    heads: Vec::new(),
                },
            });
        }
        if push.is_empty() {
            return;
        }
        let response = forge::push_at(&self.hostile, self.cursor, 64 << 10, push);
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.failures.add(
                    format!(
                        "hostile push answered {} {} instead of refusing case by case",
                        e.status, e.code
                    ),
                    format!(
                        "round {}: {}; carried: {}",
                        self.round,
                        e.message,
                        probes
                            .iter()
                            .map(|p| p.label.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                );
                self.tally.tried += probes.len();
                return;
            }
        };
        self.cursor = response.cursor;
        // The dispatcher reads one of the cases over HTTP each round (all of them at the
        // end); every one is loaded at the center.
        let read = self.rng.random_range(0..probes.len());
        for (i, probe) in probes.into_iter().enumerate() {
            self.check(&response, probe, i == read);
        }
    }

    fn broken_case(&mut self, case: CaseId, why: &str) {
        self.retired.insert(case);
        if self.broken.insert(case) {
            self.failures.add(
                "invariant: a case no longer loads at the center",
                format!("round {}: {case}: {why}", self.round),
            );
        }
    }

    /// Reads one pushed case back and holds it to its expectation and the invariants.
    fn check(&mut self, response: &SyncResponse, probe: Probe, read: bool) {
        let Probe {
            case,
            label,
            expect,
            allowed,
            appended,
            before,
        } = probe;
        let round = self.round;
        let new_case = before.heads.is_empty();
        self.tally.tried += 1;
        *self.tally.labels.entry(label.clone()).or_default() += 1;
        let verdict = forge::verdict(response, case);
        match &verdict {
            Ok(()) => self.tally.accepted += 1,
            Err(c) => *self.tally.refused.entry(c.clone()).or_default() += 1,
        }
        let got = verdict.clone().err().unwrap_or_else(|| "accepted".into());
        let pos = updated_pos(&self.server, case);
        let after = snap_doc(&self.server, case);
        let after = match after {
            Ok((s, doc)) => {
                if let Some(pos) = pos {
                    self.cache.insert(case, (pos, s.clone(), doc));
                }
                Some(s)
            }
            Err(_) if new_case && verdict.is_err() => None,
            Err(e) => {
                self.broken_case(case, &format!("after {label}: {e}"));
                return;
            }
        };
        let ex = |what: &str| format!("round {round}, case {case}: {what}");
        let mut fail = |kind: String, what: String| self.failures.add(kind, ex(&what));

        // The verdict.
        let wrong = match (&expect, &verdict) {
            (Expect::Accept, Ok(())) => false,
            (Expect::Accept, Err(_)) => true,
            (Expect::Refuse(codes), Err(c)) => !codes.contains(&c.as_str()),
            (Expect::Refuse(_), Ok(())) => true,
            (Expect::RefuseOrRead(codes, ..), Err(c)) => !codes.contains(&c.as_str()),
            (Expect::RefuseOrRead(_, read, text), Ok(())) => {
                let shown = after.as_ref().map(|a| match read {
                    Read::Root(key) => serde_json::to_value(&a.case)
                        .ok()
                        .and_then(|v| v[*key].as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    Read::Note(id) => a
                        .case
                        .notes
                        .iter()
                        .find(|n| &n.id == id)
                        .map(|n| n.text.clone())
                        .unwrap_or_default(),
                });
                if shown.as_deref() != Some(text.as_str()) {
                    fail(
                        format!("{label}: acknowledged, yet not read as its text"),
                        format!("reads {shown:?}, wrote {text:?}"),
                    );
                }
                false
            }
            (Expect::Parked(codes, _), Err(c)) => !codes.is_empty() && !codes.contains(&c.as_str()),
            (Expect::Parked(_, hash), Ok(())) => {
                let acked = response
                    .acks
                    .iter()
                    .find(|a| a.doc_id == case)
                    .is_some_and(|a| a.heads.contains(&hash.0));
                if acked {
                    fail(
                        format!("{label}: acknowledged among the case's heads"),
                        hash.to_string(),
                    );
                }
                false
            }
            (Expect::Any, _) => false,
        };
        if wrong {
            fail(
                format!("{label}: expected {expect}, got {got}"),
                String::new(),
            );
        }
        let mut poisoned = wrong;
        let Some(after) = after else { return };
        if new_case {
            if verdict.is_ok() {
                self.village.push(case);
            }
            return;
        }

        // What may have changed.
        // (`Any`: a held-back permitted edit whose dependents were parked; once it arrives it
        // lands like any permitted edit.)
        let landed = verdict.is_ok()
            && matches!(
                expect,
                Expect::Accept | Expect::RefuseOrRead(..) | Expect::Any
            );
        let parked = matches!(expect, Expect::Parked(..));
        if (verdict.is_err() || parked)
            && (after.heads != before.heads
                || after.case != before.case
                || after.events != before.events)
        {
            fail(
                format!(
                    "invariant: {}, yet the case changed",
                    if parked { "parked" } else { "refused" }
                ),
                label.clone(),
            );
        }
        if landed && matches!(expect, Expect::Accept) {
            for id in &appended {
                let there = after.case.notes.iter().any(|n| &n.id == id)
                    || after.case.parties.iter().any(|p| &p.id == id)
                    || after.case.attachments.iter().any(|a| &a.id == id)
                    || after.events.iter().any(|e| &e.id == id);
                if !there {
                    fail(
                        format!("{label}: acknowledged, yet its new item is missing"),
                        id.clone(),
                    );
                }
            }
        }
        let allowed = if landed { allowed } else { Allowed::default() };
        for what in invariants(&before, &after, &allowed) {
            poisoned = true;
            fail(format!("invariant: {what}"), label.clone());
        }
        if poisoned {
            self.retired.insert(case);
        }
        if read {
            self.dispatcher_reads(case, &label);
        }
        let history = self.history.entry(case).or_default();
        if verdict.is_ok() {
            // A stale base must still hold the device's own changes (an actor's changes
            // follow one another): only heads from now on will do.
            history.clear();
        }
        history.push(after.heads);
        if history.len() > 6 {
            history.remove(0);
        }
    }

    /// The dispatcher reads the case over HTTP.
    fn dispatcher_reads(&mut self, case: CaseId, after: &str) {
        let (status, body) = self.dispatcher.get(&format!("/v1/cases/{case}"));
        if status != 200 {
            self.failures.add(
                format!("invariant: the dispatcher's GET of the case answered {status}"),
                format!("round {}, case {case}, after {after}: {body}", self.round),
            );
        }
    }

    /// Every case submitted at the center is listed for the dispatcher.
    fn check_lists(&mut self) {
        let (status, page) = self.dispatcher.get("/v1/cases?limit=500");
        if status != 200 {
            self.failures.add(
                format!("invariant: the case list answered {status}"),
                page.to_string(),
            );
            return;
        }
        let listed: HashSet<String> = page["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for case in self.village.clone().into_iter().chain(self.outside.clone()) {
            if self.broken.contains(&case) {
                continue;
            }
            let Ok(Some(doc)) = forge::try_load(&self.server, case) else {
                continue;
            };
            let st = doc.state(&self.server.state.limits, self.server.state.clock.now());
            if st.status != Status::Draft && !listed.contains(&case.to_string()) {
                self.failures.add(
                    "invariant: a submitted case is missing from the dispatcher's list",
                    format!(
                        "round {}: {case} ({}, area {})",
                        self.round,
                        st.status,
                        doc.case().area_code
                    ),
                );
            }
        }
    }

    /// Honest phones and the center hold the same cases; the case loads everywhere; no
    /// parked change is ever served.
    fn check_end(&mut self) {
        for _ in 0..2 {
            for p in 0..self.honest.len() {
                self.honest_sync(p);
            }
        }
        for p in 0..self.honest.len() {
            for case in self.held(p) {
                let Ok(view) = self.honest[p].store.case(case) else {
                    self.failures.add(
                        "convergence: a phone cannot read a case it holds",
                        case.to_string(),
                    );
                    continue;
                };
                let Ok(Some(doc)) = forge::try_load(&self.server, case) else {
                    continue;
                };
                let center = doc.state(&self.server.state.limits, self.server.state.clock.now());
                let same_log = view
                    .state
                    .timeline
                    .iter()
                    .map(|t| &t.event_id)
                    .eq(center.timeline.iter().map(|t| &t.event_id));
                if view.case != doc.case() || !same_log || view.state.status != center.status {
                    self.failures.add(
                        "convergence: a phone and the center differ on a case",
                        format!("{} on {case}", self.honest[p].device_id),
                    );
                }
            }
        }
        self.check_lists();
        for case in self.village.clone().into_iter().chain(self.outside.clone()) {
            if !self.broken.contains(&case) {
                self.dispatcher_reads(case, "the last round");
            }
        }
        // A fresh device's whole pull (li.mediator: the same village).
        let observer = Phone::login(&self.server.base_url(), "li.mediator", "adv-observer");
        let mut served = HashSet::new();
        let mut cursor = 0;
        for _ in 0..100 {
            let Ok(r) = forge::push_at(&observer, cursor, 8 << 20, Vec::new()) else {
                self.failures
                    .add("convergence: a fresh device's pull failed", String::new());
                break;
            };
            for d in &r.pull {
                for c in &d.changes {
                    if let Ok(c) = automerge::Change::from_bytes(c.clone()) {
                        served.insert(c.hash());
                    }
                }
            }
            cursor = r.cursor;
            if !r.more {
                break;
            }
        }
        for p in &self.parked {
            if served.contains(&p.hash) {
                self.failures.add(
                    "invariant: a change with missing dependencies was served to another device",
                    format!("{} on {}", p.hash, p.case),
                );
            }
        }
    }
}

/// What changed between `before` and `after` that no permitted change may change.
fn invariants(before: &Snap, after: &Snap, allowed: &Allowed) -> Vec<String> {
    let mut out = Vec::new();
    if !is_subsequence(&before.events, &after.events) {
        out.push("an event present before is gone, altered or moved".to_owned());
    }
    if !is_subsequence(&before.case.notes, &after.case.notes) {
        out.push("a note present before is gone, altered or moved".to_owned());
    }
    if !is_subsequence(&before.case.attachments, &after.case.attachments) {
        out.push("an attachment present before is gone, altered or moved".to_owned());
    }
    // Parties: all there, in order; fields as before but for a permitted edit.
    let mut rest = after.case.parties.iter();
    for p in &before.case.parties {
        match rest.find(|q| q.id == p.id) {
            None => {
                out.push("a party present before is gone or moved".to_owned());
                break;
            }
            Some(q) => {
                let (a, b) = (
                    serde_json::to_value(p).unwrap(),
                    serde_json::to_value(q).unwrap(),
                );
                for (k, v) in a.as_object().unwrap() {
                    if b[k] != *v
                        && !allowed
                            .party
                            .iter()
                            .any(|(id, key)| *id == p.id && key == k)
                    {
                        out.push(format!("a party's {k} changed"));
                    }
                }
            }
        }
    }
    // Root fields: the center's, the area, the rest unless a permitted edit wrote them.
    let (a, b) = (
        serde_json::to_value(&before.case).unwrap(),
        serde_json::to_value(&after.case).unwrap(),
    );
    for (k, v) in a.as_object().unwrap() {
        if ["parties", "notes", "attachments"].contains(&k.as_str())
            || allowed.root.contains(k.as_str())
        {
            continue;
        }
        if b[k] != *v {
            out.push(format!(
                "the field {k} changed ({} → {})",
                short(v),
                short(&b[k])
            ));
        }
    }
    out
}

/// A value for a message: long ones cut.
fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}… ({} chars)", &s[..i], s.chars().count()),
        None => s,
    }
}

/// `before`'s items all in `after`, equal and in the same order.
fn is_subsequence<T: PartialEq>(before: &[T], after: &[T]) -> bool {
    let mut rest = after.iter();
    before.iter().all(|x| rest.any(|y| y == x))
}

#[test]
fn a_hostile_phone_cannot_hurt_what_others_wrote() {
    let target: usize = std::env::var(CHANGES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CHANGES);
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("adversary: seed {seed} ({SEED_ENV}), {target} hostile changes ({CHANGES_ENV})");
    let started = Instant::now();
    let mut w = World::new(seed);
    // (hostile changes tried, rounds since that number last grew)
    let mut progress = (0, 0);
    while w.tally.tried < target {
        w.round += 1;
        w.renew_tokens();
        if w.rng.random_bool(0.6) {
            w.honest_step();
        }
        if w.rng.random_bool(0.5) {
            w.center_step();
        }
        let budget = target - w.tally.tried;
        w.hostile_round(budget);
        if w.round.is_multiple_of(25) {
            w.check_lists();
        }
        if w.village.iter().all(|c| w.retired.contains(c)) {
            w.failures.add(
                "every case of the village was retired (the center got each one wrong); stopping early",
                format!("round {}, {} cases", w.round, w.village.len()),
            );
            break;
        }
        if w.tally.tried == progress.0 {
            progress.1 += 1;
            if progress.1 == 20 {
                w.failures.add(
                    "no hostile change could be tried for 20 rounds; stopping early",
                    format!("round {}", w.round),
                );
                break;
            }
        } else {
            progress = (w.tally.tried, 0);
        }
    }
    w.check_end();
    let t = &w.tally;
    eprintln!(
        "adversary: {} hostile changes in {} rounds, {:.1} s ({}): {} accepted, refused by code {:?}; {} of {} cases retired",
        t.tried,
        w.round,
        started.elapsed().as_secs_f64(),
        if w.server().db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        t.accepted,
        t.refused,
        w.retired.len(),
        w.village.len() + w.outside.len(),
    );
    let mut labels: Vec<_> = t.labels.iter().collect();
    labels.sort_by(|a, b| b.1.cmp(a.1));
    eprintln!(
        "adversary: {} kinds of change; most tried: {}",
        labels.len(),
        labels
            .iter()
            .take(12)
            .map(|(l, n)| format!("{n} × {l}"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(
        w.failures.total() == 0,
        "{} failures (seed {seed}):\n{}",
        w.failures.total(),
        w.failures.report()
    );
}
