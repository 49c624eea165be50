//! The trust boundary's first stage (DESIGN §5): a change from a device is judged by its
//! operations, against the document as its author saw it (the change's own `deps`), before
//! anything is stored. The result of a merge can look harmless while the operations that
//! made it were not (a deleted dispatch, a note rewritten, an event slipped in before the
//! acceptance), so the center never judges only the result.
//!
//! What a device may do, per target:
//! - root fields its role may edit ([`may_edit`]): a scalar of the field's type that passes
//!   the same validation as the typed operations (and so the HTTP API); identity keys
//!   (`id`, `schema`, `recorded_*`, `source`) and containers only when the case is created;
//!   `time_limits` never (the center sets them); no deletes, no unknown keys, no Text;
//! - `parties`, `notes`, `attachments`, `events`: append a map after the last element the
//!   author had seen (or after its own previous insert in the same change), fill the new
//!   map's known keys; existing notes, attachments and events are never touched; existing
//!   parties only field by field, by roles that edit parties;
//! - `risk_flags`: add or remove a known flag; `payments`: record a payment; `location`:
//!   replace it with a new map of two coordinates.
//!
//! Scope, event authorship and the fold are judged on the merged result by the center.
//!
//! ```
//! use gridsync_core::case::{CaseDoc, NewCase, Timestamp, Writer};
//! use gridsync_core::workflow::{Author, Role};
//! use automerge::ActorId;
//!
//! let worker = Author::new("u-wang", Role::GridWorker, "330182101201");
//! let new = NewCase { title: "拖欠工资".into(), area_code: "330182101201".into(), ..NewCase::default() };
//! let mut phone = CaseDoc::record(&new, &worker, "phone-1", Timestamp(0), ActorId::random()).unwrap();
//! let created = phone.changes_since(&[]);
//!
//! // The center judges the creation against an empty document, then applies it.
//! let writer = Writer::new("u-wang", Role::GridWorker);
//! let mut center = CaseDoc::empty(phone.id(), ActorId::random());
//! let change = automerge::Change::from_bytes(created[0].clone()).unwrap();
//! assert!(center.judge(&change, &writer).is_ok());
//! center.apply_changes(&created).unwrap();
//! assert_eq!(center.case().title, "拖欠工资");
//! ```

use std::collections::HashMap;

use automerge::ScalarValue;
use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::op_set2::ValueRef;
use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};

use super::CaseDoc;
use crate::case::{self, Category, Difficulty, NoteKind, RiskFlag, RiskLevel, Source};
use crate::case::{AttachmentKind, IdDocType, PartyRole, Sex};
use crate::workflow::Role;

/// Who wrote the changes being judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer {
    pub user: String,
    pub role: Role,
}

impl Writer {
    pub fn new(user: impl Into<String>, role: Role) -> Writer {
        Writer {
            user: user.into(),
            role,
        }
    }
}

/// What part of a case a role may write from a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The dispute's own fields (title, category, risk, area, ...) and recording a case.
    Fields,
    /// Adding parties and correcting their details.
    Parties,
    Notes,
    Attachments,
    /// Installment payments of an agreement.
    Payments,
}

/// The device-side permission table, beside [`crate::workflow::may_author`] for events:
/// which parts of a case each role may write by sync.
pub fn may_edit(role: Role, part: Part) -> bool {
    use Role as R;
    match part {
        Part::Fields => matches!(role, R::GridWorker | R::VillageMediator | R::Dispatcher),
        Part::Parties | Part::Attachments | Part::Payments => matches!(
            role,
            R::GridWorker | R::VillageMediator | R::Dispatcher | R::DepartmentHandler
        ),
        Part::Notes => matches!(
            role,
            R::GridWorker
                | R::VillageMediator
                | R::Dispatcher
                | R::DepartmentHandler
                | R::Supervisor
        ),
    }
}

/// Why a change was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An operation the trust boundary forbids: a delete, an overwrite, an insert before
    /// what the author had seen, a center-only or unknown key, a value of the wrong type.
    Operation(String),
    /// An operation on the event log other than appending an event.
    Event(String),
    /// A value the HTTP API would refuse too (too long, an unknown code, a bad area code).
    Value(String),
    /// A change whose operations cannot be read (refused as malformed).
    Malformed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Operation(m)
            | Refusal::Event(m)
            | Refusal::Value(m)
            | Refusal::Malformed(m) => f.write_str(m),
        }
    }
}

/// The append-only lists.
const LISTS: [&str; 4] = ["parties", "notes", "attachments", "events"];
/// Keys written once, when the case is recorded.
const IDENTITY: [&str; 6] = [
    "schema",
    "id",
    "recorded_at",
    "recorded_by",
    "recorded_on",
    "source",
];

/// What an operation's object is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Root,
    /// One of [`LISTS`].
    List(&'static str),
    /// An element (a map) of one of [`LISTS`]; `seen`: present at the change's deps.
    Element {
        list: &'static str,
        seen: bool,
    },
    /// An element made by this very change.
    NewElement(&'static str),
    RiskFlags,
    Payments,
    /// A `location` map made by this change (an existing one is replaced, never edited).
    NewLocation,
    /// Anything else: the old location, `time_limits`, objects gridsync never makes.
    Other(&'static str),
}

/// The objects of the document the judge needs to name, by their op id, looked up lazily:
/// most changes touch the root and one list, and reading a list as of the change's deps
/// costs a walk of the change graph that is skipped when the deps are the document's heads
/// (the author had seen everything, the usual case).
struct Objects<'d> {
    doc: &'d AutoCommit,
    deps: &'d [ChangeHash],
    /// The change's deps are the document's heads: "as the author saw it" is "as it is".
    at_heads: bool,
    /// The root's containers (lists, maps), by op id, read in one pass over the root (a
    /// `get` per key cost 1.3 µs each, the pass 3 µs for all).
    roots: HashMap<(u64, ActorId), Target>,
    /// The lists by name.
    lists: HashMap<&'static str, ObjId>,
    /// The document records a case id already (it exists: nothing is being recorded).
    recorded: bool,
    /// The elements of each list, by op id.
    elements: HashMap<&'static str, std::collections::HashSet<(u64, ActorId)>>,
    /// The elements of each list the author had seen, in order (only when not `at_heads`).
    seen: HashMap<&'static str, Vec<(u64, ActorId)>>,
}

fn key_of(id: &ObjId) -> Option<(u64, ActorId)> {
    match id {
        ObjId::Root => None,
        ObjId::Id(counter, actor, _) => Some((*counter, actor.clone())),
    }
}

impl<'d> Objects<'d> {
    fn new(doc: &'d AutoCommit, deps: &'d [ChangeHash], heads: &[ChangeHash]) -> Objects<'d> {
        let mut a = deps.to_vec();
        let mut b = heads.to_vec();
        a.sort();
        b.sort();
        let mut roots = HashMap::new();
        let mut lists = HashMap::new();
        let mut recorded = false;
        // The winning value of each key only: an object that lost a conflict (two `location`
        // maps made at once) is not one the judge names, and an operation on it is refused.
        for item in doc.map_range(ROOT, ..) {
            let key: &str = item.key.as_ref();
            let target = match (key, &item.value) {
                ("id", _) => {
                    recorded = true;
                    continue;
                }
                (_, ValueRef::Object(ObjType::List)) => match LISTS.iter().find(|l| **l == key) {
                    Some(list) => {
                        lists.insert(*list, item.id());
                        Target::List(list)
                    }
                    None => continue,
                },
                ("risk_flags", ValueRef::Object(_)) => Target::RiskFlags,
                ("payments", ValueRef::Object(_)) => Target::Payments,
                ("location", ValueRef::Object(_)) => Target::Other("location"),
                ("time_limits", ValueRef::Object(_)) => Target::Other("time_limits"),
                _ => continue,
            };
            if let Some(k) = key_of(&item.id()) {
                roots.insert(k, target);
            }
        }
        Objects {
            doc,
            deps,
            at_heads: a == b,
            roots,
            lists,
            recorded,
            elements: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// The list object `name`, if the document has one.
    fn list(&self, name: &str) -> Option<ObjId> {
        self.lists.get(name).cloned()
    }

    fn elements(&mut self, name: &'static str) -> &std::collections::HashSet<(u64, ActorId)> {
        if !self.elements.contains_key(name) {
            let items = match self.list(name) {
                Some(list) => self
                    .doc
                    .list_range(&list, ..)
                    .filter_map(|item| key_of(&item.id()))
                    .collect(),
                None => Default::default(),
            };
            self.elements.insert(name, items);
        }
        &self.elements[name]
    }

    /// The elements of list `name` the author had seen, in order.
    fn seen(&mut self, name: &'static str) -> &Vec<(u64, ActorId)> {
        if !self.seen.contains_key(name) {
            let items = match self.list(name) {
                // Visible to the author only if the list itself was (it always is after the
                // creation change, which every later change depends on).
                Some(list)
                    if matches!(
                        self.doc.get_at(ROOT, name, self.deps),
                        Ok(Some((_, ref seen))) if *seen == list
                    ) =>
                {
                    self.doc
                        .list_range_at(&list, .., self.deps)
                        .filter_map(|item| key_of(&item.id()))
                        .collect()
                }
                _ => Vec::new(),
            };
            self.seen.insert(name, items);
        }
        &self.seen[name]
    }

    /// The last element of list `name` the author had seen (`None`: it was empty).
    fn last_seen(&mut self, name: &'static str) -> Option<(u64, ActorId)> {
        if self.at_heads {
            let list = self.list(name)?;
            let len = self.doc.length(&list);
            let last = self.doc.get(&list, len.checked_sub(1)?).ok()??;
            return key_of(&last.1);
        }
        self.seen(name).last().cloned()
    }

    /// What the object with op id `key` is, if the document has it.
    fn target(&mut self, key: &(u64, ActorId)) -> Option<Target> {
        if let Some(t) = self.roots.get(key) {
            return Some(t.clone());
        }
        for list in LISTS {
            if self.elements(list).contains(key) {
                let seen = self.at_heads || self.seen(list).contains(key);
                return Some(Target::Element { list, seen });
            }
        }
        None
    }
}

impl CaseDoc {
    /// An empty document for case `id`: what a new case's first change is judged against.
    pub fn empty(id: case::CaseId, actor: ActorId) -> CaseDoc {
        CaseDoc {
            doc: AutoCommit::new().with_actor(actor),
            id,
        }
    }

    /// Judges one change by its operations. The document must hold every dependency of the
    /// change (a change waiting for missing ones is judged once they arrive), and the
    /// changes before it in the same push must have been judged and applied.
    pub fn judge(&mut self, change: &Change, by: &Writer) -> Result<(), Refusal> {
        self.judge_chain(std::slice::from_ref(change), by)
    }

    /// Whether `changes` form a chain from this document's heads: the first depends on
    /// exactly the heads, each next one on exactly the one before (a phone's successive
    /// edits, the usual push). Such a chain can be judged at once ([`CaseDoc::judge_chain`])
    /// and applied in one batch.
    pub fn is_chain_from_heads(&mut self, changes: &[Change]) -> bool {
        let mut heads = self.doc.get_heads();
        heads.sort();
        let Some(first) = changes.first() else {
            return false;
        };
        let mut deps = first.deps().to_vec();
        deps.sort();
        deps == heads
            && changes
                .windows(2)
                .all(|w| w[1].deps() == [w[0].hash()].as_slice())
    }

    /// Judges a chain of changes (one change, or a chain from the heads: see
    /// [`CaseDoc::is_chain_from_heads`]) without applying them: each against the document
    /// plus the chain before it, which is what its author saw.
    pub fn judge_chain(&mut self, changes: &[Change], by: &Writer) -> Result<(), Refusal> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        let heads = self.doc.get_heads();
        let this = &*self;
        let mut objects = Objects::new(&this.doc, first.deps(), &heads);
        let mut cx = Cx {
            doc: this,
            by,
            creating: !objects.recorded,
        };
        // Objects made by the chain so far, and the last element each list received from it
        // (inserts chain on it, within a change and from one change to the next).
        let mut made: HashMap<(u64, ActorId), Target> = HashMap::new();
        let mut chained: HashMap<&'static str, (u64, ActorId)> = HashMap::new();
        for change in changes {
            judge_one(&mut cx, &mut objects, &mut made, &mut chained, change)?;
            // What one change made is, to the next, what the document has: its elements are
            // existing elements, its location a location to replace, never to edit.
            for target in made.values_mut() {
                *target = match *target {
                    Target::NewElement(list) => Target::Element { list, seen: true },
                    Target::NewLocation => Target::Other("location"),
                    ref other => other.clone(),
                };
            }
        }
        Ok(())
    }
}

/// Judges one change of a chain; `made` and `chained` carry what the chain did before it.
fn judge_one(
    cx: &mut Cx<'_>,
    objects: &mut Objects<'_>,
    made: &mut HashMap<(u64, ActorId), Target>,
    chained: &mut HashMap<&'static str, (u64, ActorId)>,
    change: &Change,
) -> Result<(), Refusal> {
    // Automerge 0.12 panics decoding some hostile changes (an operation naming an actor the
    // change does not list; found by `fuzz/sync_ingest`): refused as malformed instead.
    let expanded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change.decode()))
        .map_err(|_| Refusal::Malformed("the change's operations cannot be read".into()))?;
    let actor = expanded.actor_id.clone();
    let start = expanded.start_op.get();
    let mut recorded = false;
    for (k, op) in expanded.operations.iter().enumerate() {
        let id = (start + k as u64, actor.clone());
        let target = match &op.obj {
            ObjectId::Root => Target::Root,
            ObjectId::Id(OpId(counter, a)) => {
                let key = (*counter, a.clone());
                match made.get(&key).cloned().or_else(|| objects.target(&key)) {
                    Some(t) => t,
                    None => {
                        return Err(Refusal::Operation(
                            "an operation on an object the case does not have".into(),
                        ));
                    }
                }
            }
        };
        let made_here = match target {
            Target::Root => {
                if matches!(&op.key, Key::Map(k) if k == "id") {
                    recorded = true;
                }
                cx.root(op)?
            }
            Target::List(list) => {
                let last_seen = objects.last_seen(list);
                cx.insert(op, list, last_seen, chained.get(list))?;
                chained.insert(list, id.clone());
                Some(Target::NewElement(list))
            }
            Target::NewElement(list) => {
                cx.new_element(op, list)?;
                None
            }
            Target::Element { list, seen } => {
                cx.element(op, list, seen)?;
                None
            }
            Target::RiskFlags => {
                cx.risk_flag(op)?;
                None
            }
            Target::Payments => {
                cx.payment(op)?;
                None
            }
            Target::NewLocation => {
                cx.coordinate(op)?;
                None
            }
            Target::Other(what) => {
                return Err(match what {
                    "time_limits" => center_only("time_limits"),
                    "location" => Refusal::Operation(
                        "the location is replaced as a whole, never edited".into(),
                    ),
                    _ => Refusal::Operation(format!("{what} may not be written")),
                });
            }
        };
        if let Some(t) = made_here {
            made.insert(id, t);
        }
    }
    if recorded {
        // The case is recorded: to the changes after, identity keys and containers exist.
        cx.creating = false;
    }
    Ok(())
}

/// The context one change is judged in.
struct Cx<'a> {
    doc: &'a CaseDoc,
    by: &'a Writer,
    /// The case does not exist yet: this change records it.
    creating: bool,
}

fn center_only(key: &str) -> Refusal {
    Refusal::Operation(format!("{key} is set by the center only"))
}

fn map_key(op: &automerge::legacy::Op) -> Result<&str, Refusal> {
    match &op.key {
        Key::Map(k) if !op.insert => Ok(k.as_str()),
        _ => Err(Refusal::Operation("a list operation on a map".into())),
    }
}

/// The kind of object an operation makes, refused unless `want`.
fn made_kind(op: &automerge::legacy::Op, what: &str, want: ObjType) -> Result<(), Refusal> {
    match &op.action {
        OpType::Make(t) if *t == want => Ok(()),
        OpType::Make(ObjType::Text) => Err(Refusal::Operation(format!(
            "{what} must be a plain string, not an Automerge Text object (a JavaScript \
             client writes one for a string; use ImmutableString)"
        ))),
        OpType::Make(t) => Err(Refusal::Operation(format!(
            "{what} must be a {want}, not a {t}"
        ))),
        _ => Err(Refusal::Operation(format!("{what} must be a {want}"))),
    }
}

/// A scalar put, or the refusal that fits what the operation does instead.
fn put_value<'o>(op: &'o automerge::legacy::Op, what: &str) -> Result<&'o ScalarValue, Refusal> {
    match &op.action {
        OpType::Put(v) => Ok(v),
        OpType::Delete => Err(Refusal::Operation(format!("{what} may not be deleted"))),
        OpType::Make(ObjType::Text) => Err(Refusal::Operation(format!(
            "{what} must be a plain string, not an Automerge Text object (a JavaScript \
             client writes one for a string; use ImmutableString)"
        ))),
        OpType::Make(t) => Err(Refusal::Operation(format!(
            "{what} must be a scalar, not a {t}"
        ))),
        OpType::Increment(_) => Err(Refusal::Operation(format!("{what} is not a counter"))),
        OpType::MarkBegin(_) | OpType::MarkEnd(_) => {
            Err(Refusal::Operation(format!("{what} takes no marks")))
        }
    }
}

fn as_str<'v>(v: &'v ScalarValue, what: &str) -> Result<&'v str, Refusal> {
    match v {
        ScalarValue::Str(s) => Ok(s.as_str()),
        other => Err(Refusal::Operation(format!(
            "{what} must be a string, not {}",
            type_name(other)
        ))),
    }
}

fn as_int(v: &ScalarValue, what: &str) -> Result<i64, Refusal> {
    match v {
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Ok(*i),
        ScalarValue::Uint(u) => i64::try_from(*u)
            .map_err(|_| Refusal::Value(format!("{what}: the number is too large"))),
        other => Err(Refusal::Operation(format!(
            "{what} must be an integer, not {}",
            type_name(other)
        ))),
    }
}

fn type_name(v: &ScalarValue) -> &'static str {
    match v {
        ScalarValue::Bytes(_) => "bytes",
        ScalarValue::Str(_) => "a string",
        ScalarValue::Int(_) | ScalarValue::Uint(_) => "an integer",
        ScalarValue::F64(_) => "a float",
        ScalarValue::Counter(_) => "a counter",
        ScalarValue::Timestamp(_) => "a timestamp",
        ScalarValue::Boolean(_) => "a boolean",
        ScalarValue::Unknown { .. } => "an unknown type",
        ScalarValue::Null => "null",
    }
}

/// A string field under the typed operations' rule for it ([`super::check_text`]).
fn text<'v>(v: &'v ScalarValue, field: &str) -> Result<&'v str, Refusal> {
    let s = as_str(v, field)?;
    super::check_text(field, s).map_err(invalid)?;
    Ok(s)
}

/// A code of one of the coded enums.
fn code<T: std::str::FromStr>(v: &ScalarValue, what: &str) -> Result<(), Refusal> {
    let s = text(v, what)?;
    s.parse::<T>()
        .map(|_| ())
        .map_err(|_| Refusal::Value(format!("{what}: unknown code {s:?}")))
}

fn invalid(e: crate::Error) -> Refusal {
    Refusal::Value(e.to_string())
}

impl Cx<'_> {
    fn require(&self, part: Part, what: &str) -> Result<(), Refusal> {
        if may_edit(self.by.role, part) {
            Ok(())
        } else {
            Err(Refusal::Operation(format!(
                "role {} may not write {what}",
                self.by.role.as_code()
            )))
        }
    }

    /// An operation on the root map; returns what it made, if anything.
    fn root(&self, op: &automerge::legacy::Op) -> Result<Option<Target>, Refusal> {
        let key = map_key(op)?;
        if key == "time_limits" {
            return Err(center_only(key));
        }
        if let Some(list) = LISTS.iter().find(|l| **l == key) {
            made_kind(op, key, ObjType::List)?;
            self.once(key)?;
            return Ok(Some(Target::List(list)));
        }
        match key {
            "risk_flags" | "payments" => {
                made_kind(op, key, ObjType::Map)?;
                self.once(key)?;
                return Ok(Some(if key == "risk_flags" {
                    Target::RiskFlags
                } else {
                    Target::Payments
                }));
            }
            "location" => {
                self.require(Part::Fields, key)?;
                made_kind(op, key, ObjType::Map)?;
                return Ok(Some(Target::NewLocation));
            }
            _ => {}
        }
        let v = put_value(op, key)?;
        if IDENTITY.contains(&key) {
            self.once(key)?;
            return self.identity(key, v).map(|()| None);
        }
        self.require(Part::Fields, key)?;
        self.field(key, v).map(|()| None)
    }

    /// Identity keys and containers are written when the case is recorded, never after.
    fn once(&self, key: &str) -> Result<(), Refusal> {
        if !self.creating {
            return Err(Refusal::Operation(format!(
                "{key} is written when the case is recorded, never after"
            )));
        }
        Ok(())
    }

    fn identity(&self, key: &str, v: &ScalarValue) -> Result<(), Refusal> {
        self.require(Part::Fields, "a new case")?;
        match key {
            "id" => {
                let id = as_str(v, key)?;
                if id != self.doc.id.to_string() {
                    return Err(Refusal::Operation(format!(
                        "the changes describe case {id}, not {}",
                        self.doc.id
                    )));
                }
            }
            "schema" | "recorded_at" => {
                as_int(v, key)?;
            }
            "recorded_by" => {
                if as_str(v, key)? != self.by.user {
                    return Err(Refusal::Operation(
                        "a case is recorded by the signed-in user".into(),
                    ));
                }
            }
            "recorded_on" => {
                text(v, key)?;
            }
            _ => code::<Source>(v, key)?,
        }
        Ok(())
    }

    /// A field of the dispute, validated as the typed operations validate it.
    fn field(&self, key: &str, v: &ScalarValue) -> Result<(), Refusal> {
        match key {
            "title" | "summary" | "address" => text(v, key).map(drop),
            "category" => code::<Category>(v, key),
            "risk_level" => code::<RiskLevel>(v, key),
            "difficulty" => code::<Difficulty>(v, key),
            "area_code" => {
                if case::is_area_code(as_str(v, key)?) {
                    Ok(())
                } else {
                    Err(Refusal::Value(
                        "area_code: 12 digits (statistical division code)".into(),
                    ))
                }
            }
            // Whether the grid lies in the village is checked on the result.
            "grid_code" => {
                let g = as_str(v, key)?;
                if g.is_empty() || (g.len() == 15 && g.bytes().all(|b| b.is_ascii_digit())) {
                    Ok(())
                } else {
                    Err(Refusal::Value(
                        "grid_code: the area code followed by 3 digits".into(),
                    ))
                }
            }
            "occurred_at" => as_int(v, key).map(drop),
            "people_involved" => match as_int(v, key)? {
                n if (0..=i64::from(u32::MAX)).contains(&n) => Ok(()),
                _ => Err(Refusal::Value("people_involved: not negative".into())),
            },
            "amount_involved" => match as_int(v, key)? {
                n if n >= 0 => Ok(()),
                _ => Err(Refusal::Value("amount_involved: not negative".into())),
            },
            _ => Err(Refusal::Operation(format!(
                "{key:?} is not a field of a case"
            ))),
        }
    }

    /// An insert into one of the append-only lists: a new map after the last element the
    /// author had seen, or after this change's own previous insert into the list.
    fn insert(
        &self,
        op: &automerge::legacy::Op,
        list: &'static str,
        last_seen: Option<(u64, ActorId)>,
        chained: Option<&(u64, ActorId)>,
    ) -> Result<(), Refusal> {
        let refuse = |m: String| {
            if list == "events" {
                Refusal::Event(m)
            } else {
                Refusal::Operation(m)
            }
        };
        if !op.insert {
            return Err(refuse(format!(
                "{list} is append-only: an element may not be overwritten or deleted"
            )));
        }
        if let Some(part) = part_of(list) {
            self.require(part, list)?;
        }
        made_kind(op, &format!("an element of {list}"), ObjType::Map)?;
        let after = match &op.key {
            Key::Seq(ElementId::Head) => None,
            Key::Seq(ElementId::Id(OpId(c, a))) => Some((*c, a.clone())),
            Key::Map(_) => return Err(refuse(format!("{list} is a list"))),
        };
        let expected = chained.cloned().or(last_seen);
        if after != expected {
            return Err(refuse(format!(
                "{list} is append-only: a new element goes after the last one"
            )));
        }
        Ok(())
    }

    /// A key of an element this change appended.
    fn new_element(&self, op: &automerge::legacy::Op, list: &'static str) -> Result<(), Refusal> {
        let key = map_key(op)?;
        let v = put_value(op, key)?;
        match list {
            "parties" => party_field(key, v, true),
            "notes" => match key {
                "id" => text(v, key).map(drop),
                "kind" => code::<NoteKind>(v, key),
                "author" => {
                    if as_str(v, key)? == self.by.user {
                        Ok(())
                    } else {
                        Err(Refusal::Operation(
                            "a note is written by the signed-in user".into(),
                        ))
                    }
                }
                "at" => as_int(v, key).map(drop),
                "text" => text(v, key).map(drop),
                // The party a back-to-back session was held with: a party's id.
                "party" => text(v, key).map(drop),
                _ => Err(Refusal::Operation(format!(
                    "{key:?} is not a field of a note"
                ))),
            },
            "attachments" => match key {
                "id" => text(v, key).map(drop),
                "sha256" => {
                    let s = as_str(v, key)?;
                    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                        Ok(())
                    } else {
                        Err(Refusal::Value("sha256: 64 hex digits".into()))
                    }
                }
                "kind" => code::<AttachmentKind>(v, key),
                "size" => match as_int(v, key)? {
                    n if n >= 0 => Ok(()),
                    _ => Err(Refusal::Value("size: not negative".into())),
                },
                "mime" => text(v, key).map(drop),
                "caption" => text(v, key).map(drop),
                _ => Err(Refusal::Operation(format!(
                    "{key:?} is not a field of an attachment"
                ))),
            },
            _ => match key {
                "id" | "kind" | "by_user" | "by_role" | "org" => text(v, key).map(drop),
                "at" => as_int(v, key).map(drop),
                "payload" => {
                    let p = as_str(v, key)?;
                    if p.len() > case::MAX_PAYLOAD_BYTES {
                        Err(Refusal::Value(format!(
                            "payload: at most {} bytes",
                            case::MAX_PAYLOAD_BYTES
                        )))
                    } else {
                        Ok(())
                    }
                }
                _ => Err(Refusal::Event(format!(
                    "{key:?} is not a field of an event"
                ))),
            },
        }
    }

    /// An element already in a list: notes, attachments and events are never touched;
    /// parties are corrected field by field.
    fn element(
        &self,
        op: &automerge::legacy::Op,
        list: &'static str,
        seen: bool,
    ) -> Result<(), Refusal> {
        match list {
            "events" => Err(Refusal::Event(
                "events are append-only: an existing event may not be altered".into(),
            )),
            "parties" => {
                if !seen {
                    return Err(Refusal::Operation(
                        "an edit of a party the author had not seen".into(),
                    ));
                }
                self.require(Part::Parties, "parties")?;
                let key = map_key(op)?;
                if key == "id" {
                    return Err(Refusal::Operation("a party's id never changes".into()));
                }
                party_field(key, put_value(op, key)?, false)
            }
            _ => Err(Refusal::Operation(format!(
                "{list} are append-only: an existing element may not be altered"
            ))),
        }
    }

    fn risk_flag(&self, op: &automerge::legacy::Op) -> Result<(), Refusal> {
        self.require(Part::Fields, "risk_flags")?;
        let key = map_key(op)?;
        if RiskFlag::from_code(key).is_none() {
            return Err(Refusal::Value(format!("risk_flags: unknown flag {key:?}")));
        }
        match &op.action {
            OpType::Delete | OpType::Put(ScalarValue::Boolean(true)) => Ok(()),
            _ => Err(Refusal::Operation(
                "risk_flags is a set: a flag is added as true or removed".into(),
            )),
        }
    }

    fn payment(&self, op: &automerge::legacy::Op) -> Result<(), Refusal> {
        self.require(Part::Payments, "payments")?;
        let key = map_key(op)?;
        if key.is_empty() || key.chars().count() > case::MAX_SHORT_CHARS {
            return Err(Refusal::Value("payments: an installment id".into()));
        }
        as_int(put_value(op, "a payment")?, "a payment").map(drop)
    }

    fn coordinate(&self, op: &automerge::legacy::Op) -> Result<(), Refusal> {
        let key = map_key(op)?;
        let value = match put_value(op, key)? {
            ScalarValue::F64(f) => *f,
            ScalarValue::Int(i) => *i as f64,
            other => {
                return Err(Refusal::Operation(format!(
                    "{key} must be a number, not {}",
                    type_name(other)
                )));
            }
        };
        let range = match key {
            "lat" => -90.0..=90.0,
            "lon" => -180.0..=180.0,
            _ => {
                return Err(Refusal::Operation(format!("{key:?} is not a coordinate")));
            }
        };
        if range.contains(&value) {
            Ok(())
        } else {
            Err(Refusal::Value(
                "location: latitude/longitude out of range".into(),
            ))
        }
    }
}

fn part_of(list: &str) -> Option<Part> {
    match list {
        "parties" => Some(Part::Parties),
        "notes" => Some(Part::Notes),
        "attachments" => Some(Part::Attachments),
        // Which events a role may author is the workflow's table, judged on the result.
        _ => None,
    }
}

/// A party's field, as `PartyInput` and `PartyEdit` validate it.
fn party_field(key: &str, v: &ScalarValue, new: bool) -> Result<(), Refusal> {
    match key {
        "id" if new => text(v, key).map(drop),
        "role" => code::<PartyRole>(v, key),
        "name" => text(v, key).map(drop),
        "id_type" => code::<IdDocType>(v, key),
        "sex" => code::<Sex>(v, key),
        "id_number" | "ethnicity" | "phone" => text(v, key).map(drop),
        "address" => text(v, key).map(drop),
        "minor" => match v {
            ScalarValue::Boolean(_) => Ok(()),
            other => Err(Refusal::Operation(format!(
                "minor must be a boolean, not {}",
                type_name(other)
            ))),
        },
        _ => Err(Refusal::Operation(format!(
            "{key:?} is not a field of a party"
        ))),
    }
}
