//! Stage four of the push path: the merged result, checked as a whole. The operations were
//! judged one by one already ([`gridsync_core::case::CaseDoc::judge`]); what only the whole
//! shows is checked here: each new event is the caller's to author, the center's time limits
//! are untouched, the grid lies in the village, and the case stays in the author's scope (a
//! submitted case is moved by the center only).

use std::collections::HashMap;

use gridsync_core::case::{Case, CaseDoc, Timestamp};
use gridsync_core::protocol::RejectCode;
use gridsync_core::workflow::{Event, EventKind, Status, fold, may_author, may_push};

use super::Refusal;
use crate::caller::Caller;
use crate::db::cases::Projection;
use crate::state::Center;

/// Checks the merged document against the case before the push (`None`: a new case);
/// returns its projection.
pub(super) fn result(
    center: &Center,
    caller: &Caller,
    doc: &CaseDoc,
    events_before: &HashMap<String, Event>,
    before: Option<&(Case, Status)>,
    now: Timestamp,
) -> Result<Projection, Refusal> {
    // Events are append-only, and each new one must be the caller's to author.
    let events_after = doc.events();
    for e in &events_after {
        match events_before.get(&e.id) {
            Some(old) if old != e => {
                return Err((
                    RejectCode::EventNotPermitted,
                    format!("event {} was altered; events are append-only", e.id),
                ));
            }
            Some(_) => {}
            None => {
                if let Err(why) = check_event(caller, e) {
                    return Err((RejectCode::EventNotPermitted, why));
                }
            }
        }
    }

    let case = doc.case();
    if case.time_limits != before.and_then(|(c, _)| c.time_limits.clone()) {
        return Err((
            RejectCode::EventNotPermitted,
            "time limits are set by the center".into(),
        ));
    }
    if !case.grid_code.is_empty()
        && !gridsync_core::case::is_grid_code(&case.grid_code, &case.area_code)
    {
        return Err((
            RejectCode::InvalidValue,
            "grid_code: the area code followed by 3 digits".into(),
        ));
    }
    let wf = fold(&case, &events_after, &center.limits, now);
    let projection = Projection::of(&case, &wf);
    match before {
        Some((old, status)) if old.area_code != case.area_code => {
            // After submission only the center moves a case; before it, only within the
            // author's own scope.
            if !matches!(status, Status::Draft | Status::Returned) {
                return Err((
                    RejectCode::OutOfScope,
                    "a submitted case is moved by the center only".into(),
                ));
            }
            if !caller.reaches(&projection) {
                return Err((
                    RejectCode::OutOfScope,
                    format!(
                        "area {} is outside your organisation's scope",
                        projection.area_code
                    ),
                ));
            }
        }
        Some(_) => {}
        None if !caller.reaches(&projection) => {
            return Err((
                RejectCode::OutOfScope,
                format!(
                    "area {} is outside your organisation's scope",
                    projection.area_code
                ),
            ));
        }
        None => {}
    }
    Ok(projection)
}

/// An event pushed from a phone: authored by the caller, in their role and organisation, of a
/// kind their role may author.
fn check_event(caller: &Caller, e: &Event) -> std::result::Result<(), String> {
    let Some(kind) = EventKind::from_code(&e.kind) else {
        return Err(format!("unknown event kind {:?}", e.kind));
    };
    let org_ok =
        e.org == caller.org.id || caller.former_org.as_ref().is_some_and(|o| e.org == o.id);
    if e.by_user != caller.user.id || e.by_role != caller.user.role.as_code() || !org_ok {
        return Err(format!(
            "event {} is not authored as the signed-in user",
            e.id
        ));
    }
    if kind.is_center_step() && may_author(caller.user.role, kind) {
        return Err(format!(
            "{} is taken at the center (console or API), not from a device",
            kind.label_en()
        ));
    }
    if !may_push(caller.user.role, kind) {
        return Err(format!(
            "role {} may not {}",
            caller.user.role.as_code(),
            kind.label_en()
        ));
    }
    // The payload as the API would take it: a step the center would refuse as 400 is not
    // stored because it came by sync (the fold would only show it as superseded).
    let action = e
        .action()
        .map_err(|why| format!("event {}: the payload does not parse: {why}", e.id))?;
    action
        .validate()
        .map_err(|why| format!("event {}: {why}", e.id))
}
