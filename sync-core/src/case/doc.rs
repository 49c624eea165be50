//! One Automerge document per case, behind typed operations.
//!
//! Layout (schema 1): root scalars for the dispute's fields (strings, not Automerge Text:
//! cheap to load, and concurrent edits of one field resolve as a register whose conflict
//! stays visible), `risk_flags` as a map used as a set, and append-only lists of maps for
//! `parties`, `notes`, `attachments`, `events`, each item with an `id`. All containers are
//! created by `record`, once, so two replicas never race to create the same list.
//!
//! Reading is lenient on purpose: a missing key reads as its default and a key this version
//! does not know is left untouched, so a document written by a newer schema still opens and
//! keeps what it does not understand. Writes touch only the keys an operation names.

use automerge::op_set2::{ScalarValue as ScalarRef, ValueRef};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};

use super::{
    AttachmentRef, Case, CaseEdit, CaseId, Location, NewCase, Note, NoteKind, Party, PartyEdit,
    PartyInput, RiskFlag, Timestamp,
};
use crate::workflow::{Action, Author, Event, TimeLimits, WorkflowState, fold};
use crate::{Error, Result};

mod judge;

pub use judge::{Part, Refusal, Writer, may_edit};

/// The schema this version writes. Newer documents open; their unknown keys survive edits.
pub const SCHEMA_VERSION: u64 = 1;

/// Every root key of a schema-1 case document (what `record` and the typed operations
/// write; the judge of pushed changes refuses any other).
pub const ROOT_KEYS: [&str; 25] = [
    "schema",
    "id",
    "area_code",
    "grid_code",
    "source",
    "title",
    "summary",
    "category",
    "occurred_at",
    "address",
    "location",
    "people_involved",
    "amount_involved",
    "risk_level",
    "risk_flags",
    "difficulty",
    "recorded_at",
    "recorded_by",
    "recorded_on",
    "parties",
    "notes",
    "attachments",
    "events",
    "payments",
    "time_limits",
];

/// A field whose concurrent edits conflict: every value is kept, one wins deterministically.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldConflict {
    /// A root field (`category`), or a party's (`parties.{party id}.name`).
    pub field: String,
    /// The winning value (the one the case reads) first.
    pub values: Vec<ConflictValue>,
}

/// One of a conflict's concurrent values, with who wrote it and when.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConflictValue {
    /// As text: a string as is, a code, a number in digits, a location as `lat,lon`.
    pub value: String,
    /// The Automerge actor (hex) whose change wrote it: a phone's install or the center.
    pub actor: String,
    /// The time of that change (its author's clock, to the second).
    pub at: Timestamp,
}

/// A case document. Every typed operation is one Automerge change (commit).
#[derive(Debug)]
pub struct CaseDoc {
    doc: AutoCommit,
    id: CaseId,
}

impl CaseDoc {
    /// Records a new case as a draft. `actor` is this install's Automerge actor id.
    pub fn record(
        new: &NewCase,
        by: &Author,
        device_id: &str,
        at: Timestamp,
        actor: ActorId,
    ) -> Result<CaseDoc> {
        validate_new(new)?;
        let id = new.id.unwrap_or_else(CaseId::new_random);
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SCHEMA_VERSION)?;
        doc.put(ROOT, "id", id.to_string())?;
        doc.put(ROOT, "area_code", new.area_code.as_str())?;
        doc.put(ROOT, "grid_code", new.grid_code.as_str())?;
        doc.put(ROOT, "source", new.source.as_code())?;
        doc.put(ROOT, "title", new.title.trim())?;
        doc.put(ROOT, "summary", new.summary.as_str())?;
        doc.put(ROOT, "category", new.category.as_code())?;
        if let Some(t) = new.occurred_at {
            doc.put(ROOT, "occurred_at", t.0)?;
        }
        doc.put(ROOT, "address", new.address.as_str())?;
        if let Some(loc) = new.location {
            put_location(&mut doc, loc)?;
        }
        doc.put(ROOT, "people_involved", u64::from(new.people_involved))?;
        doc.put(ROOT, "amount_involved", new.amount_involved)?;
        doc.put(ROOT, "risk_level", new.risk_level.as_code())?;
        let flags = doc.put_object(ROOT, "risk_flags", ObjType::Map)?;
        for f in &new.risk_flags {
            doc.put(&flags, f.as_code(), true)?;
        }
        doc.put(ROOT, "difficulty", new.difficulty.as_code())?;
        doc.put(ROOT, "recorded_at", at.0)?;
        doc.put(ROOT, "recorded_by", by.user.as_str())?;
        doc.put(ROOT, "recorded_on", device_id)?;
        for list in ["parties", "notes", "attachments", "events"] {
            doc.put_object(ROOT, list, ObjType::List)?;
        }
        doc.put_object(ROOT, "payments", ObjType::Map)?;
        let mut case = CaseDoc { doc, id };
        for p in &new.parties {
            case.insert_party(p)?;
        }
        case.commit("record", at);
        Ok(case)
    }

    /// Opens a saved document (or the concatenated changes of one) for writing as `actor`.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<CaseDoc> {
        let doc = AutoCommit::load(bytes)?.with_actor(actor);
        let id = read_id(&doc)?;
        Ok(CaseDoc { doc, id })
    }

    /// Builds a document from raw changes (a case that arrived by sync).
    pub fn from_changes(changes: &[Vec<u8>], actor: ActorId) -> Result<CaseDoc> {
        let mut doc = AutoCommit::new().with_actor(actor);
        apply_raw(&mut doc, changes)?;
        let id = read_id(&doc)?;
        Ok(CaseDoc { doc, id })
    }

    pub fn id(&self) -> CaseId {
        self.id
    }

    /// The Automerge actor this replica writes as, in hex (as [`ConflictValue::actor`]).
    pub fn actor_hex(&self) -> String {
        self.doc.get_actor().to_hex_string()
    }

    /// The case id the document itself records (`None` in a document that has none yet,
    /// such as [`CaseDoc::empty`] before its first change).
    pub fn recorded_id(&self) -> Option<CaseId> {
        read_id(&self.doc).ok()
    }

    // ---- typed operations -------------------------------------------------------------

    /// Writes the `Some` fields of `edit` that differ from the current values.
    pub fn edit(&mut self, edit: &CaseEdit, at: Timestamp) -> Result<()> {
        let current = self.case();
        // Everything is checked before the first write: a write left behind by a failed
        // operation would ride along with the next commit.
        validate_edit(edit, &current)?;
        let d = &mut self.doc;
        macro_rules! set_str {
            ($field:ident, $value:expr) => {
                if let Some(v) = &edit.$field {
                    let v: &str = $value(v.as_str());
                    if current.$field.as_str() != v {
                        d.put(ROOT, stringify!($field), v)?;
                    }
                }
            };
        }
        set_str!(title, str::trim);
        set_str!(summary, std::convert::identity);
        set_str!(address, std::convert::identity);
        set_str!(area_code, std::convert::identity);
        set_str!(grid_code, std::convert::identity);
        if let Some(v) = edit.category.filter(|v| *v != current.category) {
            d.put(ROOT, "category", v.as_code())?;
        }
        if let Some(v) = edit.risk_level.filter(|v| *v != current.risk_level) {
            d.put(ROOT, "risk_level", v.as_code())?;
        }
        if let Some(v) = edit.difficulty.filter(|v| *v != current.difficulty) {
            d.put(ROOT, "difficulty", v.as_code())?;
        }
        if let Some(v) = edit.occurred_at.filter(|v| Some(*v) != current.occurred_at) {
            d.put(ROOT, "occurred_at", v.0)?;
        }
        if let Some(v) = edit
            .people_involved
            .filter(|v| *v != current.people_involved)
        {
            d.put(ROOT, "people_involved", u64::from(v))?;
        }
        if let Some(v) = edit
            .amount_involved
            .filter(|v| *v != current.amount_involved)
        {
            d.put(ROOT, "amount_involved", v)?;
        }
        if let Some(v) = edit.location.filter(|v| Some(*v) != current.location) {
            put_location(d, v)?;
        }
        if let Some(flags) = &edit.risk_flags {
            // A set: add the new flags, delete the dropped ones; concurrent adds both stay.
            let obj = map_obj(d, "risk_flags")?;
            for f in RiskFlag::ALL {
                let want = flags.contains(f);
                let has = current.risk_flags.contains(f);
                if want && !has {
                    d.put(&obj, f.as_code(), true)?;
                } else if has && !want {
                    d.delete(&obj, f.as_code())?;
                }
            }
        }
        self.commit("edit", at);
        Ok(())
    }

    /// Adds a party; returns its id.
    pub fn add_party(&mut self, party: &PartyInput, at: Timestamp) -> Result<String> {
        check_party(party)?;
        let id = self.insert_party(party)?;
        self.commit("add_party", at);
        Ok(id)
    }

    /// Writes the `Some` fields of a party.
    pub fn edit_party(&mut self, party_id: &str, edit: &PartyEdit, at: Timestamp) -> Result<()> {
        for (field, value) in [
            ("name", &edit.name),
            ("id_number", &edit.id_number),
            ("ethnicity", &edit.ethnicity),
            ("phone", &edit.phone),
            ("address", &edit.address),
        ] {
            if let Some(v) = value {
                check_text(field, v)?;
            }
        }
        let obj = self.find_item("parties", party_id)?;
        let d = &mut self.doc;
        let strs = [
            ("role", edit.role.map(|v| v.as_code().to_owned())),
            ("name", edit.name.clone()),
            ("id_type", edit.id_type.map(|v| v.as_code().to_owned())),
            ("id_number", edit.id_number.clone()),
            ("sex", edit.sex.map(|v| v.as_code().to_owned())),
            ("ethnicity", edit.ethnicity.clone()),
            ("phone", edit.phone.clone()),
            ("address", edit.address.clone()),
        ];
        for (key, value) in strs {
            if let Some(v) = value.filter(|v| get_str(d, &obj, key) != *v) {
                d.put(&obj, key, v)?;
            }
        }
        if let Some(minor) = edit.minor {
            d.put(&obj, "minor", minor)?;
        }
        self.commit("edit_party", at);
        Ok(())
    }

    /// Appends a work note; returns its id.
    pub fn add_note(
        &mut self,
        kind: NoteKind,
        text: &str,
        by: &Author,
        at: Timestamp,
    ) -> Result<String> {
        self.add_note_with(kind, None, text, by, at)
    }

    /// Appends a work note held with one party (`party`: a party's id), or with nobody in
    /// particular; returns its id. A back-to-back session (背靠背调解) must name its party.
    pub fn add_note_with(
        &mut self,
        kind: NoteKind,
        party: Option<&str>,
        text: &str,
        by: &Author,
        at: Timestamp,
    ) -> Result<String> {
        check_text("text", text)?;
        let party = party.filter(|p| !p.is_empty());
        match party {
            Some(p) => {
                self.find_item("parties", p)?;
            }
            None if kind == NoteKind::MediationBackToBack => {
                return Err(Error::invalid(
                    "party",
                    "a back-to-back session names the party it was held with",
                ));
            }
            None => {}
        }
        let id = new_item_id();
        let list = list_obj(&self.doc, "notes")?;
        let obj = append_map(&mut self.doc, &list)?;
        let d = &mut self.doc;
        d.put(&obj, "id", id.as_str())?;
        d.put(&obj, "kind", kind.as_code())?;
        d.put(&obj, "author", by.user.as_str())?;
        d.put(&obj, "at", at.0)?;
        d.put(&obj, "text", text)?;
        if let Some(p) = party {
            d.put(&obj, "party", p)?;
        }
        self.commit("add_note", at);
        Ok(id)
    }

    /// Records evidence metadata (the bytes travel separately).
    pub fn add_attachment(&mut self, a: &AttachmentRef, at: Timestamp) -> Result<String> {
        if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid("sha256", "64 hex digits"));
        }
        check_text("mime", &a.mime)?;
        check_text("caption", &a.caption)?;
        let id = if a.id.is_empty() {
            new_item_id()
        } else {
            a.id.clone()
        };
        let list = list_obj(&self.doc, "attachments")?;
        let obj = append_map(&mut self.doc, &list)?;
        let d = &mut self.doc;
        d.put(&obj, "id", id.as_str())?;
        d.put(&obj, "sha256", a.sha256.to_ascii_lowercase())?;
        d.put(&obj, "kind", a.kind.as_code())?;
        d.put(&obj, "size", a.size)?;
        d.put(&obj, "mime", a.mime.as_str())?;
        d.put(&obj, "caption", a.caption.as_str())?;
        self.commit("add_attachment", at);
        Ok(id)
    }

    /// Records that an installment of the case's agreement was paid.
    pub fn mark_installment_paid(
        &mut self,
        installment_id: &str,
        paid_at: Timestamp,
        at: Timestamp,
    ) -> Result<()> {
        let state = self.state(&TimeLimits::default(), at);
        let known = state.agreement.iter().flat_map(|a| &a.installments);
        if !known.into_iter().any(|i| i.id == installment_id) {
            return Err(Error::ItemNotFound {
                what: "installment",
                id: installment_id.into(),
            });
        }
        let payments = map_obj(&mut self.doc, "payments")?;
        self.doc.put(&payments, installment_id, paid_at.0)?;
        self.commit("installment_paid", at);
        Ok(())
    }

    /// Takes a workflow step: checks the author's role and the case's current state (the
    /// same rules the fold applies), then appends the event. Returns the event id.
    pub fn act(&mut self, action: &Action, by: &Author, at: Timestamp) -> Result<String> {
        let case = self.case();
        let state = fold(&case, &self.events(), &TimeLimits::default(), at);
        state.check(&case, by, action)?;
        // Installments get their ids here, so payments can name them.
        let mut action = action.clone();
        if let Action::Resolve {
            agreement: Some(a), ..
        }
        | Action::ResolveOnSite {
            agreement: Some(a), ..
        } = &mut action
        {
            for i in a.installments.iter_mut().filter(|i| i.id.is_empty()) {
                i.id = new_item_id();
            }
        }
        // The bound the center's judge puts on a pushed event: a step that would be refused
        // there is refused here, on the phone and at the center alike.
        if action.payload_json().len() > crate::case::MAX_PAYLOAD_BYTES {
            return Err(Error::invalid(
                "payload",
                format!("at most {} bytes", crate::case::MAX_PAYLOAD_BYTES),
            ));
        }
        let id = new_item_id();
        self.append_event(&Event::new(id.as_str(), by, at, &action))?;
        self.commit(action.kind().as_code(), at);
        Ok(id)
    }

    /// Sets the time limits in force for this case (the center does, by tier and category).
    /// A no-op when they are already in force.
    pub fn set_time_limits(&mut self, limits: &TimeLimits, at: Timestamp) -> Result<()> {
        if limits_invalid(limits) {
            return Err(Error::invalid(
                "time_limits",
                "every limit must be positive, yellow 1..=100 %",
            ));
        }
        if self.case().time_limits.as_ref() == Some(limits) {
            return Ok(());
        }
        let obj = self.doc.put_object(ROOT, "time_limits", ObjType::Map)?;
        for (key, value) in LIMIT_KEYS.iter().zip(limit_values(limits)) {
            self.doc.put(&obj, *key, value)?;
        }
        self.commit("set_time_limits", at);
        Ok(())
    }

    // ---- reading ------------------------------------------------------------------------

    /// The case's fields. Lenient: missing keys read as defaults, unknown codes as defaults.
    pub fn case(&self) -> Case {
        let d = &self.doc;
        let root = Fields::of(d, &ROOT);
        let risk_flags = match root.map("risk_flags") {
            Some(obj) => {
                let mut flags: Vec<RiskFlag> = d
                    .keys(&obj)
                    .filter_map(|k| RiskFlag::from_code(&k))
                    .collect();
                flags.sort();
                flags
            }
            None => Vec::new(),
        };
        Case {
            schema: root.u64("schema"),
            id: Some(self.id),
            area_code: root.str("area_code"),
            grid_code: root.str("grid_code"),
            source: root.code("source"),
            title: root.str("title"),
            summary: root.str("summary"),
            category: root.code("category"),
            occurred_at: root.i64_opt("occurred_at").map(Timestamp),
            address: root.str("address"),
            location: root.map("location").and_then(|o| read_location(d, &o)),
            people_involved: u32::try_from(root.u64("people_involved")).unwrap_or(u32::MAX),
            amount_involved: root.i64_opt("amount_involved").unwrap_or(0),
            risk_level: root.code("risk_level"),
            risk_flags,
            difficulty: root.code("difficulty"),
            recorded_at: Timestamp(root.i64_opt("recorded_at").unwrap_or(0)),
            recorded_by: root.str("recorded_by"),
            recorded_on: root.str("recorded_on"),
            parties: read_list(d, root.list("parties"), read_party),
            notes: read_list(d, root.list("notes"), read_note),
            attachments: read_list(d, root.list("attachments"), read_attachment),
            payments: root
                .map("payments")
                .map(|o| read_payments(d, &o))
                .unwrap_or_default(),
            time_limits: root
                .map("time_limits")
                .and_then(|o| read_time_limits(d, &o)),
        }
    }

    /// The workflow log in document order.
    pub fn events(&self) -> Vec<Event> {
        read_list(&self.doc, list_obj(&self.doc, "events").ok(), read_event)
    }

    /// The derived workflow state at `now`.
    pub fn state(&self, limits: &TimeLimits, now: Timestamp) -> WorkflowState {
        fold(&self.case(), &self.events(), limits, now)
    }

    /// Fields with concurrent, unresolved edits: the dispute's own fields (`category`,
    /// `location`, ...) and each party's (`parties.{party id}.{field}`). Every value is
    /// listed with the Automerge actor that wrote it and the time of its change.
    pub fn conflicts(&self) -> Vec<FieldConflict> {
        let mut out = Vec::new();
        let mut times: Option<std::collections::HashMap<(ActorId, u64), i64>> = None;
        let mut push = |doc: &AutoCommit, obj: &ObjId, key: &str, field: String| {
            let Ok(values) = doc.get_all(obj, key) else {
                return;
            };
            if values.len() < 2 {
                return;
            }
            let times = times.get_or_insert_with(|| op_times(doc));
            // Automerge lists the winner (the value `get` reads) last.
            let values = values
                .iter()
                .rev()
                .map(|(v, id)| {
                    let (actor, counter) = match id {
                        ObjId::Id(counter, actor, _) => (actor.clone(), *counter),
                        ObjId::Root => (ActorId::from(&[][..]), 0),
                    };
                    let at = change_time(times, &actor, counter);
                    ConflictValue {
                        value: match v {
                            Value::Object(ObjType::Map) if key == "location" => {
                                read_location(doc, id)
                                    .map(|l| format!("{},{}", l.lat, l.lon))
                                    .unwrap_or_else(|| display_value(v))
                            }
                            _ => display_value(v),
                        },
                        actor: actor.to_hex_string(),
                        at: Timestamp(at),
                    }
                })
                .collect();
            out.push(FieldConflict { field, values });
        };
        for key in self.doc.keys(ROOT) {
            push(&self.doc, &ROOT, &key, key.clone());
        }
        if let Ok(parties) = list_obj(&self.doc, "parties") {
            for i in 0..self.doc.length(&parties) {
                let Ok(Some((Value::Object(ObjType::Map), party))) = self.doc.get(&parties, i)
                else {
                    continue;
                };
                let pid = get_str(&self.doc, &party, "id");
                for key in self.doc.keys(&party) {
                    push(&self.doc, &party, &key, format!("parties.{pid}.{key}"));
                }
            }
        }
        out
    }

    /// Settles a conflict (see [`CaseDoc::conflicts`]): writes `value` to `field` over every
    /// concurrent value, in one change, so the conflict is gone on every replica that
    /// receives it. `value` is given as [`CaseDoc::conflicts`] shows values (a code, digits,
    /// `lat,lon`) and checked as the typed operations check the field. A field without a
    /// conflict is refused ([`Error::ItemNotFound`]), so is a field no operation writes.
    pub fn resolve_conflict(&mut self, field: &str, value: &str, at: Timestamp) -> Result<()> {
        if !self.conflicts().iter().any(|c| c.field == field) {
            return Err(Error::ItemNotFound {
                what: "conflict",
                id: field.into(),
            });
        }
        let bad = |what: &str| Error::invalid("value", what.to_owned());
        if let Some(rest) = field.strip_prefix("parties.") {
            let (pid, key) = rest
                .split_once('.')
                .ok_or_else(|| bad("parties.{id}.{field}"))?;
            let obj = self.find_item("parties", pid)?;
            let d = &mut self.doc;
            match key {
                "role" => {
                    parse_code::<super::PartyRole>(value)?;
                    d.put(&obj, key, value)?
                }
                "id_type" => {
                    parse_code::<super::IdDocType>(value)?;
                    d.put(&obj, key, value)?
                }
                "sex" => {
                    parse_code::<super::Sex>(value)?;
                    d.put(&obj, key, value)?
                }
                "name" | "id_number" | "ethnicity" | "phone" | "address" => {
                    check_text(key, value)?;
                    let v = if key == "name" { value.trim() } else { value };
                    d.put(&obj, key, v)?;
                }
                "minor" => d.put(
                    &obj,
                    key,
                    value.parse::<bool>().map_err(|_| bad("true or false"))?,
                )?,
                _ => return Err(bad("not a field of a party")),
            }
        } else {
            let current = self.case();
            let mut edit = CaseEdit::default();
            let number = |v: &str| v.parse::<i64>().map_err(|_| bad("a whole number"));
            match field {
                "title" => edit.title = Some(value.into()),
                "summary" => edit.summary = Some(value.into()),
                "address" => edit.address = Some(value.into()),
                "category" => edit.category = Some(parse_code(value)?),
                "risk_level" => edit.risk_level = Some(parse_code(value)?),
                "difficulty" => edit.difficulty = Some(parse_code(value)?),
                "occurred_at" => edit.occurred_at = Some(Timestamp(number(value)?)),
                "people_involved" => {
                    edit.people_involved =
                        Some(u32::try_from(number(value)?).map_err(|_| bad("not negative"))?)
                }
                "amount_involved" => edit.amount_involved = Some(number(value)?),
                "area_code" => edit.area_code = Some(value.into()),
                "grid_code" => edit.grid_code = Some(value.into()),
                "location" => {
                    let (lat, lon) = value.split_once(',').ok_or_else(|| bad("lat,lon"))?;
                    let coord = |c: &str| c.trim().parse::<f64>().map_err(|_| bad("lat,lon"));
                    edit.location = Some(Location {
                        lat: coord(lat)?,
                        lon: coord(lon)?,
                    });
                }
                _ => return Err(bad("not a field a conflict can be settled on")),
            }
            validate_edit(&edit, &current)?;
            let d = &mut self.doc;
            // Written even when equal to the value read now: the put's predecessors are
            // every concurrent value, which is what ends the conflict.
            match field {
                "title" => d.put(ROOT, field, value.trim())?,
                "summary" | "address" | "area_code" | "grid_code" => d.put(ROOT, field, value)?,
                "category" | "risk_level" | "difficulty" => d.put(ROOT, field, value)?,
                "people_involved" => {
                    d.put(ROOT, field, u64::from(edit.people_involved.unwrap_or(0)))?
                }
                "occurred_at" | "amount_involved" => d.put(ROOT, field, number(value)?)?,
                _ => {
                    if let Some(loc) = edit.location {
                        put_location(d, loc)?;
                    }
                }
            }
        }
        self.commit("resolve_conflict", at);
        Ok(())
    }

    // ---- sync -----------------------------------------------------------------------------

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document, compressed.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The whole document as the center keeps it: uncompressed, and checked to open again.
    ///
    /// Uncompressed because Automerge deflates each column with a fresh zlib state, and
    /// setting those up was an eighth of the center's CPU in a sync (BENCHMARKS, issue 6); the
    /// center's disk is not the phone's, and loading skips the inflating too. Checked because
    /// Automerge 0.12 accepts some change sets whose save then fails its own checksum on load
    /// (found by `fuzz/case_load`): a store that keeps snapshots must not keep one it cannot
    /// read. Costs one load.
    pub fn save_checked(&mut self) -> Result<Vec<u8>> {
        let bytes = self.doc.save_nocompress();
        AutoCommit::load(&bytes)?;
        Ok(bytes)
    }

    /// Raw bytes of every change not covered by `have` (all changes when `have` is empty).
    ///
    /// Uncompressed: Automerge deflates each change over 256 bytes on its own, which hides the
    /// likeness between changes (same keys, actor, field names) from the zstd that wraps a
    /// whole sync body; left raw, a day's upload crosses in a third of the bytes (BENCHMARKS).
    pub fn changes_since(&mut self, have: &[ChangeHash]) -> Vec<Vec<u8>> {
        self.doc
            .get_changes(have)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    /// Hashes of the changes made since `heads` (by anyone), oldest first.
    pub fn change_hashes_since(&mut self, have: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc
            .get_changes(have)
            .iter()
            .map(automerge::Change::hash)
            .collect()
    }

    /// The last change this replica made, as raw bytes (the outbox entry of an operation).
    pub fn last_local_change(&mut self) -> Option<(ChangeHash, Vec<u8>)> {
        self.doc
            .get_last_local_change()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
    }

    /// Merges raw changes from elsewhere. Duplicates are ignored; a change whose
    /// dependencies are missing waits in the document's queue until they arrive.
    pub fn apply_changes(&mut self, changes: &[Vec<u8>]) -> Result<()> {
        apply_raw(&mut self.doc, changes)
    }

    /// Applies changes already parsed (the center applies each judged change in turn).
    pub fn apply_parsed(&mut self, changes: Vec<automerge::Change>) -> Result<()> {
        apply_parsed(&mut self.doc, changes)
    }

    pub fn has_change(&mut self, hash: &ChangeHash) -> bool {
        self.doc.get_change_by_hash(hash).is_some()
    }

    /// Dependencies of queued changes that never arrived.
    pub fn missing_deps(&mut self) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(&[])
    }

    // ---- internals ------------------------------------------------------------------------

    fn commit(&mut self, message: &str, at: Timestamp) {
        // Automerge stamps time 0 unless told; change times are seconds.
        let opts = CommitOptions::default()
            .with_message(message)
            .with_time(at.0.div_euclid(1000));
        self.doc.commit_with(opts);
    }

    fn insert_party(&mut self, p: &PartyInput) -> Result<String> {
        check_party(p)?;
        let id = new_item_id();
        let list = list_obj(&self.doc, "parties")?;
        let obj = append_map(&mut self.doc, &list)?;
        let d = &mut self.doc;
        d.put(&obj, "id", id.as_str())?;
        d.put(&obj, "role", p.role.as_code())?;
        d.put(&obj, "name", p.name.trim())?;
        d.put(&obj, "id_type", p.id_type.as_code())?;
        d.put(&obj, "id_number", p.id_number.as_str())?;
        d.put(&obj, "sex", p.sex.as_code())?;
        d.put(&obj, "ethnicity", p.ethnicity.as_str())?;
        d.put(&obj, "phone", p.phone.as_str())?;
        d.put(&obj, "address", p.address.as_str())?;
        d.put(&obj, "minor", p.minor)?;
        Ok(id)
    }

    fn append_event(&mut self, e: &Event) -> Result<()> {
        let list = list_obj(&self.doc, "events")?;
        let obj = append_map(&mut self.doc, &list)?;
        let d = &mut self.doc;
        d.put(&obj, "id", e.id.as_str())?;
        d.put(&obj, "kind", e.kind.as_str())?;
        d.put(&obj, "by_user", e.by_user.as_str())?;
        d.put(&obj, "by_role", e.by_role.as_str())?;
        d.put(&obj, "org", e.org.as_str())?;
        d.put(&obj, "at", e.at.0)?;
        d.put(&obj, "payload", e.payload.as_str())?;
        Ok(())
    }

    fn find_item(&self, list: &str, id: &str) -> Result<ObjId> {
        let what = match list {
            "parties" => "party",
            "notes" => "note",
            _ => "item",
        };
        let list = list_obj(&self.doc, list)?;
        find_in_list(&self.doc, &list, id).ok_or_else(|| Error::ItemNotFound {
            what,
            id: id.into(),
        })
    }
}

fn apply_raw(doc: &mut AutoCommit, changes: &[Vec<u8>]) -> Result<()> {
    let mut parsed = Vec::with_capacity(changes.len());
    for bytes in changes {
        parsed.push(automerge::Change::from_bytes(bytes.clone()).map_err(|e| {
            Error::Document(Box::new(automerge::AutomergeError::LoadChangeError(e)))
        })?);
    }
    apply_parsed(doc, parsed)
}

fn apply_parsed(doc: &mut AutoCommit, parsed: Vec<automerge::Change>) -> Result<()> {
    // Automerge 0.12 panics on some change sets a broken or hostile peer can send (an op
    // naming an actor the document never registered; found by `fuzz/sync_ingest`). Such
    // input is refused as malformed instead of unwinding into the caller: on the server that
    // would end the ingest task. The document may be half-applied then; callers drop it.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes(parsed))) {
        Ok(applied) => applied?,
        Err(_) => return Err(automerge::AutomergeError::Fail.into()),
    }
    Ok(())
}

fn read_id(doc: &AutoCommit) -> Result<CaseId> {
    get_str(doc, &ROOT, "id")
        .parse()
        .map_err(|_| Error::invalid("id", "the document has no case id"))
}

fn new_item_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn limits_invalid(l: &TimeLimits) -> bool {
    !l.is_valid()
}

impl TimeLimits {
    /// Every limit positive, the yellow threshold 1..=100 %: the one rule, for the case
    /// document and the center's configuration alike.
    pub fn is_valid(&self) -> bool {
        limit_values(self)[..7].iter().all(|x| *x > 0)
            && self.co_handle > 0
            && (1..=100).contains(&self.yellow_percent)
    }
}

fn validate_new(new: &NewCase) -> Result<()> {
    // The form's own list of problems (`NewCase::problems`): the first is the refusal.
    match new.problems().into_iter().next() {
        Some(problem) => Err(problem.into_error()),
        None => Ok(()),
    }
}

fn validate_edit(edit: &CaseEdit, current: &Case) -> Result<()> {
    if let Some(t) = &edit.title {
        validate_title(t)?;
    }
    if let Some(s) = &edit.summary {
        check_text("summary", s)?;
    }
    if let Some(a) = &edit.address {
        check_text("address", a)?;
    }
    if edit
        .area_code
        .as_ref()
        .is_some_and(|a| !super::is_area_code(a))
    {
        return Err(Error::invalid("area_code", super::fields::AREA_CODE_RULE));
    }
    if edit.grid_code.is_some() || edit.area_code.is_some() {
        // The grid must lie in the village, whichever of the two is edited.
        let area = edit.area_code.as_deref().unwrap_or(&current.area_code);
        let grid = edit.grid_code.as_deref().unwrap_or(&current.grid_code);
        if !grid.is_empty() && !super::is_grid_code(grid, area) {
            return Err(Error::invalid("grid_code", super::fields::GRID_CODE_RULE));
        }
    }
    if edit.amount_involved.is_some_and(|a| a < 0) {
        return Err(Error::invalid("amount_involved", "not negative"));
    }
    if let Some(loc) = edit.location {
        validate_location(loc)?;
    }
    Ok(())
}

fn validate_location(loc: Location) -> Result<()> {
    if !(-90.0..=90.0).contains(&loc.lat) || !(-180.0..=180.0).contains(&loc.lon) {
        return Err(Error::invalid(
            "location",
            "latitude/longitude out of range",
        ));
    }
    Ok(())
}

fn validate_title(title: &str) -> Result<()> {
    check_text("title", title)
}

/// The one rule for every string field of a case ([`super::field_rule`]), shared by the
/// typed operations (so the phone and the HTTP API) and the judge of pushed changes: a raw
/// change meets the same limits as a form.
pub(crate) fn check_text(field: &str, value: &str) -> Result<()> {
    super::field_rule(field).require(value)
}

fn check_party(p: &PartyInput) -> Result<()> {
    match p.problems().into_iter().next() {
        Some(problem) => Err(problem.into_error()),
        None => Ok(()),
    }
}

fn put_location(d: &mut AutoCommit, loc: Location) -> Result<()> {
    validate_location(loc)?;
    let obj = d.put_object(ROOT, "location", ObjType::Map)?;
    d.put(&obj, "lat", loc.lat)?;
    d.put(&obj, "lon", loc.lon)?;
    Ok(())
}

fn list_obj(d: &AutoCommit, key: &str) -> Result<ObjId> {
    match d.get(ROOT, key)? {
        Some((Value::Object(ObjType::List), id)) => Ok(id),
        _ => Err(Error::invalid(
            "document",
            format!("the case document has no {key} list"),
        )),
    }
}

fn map_obj(d: &mut AutoCommit, key: &str) -> Result<ObjId> {
    match d.get(ROOT, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Ok(d.put_object(ROOT, key, ObjType::Map)?),
    }
}

fn append_map(d: &mut AutoCommit, list: &ObjId) -> Result<ObjId> {
    let len = d.length(list);
    Ok(d.insert_object(list, len, ObjType::Map)?)
}

fn find_in_list(d: &AutoCommit, list: &ObjId, id: &str) -> Option<ObjId> {
    (0..d.length(list)).find_map(|i| match d.get(list, i) {
        Ok(Some((Value::Object(ObjType::Map), obj))) if get_str(d, &obj, "id") == id => Some(obj),
        _ => None,
    })
}

fn read_list<T>(d: &AutoCommit, list: Option<ObjId>, read: fn(&Fields<'_>) -> T) -> Vec<T> {
    let Some(list) = list else {
        return Vec::new();
    };
    d.list_range(&list, ..)
        .filter(|item| matches!(item.value, ValueRef::Object(ObjType::Map)))
        .map(|item| read(&Fields::of(d, &item.id())))
        .collect()
}

fn read_party(f: &Fields<'_>) -> Party {
    Party {
        id: f.str("id"),
        role: f.code("role"),
        name: f.str("name"),
        id_type: f.code("id_type"),
        id_number: f.str("id_number"),
        sex: f.code("sex"),
        ethnicity: f.str("ethnicity"),
        phone: f.str("phone"),
        address: f.str("address"),
        minor: matches!(f.scalar("minor"), Some(ScalarRef::Boolean(true))),
    }
}

fn read_note(f: &Fields<'_>) -> Note {
    Note {
        id: f.str("id"),
        kind: f.code("kind"),
        author: f.str("author"),
        at: Timestamp(f.i64_opt("at").unwrap_or(0)),
        text: f.str("text"),
        party: f.str("party"),
    }
}

fn read_attachment(f: &Fields<'_>) -> AttachmentRef {
    AttachmentRef {
        id: f.str("id"),
        sha256: f.str("sha256"),
        kind: f.code("kind"),
        size: f.u64("size"),
        mime: f.str("mime"),
        caption: f.str("caption"),
    }
}

fn read_event(f: &Fields<'_>) -> Event {
    Event {
        id: f.str("id"),
        kind: f.str("kind"),
        by_user: f.str("by_user"),
        by_role: f.str("by_role"),
        org: f.str("org"),
        at: Timestamp(f.i64_opt("at").unwrap_or(0)),
        payload: f.str("payload"),
    }
}

/// One map's current values, read in a single pass. A `get` walks the object's operations
/// again for every key, and reading a case key by key was a third of the center's CPU in a
/// sync (BENCHMARKS, issue 6); one `map_range` visits each operation once.
struct Fields<'a> {
    /// By key, as Automerge orders a map.
    items: Vec<automerge::iter::MapRangeItem<'a>>,
}

impl<'a> Fields<'a> {
    fn of(d: &'a AutoCommit, obj: &ObjId) -> Fields<'a> {
        let mut items: Vec<_> = d.map_range(obj, ..).collect();
        // Already in key order; sorting again is cheap and keeps the lookup sound if not.
        items.sort_by(|a, b| a.key.cmp(&b.key));
        Fields { items }
    }

    fn value(&self, key: &str) -> Option<&automerge::iter::MapRangeItem<'a>> {
        self.items
            .binary_search_by(|i| i.key.as_ref().cmp(key))
            .ok()
            .map(|k| &self.items[k])
    }

    fn scalar(&self, key: &str) -> Option<&ScalarRef<'a>> {
        match &self.value(key)?.value {
            ValueRef::Scalar(s) => Some(s),
            ValueRef::Object(_) => None,
        }
    }

    fn object(&self, key: &str, kind: ObjType) -> Option<ObjId> {
        self.value(key)
            .filter(|i| i.value == ValueRef::Object(kind))
            .map(|i| i.id())
    }

    fn map(&self, key: &str) -> Option<ObjId> {
        self.object(key, ObjType::Map)
    }

    fn list(&self, key: &str) -> Option<ObjId> {
        self.object(key, ObjType::List)
    }

    fn str(&self, key: &str) -> String {
        match self.scalar(key) {
            Some(ScalarRef::Str(s)) => s.to_string(),
            _ => String::new(),
        }
    }

    fn i64_opt(&self, key: &str) -> Option<i64> {
        match self.scalar(key)? {
            ScalarRef::Int(v) | ScalarRef::Timestamp(v) => Some(*v),
            ScalarRef::Uint(v) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    fn u64(&self, key: &str) -> u64 {
        match self.scalar(key) {
            Some(ScalarRef::Uint(v)) => *v,
            Some(ScalarRef::Int(v)) => u64::try_from(*v).unwrap_or(0),
            _ => 0,
        }
    }

    /// A coded field; an unknown or missing code reads as the default value.
    fn code<T: std::str::FromStr + Default>(&self, key: &str) -> T {
        match self.scalar(key) {
            Some(ScalarRef::Str(s)) => s.parse().unwrap_or_default(),
            _ => T::default(),
        }
    }
}

/// The keys of the `time_limits` map, in milliseconds (`yellow_percent` in percent).
/// `co_handle` came with joint handling: a map without it reads with its default.
pub const LIMIT_KEYS: [&str; 9] = [
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

fn limit_values(l: &TimeLimits) -> [i64; 9] {
    [
        l.accept,
        l.accept_high_risk,
        l.sign,
        l.handle_simple,
        l.handle_general,
        l.handle_complex,
        l.follow_up,
        i64::from(l.yellow_percent),
        l.co_handle,
    ]
}

fn read_time_limits(d: &AutoCommit, o: &ObjId) -> Option<TimeLimits> {
    let f = Fields::of(d, o);
    let mut v = [0i64; 9];
    for (slot, key) in v.iter_mut().zip(&LIMIT_KEYS[..8]) {
        *slot = f.i64_opt(key)?;
    }
    v[8] = f
        .i64_opt("co_handle")
        .unwrap_or(TimeLimits::default_co_handle());
    // A limit that is not positive is not a limit: ignore the whole map.
    if v[..7].iter().any(|x| *x <= 0) || v[8] <= 0 || !(1..=100).contains(&v[7]) {
        return None;
    }
    Some(TimeLimits {
        accept: v[0],
        accept_high_risk: v[1],
        sign: v[2],
        handle_simple: v[3],
        handle_general: v[4],
        handle_complex: v[5],
        follow_up: v[6],
        co_handle: v[8],
        yellow_percent: u8::try_from(v[7]).unwrap_or(70),
    })
}

fn read_payments(d: &AutoCommit, o: &ObjId) -> std::collections::BTreeMap<String, Timestamp> {
    let f = Fields::of(d, o);
    f.items
        .iter()
        .filter_map(|i| Some((i.key.to_string(), Timestamp(f.i64_opt(&i.key)?))))
        .collect()
}

fn read_location(d: &AutoCommit, o: &ObjId) -> Option<Location> {
    let f = Fields::of(d, o);
    let coord = |k| match f.scalar(k) {
        Some(ScalarRef::F64(v)) => Some(*v),
        Some(ScalarRef::Int(v)) => Some(*v as f64),
        _ => None,
    };
    Some(Location {
        lat: coord("lat")?,
        lon: coord("lon")?,
    })
}

fn scalar(d: &AutoCommit, obj: &ObjId, key: &str) -> Option<ScalarValue> {
    match d.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    }
}

fn get_str(d: &AutoCommit, obj: &ObjId, key: &str) -> String {
    match scalar(d, obj, key) {
        Some(ScalarValue::Str(s)) => s.to_string(),
        _ => String::new(),
    }
}

/// A coded value, refused as an invalid `value`.
fn parse_code<T: std::str::FromStr>(v: &str) -> Result<T> {
    v.parse::<T>()
        .map_err(|_| Error::invalid("value", format!("unknown code {v:?}")))
}

/// Each change's time (ms) by its actor and its first op's counter, for [`change_time`].
fn op_times(d: &AutoCommit) -> std::collections::HashMap<(ActorId, u64), i64> {
    d.clone()
        .get_changes(&[])
        .iter()
        .map(|c| {
            (
                (c.actor_id().clone(), c.start_op().get()),
                c.timestamp() * 1000,
            )
        })
        .collect()
}

/// The time of the change that made op `counter` of `actor`: the change of that actor with
/// the greatest start at or below the counter.
fn change_time(
    times: &std::collections::HashMap<(ActorId, u64), i64>,
    actor: &ActorId,
    counter: u64,
) -> i64 {
    times
        .iter()
        .filter(|((a, start), _)| a == actor && *start <= counter)
        .max_by_key(|((_, start), _)| *start)
        .map_or(0, |(_, t)| *t)
}

fn display_value(v: &Value<'_>) -> String {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            other => other.to_string(),
        },
        Value::Object(t) => format!("<{t}>"),
    }
}
