//! Case work at the center (issue 13): work notes (mediation records, visit records,
//! back-to-back sessions held with one party), corrections of a case's fields and parties
//! (研判 re-grading among them), installments marked paid, and conflicting edits of one
//! field settled by a dispatcher. Each is an ordinary document change made through
//! `sync-core`'s typed operations and logged by the one change-log writer
//! ([`super::cases::edit`]), so it reaches the phones at their next sync, and each is
//! audited with field names and ids, never values.
//!
//! Who: the policy table says which roles may open each door; the case must be in the
//! caller's scope (404 otherwise) and worked by the caller ([`super::cases::works_on`]:
//! the dispatcher, the handling or assigned department, the village's mediator; 403
//! `out_of_scope` otherwise); which parts of a case a role may write is
//! `gridsync_core::case::may_edit`, the same table that judges a phone's changes.

use gridsync_core::case::{
    CaseDoc, CaseEdit, CaseId, Category, Difficulty, IdDocType, Location, NoteKind, Part,
    PartyEdit, PartyInput, PartyRole, RiskFlag, RiskLevel, Sex, Timestamp, may_edit,
};
use gridsync_core::workflow::Author;

use super::cases::{edit_in, find_in_scope, works_on};
use crate::caller::Caller;
use crate::county_time::Stamp;
use crate::policy::{self, Permission, Refusal};
use crate::state::Center;

/// `action` of a note appended through the API (`detail`: `note_id`, `kind`, `party`).
pub const NOTE_ADDED: &str = "CASE_NOTE_ADDED";
/// `action` of a correction (`detail`: `fields`, the names corrected; `parties`, the ids
/// of parties corrected or added). Never the values.
pub const CASE_CORRECTED: &str = "CASE_CORRECTED";
/// `action` of an installment marked paid (`detail`: `installment`).
pub const INSTALLMENT_PAID: &str = "INSTALLMENT_PAID";
/// `action` of a conflict settled (`detail`: `field`, `values`: how many stood).
pub const CONFLICT_RESOLVED: &str = "CONFLICT_RESOLVED";

/// A work note to append.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// `MEDIATION_RECORD` (调解笔录), `VISIT_RECORD` (走访记录), `MEDIATION_BACK_TO_BACK`
    /// (背靠背调解), `HOME_VISIT`, `PHONE_CALL`, `MEDIATION_FACE_TO_FACE`,
    /// `MEDIATION_REMOTE`, `LEGAL_EXPLANATION`, `OTHER`.
    #[schema(example = "MEDIATION_BACK_TO_BACK")]
    pub kind: String,
    /// 1 to 10,000 characters. May hold personal data: shown only in unmasked reads.
    #[schema(example = "与申请人单独沟通：同意分两期付清。")]
    pub text: String,
    /// The party (id) the note was held with; required for a back-to-back session.
    #[serde(default)]
    pub party: Option<String>,
}

/// A correction: the fields given are written, the others left alone. Codes and limits are
/// the phone's (`check_text`, the code lists).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub title: Option<String>,
    pub summary: Option<String>,
    /// A category code (`LABOUR_WAGES`, ...).
    #[schema(example = "LABOUR_WAGES")]
    pub category: Option<String>,
    /// 研判: `RED`, `ORANGE`, `YELLOW`, `GREEN`. Re-grading red (or flagging danger) undoes a
    /// resolve-on-the-spot: the fold judges it against the current risk.
    #[schema(example = "RED")]
    pub risk_level: Option<String>,
    /// The whole set of danger flags (`CRIMINAL_TENDENCY`, `GROUP_PETITION`, ...).
    pub risk_flags: Option<Vec<String>>,
    /// `SIMPLE`, `GENERAL`, `COMPLEX`.
    pub difficulty: Option<String>,
    /// In fen, not negative.
    pub amount_involved: Option<i64>,
    pub people_involved: Option<u32>,
    pub address: Option<String>,
    pub location: Option<LocationInput>,
    /// Parties to correct (with `id`) or add (without).
    #[serde(default)]
    pub parties: Vec<PartyCorrection>,
}

/// WGS-84 degrees.
#[derive(Clone, Copy, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    pub lat: f64,
    pub lon: f64,
}

/// A party corrected (its `id` given) or added (no `id`; `name` required).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyCorrection {
    pub id: Option<String>,
    /// `APPLICANT`, `RESPONDENT`, `THIRD_PARTY`.
    pub role: Option<String>,
    pub name: Option<String>,
    pub id_type: Option<String>,
    pub id_number: Option<String>,
    pub sex: Option<String>,
    pub ethnicity: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub minor: Option<bool>,
}

/// One value of a conflict, with who wrote it and when.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConflictValueView {
    /// As text: a code, digits, `lat,lon`; personal data masked unless the read is unmasked.
    pub value: String,
    /// The device that wrote it (none for the center or an unknown actor).
    pub device_id: Option<String>,
    /// Its user (none for the center or an unknown actor).
    pub user_id: Option<String>,
    /// Written at the center (through the API or by the server itself).
    pub center: bool,
    /// The writing change's time (its author's clock, to the second).
    pub at: Stamp,
}

/// A field with concurrent values: settle it with `POST /v1/cases/{id}/conflicts/{field}`.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    /// `category`, `risk_level`, `location`, ..., or `parties.{party id}.{field}`.
    pub field: String,
    /// The value the case reads now first.
    pub values: Vec<ConflictValueView>,
}

/// Party fields that are personal data (masked unless the read is unmasked).
const PERSONAL: [&str; 3] = ["id_number", "phone", "address"];

/// A case's conflicts, each value with its writer: a device (and its user) by the device's
/// registered actor, the center by its reserved actors. `unmasked`: personal data in full
/// (the caller's read was audited by `reveal`).
pub async fn conflicts(
    center: &Center,
    doc: &CaseDoc,
    unmasked: bool,
) -> crate::error::Result<Vec<ConflictView>> {
    let mut out = Vec::new();
    for c in doc.conflicts() {
        let personal = c.field == "address"
            || c.field == "location"
            || (c.field.starts_with("parties.")
                && PERSONAL.iter().any(|k| c.field.ends_with(&format!(".{k}"))));
        let mut values = Vec::with_capacity(c.values.len());
        for v in c.values {
            let writer = if v.actor == center.actor.to_hex_string() {
                Some((String::new(), String::new()))
            } else {
                center.db.actor_writer(&v.actor).await?
            };
            let (device_id, user_id, at_center) = match writer {
                Some((device, _)) if device.is_empty() => (None, None, true),
                Some((device, user)) => (Some(device), Some(user), false),
                None => (None, None, false),
            };
            let value = match (personal && !unmasked, c.field.as_str()) {
                (false, _) => v.value,
                (true, f) if f.ends_with(".phone") => gridsync_core::case::mask_phone(&v.value),
                (true, f) if f.ends_with(".id_number") => {
                    gridsync_core::case::mask_id_number(&v.value)
                }
                (true, "location") => String::new(),
                (true, _) => gridsync_core::case::mask_address(&v.value),
            };
            values.push(ConflictValueView {
                value,
                device_id,
                user_id,
                center: at_center,
                at: center.county_time.stamp(v.at.0),
            });
        }
        out.push(ConflictView {
            field: c.field,
            values,
        });
    }
    Ok(out)
}

/// The case, in scope (404) and worked by the caller (403 `out_of_scope`).
async fn worked_case(
    center: &Center,
    caller: &Caller,
    id: &str,
) -> Result<(CaseId, CaseDoc), Refusal> {
    let (id, doc) = find_in_scope(center, caller, id).await?;
    let wf = doc.state(&center.limits, center.clock.now());
    if !works_on(caller, &doc.case(), &wf) {
        return Err(Refusal::OutOfScope(
            "you do not work this case (its dispatcher, its handling or assigned \
             department, its village's mediator)"
                .into(),
        ));
    }
    Ok((id, doc))
}

/// The role may write `part` (the device table), or 403 naming it.
fn require_part(caller: &Caller, part: Part, what: &str) -> Result<(), Refusal> {
    if may_edit(caller.user.role, part) {
        Ok(())
    } else {
        Err(Refusal::PartNotPermitted(format!(
            "your role may not write {what}"
        )))
    }
}

fn author(caller: &Caller) -> Author {
    Author {
        user: caller.user.id.clone(),
        role: caller.user.role,
        org: caller.org.id.clone(),
    }
}

/// Edits the case under its lock and appends the audit entry `action` (with the detail
/// `op` returns: ids and field names) in the same transaction: no entry, no change.
async fn edit_audited<T>(
    center: &Center,
    caller: &Caller,
    id: CaseId,
    action: &str,
    op: impl FnOnce(&mut CaseDoc, Timestamp) -> crate::error::Result<(T, serde_json::Value)>,
) -> Result<(T, CaseDoc), Refusal> {
    let mut tx = center.db.writer.begin().await?;
    crate::db::cases::lock_for_merge(&mut tx, center.db.dialect, &[id]).await?;
    let ((out, detail), doc) = edit_in(&mut tx, center, id, |doc, now| {
        let done = op(doc, now)?;
        Ok((
            done,
            CaseDoc::load(&doc.save(), automerge::ActorId::random())?,
        ))
    })
    .await?;
    let entry = crate::audit::Entry::by(caller, action, Some(id.to_string()), detail);
    crate::audit::append_in(&mut tx, center, entry).await?;
    tx.commit().await?;
    Ok((out, doc))
}

/// Appends a work note by the caller. Returns the case id, the note's id and the document.
pub async fn add_note(
    center: &Center,
    caller: &Caller,
    id: &str,
    note: &NewNote,
) -> Result<(CaseId, String, CaseDoc), Refusal> {
    policy::require(caller, Permission::WriteNotes)?;
    let kind: NoteKind = note.kind.parse().map_err(|e: gridsync_core::Error| {
        Refusal::invalid("invalid_input", "kind", e.to_string())
    })?;
    let (id, _) = worked_case(center, caller, id).await?;
    require_part(caller, Part::Notes, "notes")?;
    let by = author(caller);
    let party = note.party.clone().filter(|p| !p.is_empty());
    let (note_id, doc) = edit_audited(center, caller, id, NOTE_ADDED, |doc, now| {
        let note_id = doc.add_note_with(kind, party.as_deref(), &note.text, &by, now)?;
        let detail = serde_json::json!({
            "note_id": note_id,
            "kind": kind.as_code(),
            "party": party,
        });
        Ok((note_id, detail))
    })
    .await?;
    Ok((id, note_id, doc))
}

fn code<T: std::str::FromStr>(field: &str, v: &Option<String>) -> Result<Option<T>, Refusal> {
    v.as_deref()
        .map(|s| {
            s.parse::<T>().map_err(|_| {
                Refusal::invalid("invalid_input", field, format!("unknown code {s:?}"))
            })
        })
        .transpose()
}

/// Corrects a case: its fields in one change (one typed `edit`), then each party corrected
/// or added (one change each), in one transaction. Returns the case id, the names of the
/// fields written (`parties.{id}` for parties) and the document.
pub async fn correct(
    center: &Center,
    caller: &Caller,
    id: &str,
    c: &Correction,
) -> Result<(CaseId, Vec<String>, CaseDoc), Refusal> {
    policy::require(caller, Permission::CorrectCases)?;
    let flags = match &c.risk_flags {
        Some(list) => Some(
            list.iter()
                .map(|f| code::<RiskFlag>("risk_flags", &Some(f.clone())).map(Option::unwrap))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let fields = CaseEdit {
        title: c.title.clone(),
        summary: c.summary.clone(),
        category: code::<Category>("category", &c.category)?,
        occurred_at: None,
        address: c.address.clone(),
        location: c.location.map(|l| Location {
            lat: l.lat,
            lon: l.lon,
        }),
        people_involved: c.people_involved,
        amount_involved: c.amount_involved,
        risk_level: code::<RiskLevel>("risk_level", &c.risk_level)?,
        risk_flags: flags,
        difficulty: code::<Difficulty>("difficulty", &c.difficulty)?,
        area_code: None,
        grid_code: None,
    };
    let mut parties = Vec::with_capacity(c.parties.len());
    for (i, p) in c.parties.iter().enumerate() {
        let f = |name: &str| format!("parties[{i}].{name}");
        let edit = PartyEdit {
            role: code::<PartyRole>(&f("role"), &p.role)?,
            name: p.name.clone(),
            id_type: code::<IdDocType>(&f("id_type"), &p.id_type)?,
            id_number: p.id_number.clone(),
            sex: code::<Sex>(&f("sex"), &p.sex)?,
            ethnicity: p.ethnicity.clone(),
            phone: p.phone.clone(),
            address: p.address.clone(),
            minor: p.minor,
        };
        parties.push((p.id.clone().filter(|id| !id.is_empty()), edit));
    }
    if fields.is_empty() && parties.is_empty() {
        return Err(Refusal::invalid(
            "invalid_input",
            "body",
            "a correction names at least one field or party",
        ));
    }
    let (id, _) = worked_case(center, caller, id).await?;
    if !fields.is_empty() {
        require_part(
            caller,
            Part::Fields,
            "a case's fields (category, risk, amounts, location)",
        )?;
    }
    if !parties.is_empty() {
        require_part(caller, Part::Parties, "parties")?;
    }
    let mut names = field_names(&fields);
    let (names, doc) = edit_audited(center, caller, id, CASE_CORRECTED, move |doc, now| {
        if !fields.is_empty() {
            doc.edit(&fields, now)?;
        }
        let mut written = Vec::new();
        for (party_id, edit) in &parties {
            match party_id {
                Some(pid) => {
                    doc.edit_party(pid, edit, now)?;
                    written.push(pid.clone());
                }
                None => {
                    let input = PartyInput {
                        role: edit.role.unwrap_or_default(),
                        name: edit.name.clone().unwrap_or_default(),
                        id_type: edit.id_type.unwrap_or_default(),
                        id_number: edit.id_number.clone().unwrap_or_default(),
                        sex: edit.sex.unwrap_or_default(),
                        ethnicity: edit.ethnicity.clone().unwrap_or_default(),
                        phone: edit.phone.clone().unwrap_or_default(),
                        address: edit.address.clone().unwrap_or_default(),
                        minor: edit.minor.unwrap_or(false),
                    };
                    written.push(doc.add_party(&input, now)?);
                }
            }
        }
        names.extend(written.iter().map(|p| format!("parties.{p}")));
        let detail = serde_json::json!({ "fields": names, "parties": written });
        Ok((names, detail))
    })
    .await?;
    Ok((id, names, doc))
}

/// The names of the fields a correction writes (for the audit log and the answer).
fn field_names(e: &CaseEdit) -> Vec<String> {
    let given = [
        ("title", e.title.is_some()),
        ("summary", e.summary.is_some()),
        ("category", e.category.is_some()),
        ("risk_level", e.risk_level.is_some()),
        ("risk_flags", e.risk_flags.is_some()),
        ("difficulty", e.difficulty.is_some()),
        ("amount_involved", e.amount_involved.is_some()),
        ("people_involved", e.people_involved.is_some()),
        ("address", e.address.is_some()),
        ("location", e.location.is_some()),
    ];
    given
        .into_iter()
        .filter(|(_, g)| *g)
        .map(|(n, _)| n.to_owned())
        .collect()
}

/// Marks installment `item` of the case's agreement paid at `paid_at` (default: now).
pub async fn mark_paid(
    center: &Center,
    caller: &Caller,
    id: &str,
    item: &str,
    paid_at: Option<Stamp>,
) -> Result<(CaseId, CaseDoc), Refusal> {
    policy::require(caller, Permission::RecordPayments)?;
    let (id, _) = worked_case(center, caller, id).await?;
    require_part(caller, Part::Payments, "payments")?;
    let now = center.clock.now();
    let paid_at = paid_at.map_or(now, |s| Timestamp(s.millis()));
    if paid_at > now {
        return Err(Refusal::invalid(
            "invalid_input",
            "paid_at",
            "a payment is recorded once made: not in the future",
        ));
    }
    let ((), doc) = edit_audited(center, caller, id, INSTALLMENT_PAID, |doc, now| {
        doc.mark_installment_paid(item, paid_at, now)?;
        Ok(((), serde_json::json!({ "installment": item })))
    })
    .await?;
    Ok((id, doc))
}

/// Settles the conflict on `field` with `value` (as the conflict lists values), one change
/// over every concurrent value. Dispatchers, for any case in their scope.
pub async fn resolve_conflict(
    center: &Center,
    caller: &Caller,
    id: &str,
    field: &str,
    value: &str,
) -> Result<(CaseId, CaseDoc), Refusal> {
    policy::require(caller, Permission::ResolveConflicts)?;
    let (id, doc) = find_in_scope(center, caller, id).await?;
    let stood = doc
        .conflicts()
        .into_iter()
        .find(|c| c.field == field)
        .map(|c| c.values.len())
        .ok_or_else(|| {
            Refusal::NotFound("conflict_not_found", format!("no conflict on {field:?}"))
        })?;
    let ((), doc) = edit_audited(center, caller, id, CONFLICT_RESOLVED, |doc, now| {
        doc.resolve_conflict(field, value, now)?;
        Ok(((), serde_json::json!({ "field": field, "values": stood })))
    })
    .await?;
    Ok((id, doc))
}
