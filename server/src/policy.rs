//! Who may do what at the center (DESIGN §9): one role × permission table.
//!
//! Beside it stand two other rules, each with one home: `gridsync_core::workflow::may_author`
//! decides which workflow events a role may author (on a phone or here), and the scope
//! (`Projection::in_scope_of`, [`covers`]) decides which cases and which areas a caller
//! reaches. This table decides which of the center's doors a role may open at all; a handler
//! asks it first (`policy::require(&caller, Permission::X)?`) and the domain function then
//! judges scope and state.

use gridsync_core::workflow::{Role, Tier};

use crate::caller::Caller;
use crate::db::accounts::Org;

/// Something a role may do at the center. Serialized by its name (`ManageOrgs`), as the
/// endpoints' descriptions name it: a signed-in user's list tells a client which doors to
/// show (the server still judges every request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
pub enum Permission {
    /// List and read cases in scope, personal data masked.
    ReadCases,
    /// See a case's ID numbers, phones and addresses (audited; the caller's relation to the
    /// case is judged as well).
    ReadPersonalData,
    /// Take workflow steps through the case API (which steps: `may_author`).
    TakeSteps,
    /// Read one's own task list (待办, `GET /v1/me/tasks`) over one's scope.
    ReadTasks,
    /// Record a walk-in or hotline case (一站式受理).
    Intake,
    ReadDispatchRules,
    /// Add and remove auto-dispatch rules inside one's scope.
    ManageDispatchRules,
    ReadTimeLimits,
    /// Set time-limit rules inside one's scope.
    ManageTimeLimits,
    /// Open warnings and the live feed.
    ReadWarnings,
    ReadStatistics,
    /// CSV exports (audited).
    Export,
    /// Read and verify the audit log.
    ReadAudit,
    /// See what the trust boundary holds aside (cases that do not open, parked changes).
    ReadQuarantine,
    /// Create users, change their role or organisation, set their passwords, disable them:
    /// inside one's organisation's subtree ([`administers`]).
    ManageUsers,
    /// Read, create, rename and move organisations inside one's subtree.
    ManageOrgs,
    /// List devices and revoke them, for users inside one's subtree.
    ManageDevices,
    /// Append work notes to a case one works (mediation records, visit records,
    /// back-to-back sessions): `center::casework`.
    WriteNotes,
    /// Correct a case's fields and parties (研判 re-grading among them), for a case one
    /// works; which parts a role may write is `gridsync_core::case::may_edit`, as on a phone.
    CorrectCases,
    /// Mark an agreement's installment paid, for a case one works.
    RecordPayments,
    /// Settle a field's concurrent edits by choosing its value, for any case in scope.
    ResolveConflicts,
}

impl Permission {
    pub const ALL: [Permission; 21] = [
        Permission::ReadCases,
        Permission::ReadPersonalData,
        Permission::TakeSteps,
        Permission::ReadTasks,
        Permission::Intake,
        Permission::ReadDispatchRules,
        Permission::ManageDispatchRules,
        Permission::ReadTimeLimits,
        Permission::ManageTimeLimits,
        Permission::ReadWarnings,
        Permission::ReadStatistics,
        Permission::Export,
        Permission::ReadAudit,
        Permission::ReadQuarantine,
        Permission::ManageUsers,
        Permission::ManageOrgs,
        Permission::ManageDevices,
        Permission::WriteNotes,
        Permission::CorrectCases,
        Permission::RecordPayments,
        Permission::ResolveConflicts,
    ];

    /// For messages: "your role may not {what}".
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadCases => "read cases",
            Permission::ReadPersonalData => "see personal data unmasked",
            Permission::TakeSteps => "take workflow steps at the center",
            Permission::ReadTasks => "read a task list",
            Permission::Intake => "record cases at the center",
            Permission::ReadDispatchRules => "read dispatch rules",
            Permission::ManageDispatchRules => "change dispatch rules",
            Permission::ReadTimeLimits => "read time limits",
            Permission::ManageTimeLimits => "set time limits",
            Permission::ReadWarnings => "read warnings or the live feed",
            Permission::ReadStatistics => "read statistics",
            Permission::Export => "export",
            Permission::ReadAudit => "read the audit log",
            Permission::ReadQuarantine => "see the quarantine",
            Permission::ManageUsers => "manage other users",
            Permission::ManageOrgs => "manage organisations",
            Permission::ManageDevices => "manage devices",
            Permission::WriteNotes => "write notes on cases",
            Permission::CorrectCases => "correct cases",
            Permission::RecordPayments => "record installment payments",
            Permission::ResolveConflicts => "settle conflicting edits",
        }
    }
}

/// The table. Grid workers work on their phones (they read their own village's cases here,
/// masked); administrators configure (rules, limits) and audit but do not read or move
/// cases; the server's own `System` actor never signs in, so it opens no door.
pub fn permits(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    match permission {
        P::ReadCases | P::ReadTasks => matches!(
            role,
            R::GridWorker
                | R::VillageMediator
                | R::Dispatcher
                | R::DepartmentHandler
                | R::Supervisor
        ),
        P::ReadPersonalData => {
            matches!(
                role,
                R::VillageMediator | R::Dispatcher | R::DepartmentHandler
            )
        }
        P::TakeSteps | P::ReadWarnings => matches!(
            role,
            R::VillageMediator | R::Dispatcher | R::DepartmentHandler | R::Supervisor
        ),
        P::ReadTimeLimits => matches!(
            role,
            R::VillageMediator | R::Dispatcher | R::DepartmentHandler | R::Supervisor | R::Admin
        ),
        P::Intake => role == R::Dispatcher,
        P::ReadDispatchRules => matches!(role, R::Dispatcher | R::Supervisor | R::Admin),
        P::ManageDispatchRules => matches!(role, R::Dispatcher | R::Admin),
        P::ManageTimeLimits | P::ReadAudit => matches!(role, R::Supervisor | R::Admin),
        // Administration: administrators only. Whoever manages accounts holds the keys to
        // every scope below theirs; no working role (who reads or moves cases) also
        // hands out accounts (separation of duties, docs/security.md).
        P::ReadQuarantine | P::ManageUsers | P::ManageOrgs | P::ManageDevices => role == R::Admin,
        P::ReadStatistics | P::Export => {
            matches!(role, R::Dispatcher | R::DepartmentHandler | R::Supervisor)
        }
        // Case work by the staff who work the case (`center::cases::works_on`): the
        // dispatcher, the handling or assigned department, the village's mediator.
        // Supervisors supervise (and comment through supervision), they do not write the
        // case; grid workers do this on their phones.
        P::WriteNotes | P::CorrectCases | P::RecordPayments => matches!(
            role,
            R::VillageMediator | R::Dispatcher | R::DepartmentHandler
        ),
        P::ResolveConflicts => role == R::Dispatcher,
    }
}

/// Every permission `role` holds, in the table's order.
pub fn permissions_of(role: Role) -> Vec<Permission> {
    Permission::ALL
        .into_iter()
        .filter(|p| permits(role, *p))
        .collect()
}

/// The caller's role has `permission`, or 403.
pub fn require(caller: &Caller, permission: Permission) -> Result<(), Refusal> {
    if permits(caller.user.role, permission) {
        Ok(())
    } else {
        Err(Refusal::NotPermitted(permission))
    }
}

/// Whether configuration for `area` (an area-code prefix; `None`: the whole county) lies
/// inside the caller's scope. An administrator of the top of the organisation tree
/// configures the whole deployment; anyone else (a township's administrator too) only
/// areas under their organisation's scope, and county-wide configuration only from a
/// county-level center.
pub fn covers(caller: &Caller, area: Option<&str>) -> bool {
    if administers_all(caller) {
        return true;
    }
    let Some(scope) = caller.org.scope_prefix.as_deref() else {
        return false;
    };
    match area {
        Some(area) => area.starts_with(scope),
        None => caller.org.kind == "CENTER" && caller.org.tier == Tier::County,
    }
}

/// Whether `org` (a center, by its scope) lies at or below the caller's organisation.
pub fn covers_org(caller: &Caller, org: &Org) -> bool {
    administers_all(caller)
        || org
            .scope_prefix
            .as_deref()
            .is_some_and(|p| covers(caller, Some(p)))
}

/// An administrator at the top of the organisation tree (an organisation without a
/// parent: the county center, or a fresh installation's `root`): reaches everything.
fn administers_all(caller: &Caller) -> bool {
    caller.user.role == Role::Admin && caller.org.parent_id.is_none()
}

/// Whether the caller administers the organisation whose lineage (its own id, then its
/// parent's, up to the top of the tree) is given: the administrative scope is the caller's
/// organisation's subtree in the organisation tree. A county administrator reaches every
/// organisation of the county, a township's administrator the township center and what
/// hangs below it (villages, its departments and rooms), which `covers_org` (by area) could
/// not say of departments, which have no area scope. The permission is judged separately
/// ([`require`]).
pub fn administers<'a>(caller: &Caller, mut lineage: impl Iterator<Item = &'a str>) -> bool {
    lineage.any(|id| id == caller.org.id)
}

/// Why the center refuses a request, beside the storage errors of [`crate::Error`]. Each
/// has one status and a stable code (`From<Refusal> for ApiError`).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The role's row of the table lacks the permission: 403 `not_permitted`
    /// (`personal_data_forbidden` for [`Permission::ReadPersonalData`]).
    #[error("your role may not {}", .0.describe())]
    NotPermitted(Permission),
    /// The role may not write this part of a case (`gridsync_core::case::may_edit`): 403
    /// `not_permitted`.
    #[error("{0}")]
    PartNotPermitted(String),
    /// Outside the caller's scope, or a target outside the dispatching center's reach: 403
    /// `out_of_scope`.
    #[error("{0}")]
    OutOfScope(String),
    /// A field of the request is wrong: 400 with `code`; the message names the field.
    #[error("{message} (field `{field}`)")]
    Invalid {
        code: &'static str,
        field: String,
        message: String,
    },
    /// No such thing in the caller's scope: 404 with `code`.
    #[error("{1}")]
    NotFound(&'static str, String),
    /// The request is sound but the present state forbids it (a username taken, the last
    /// administrator): 409 with `code`.
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error(transparent)]
    Failed(#[from] crate::Error),
}

impl Refusal {
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Refusal::Invalid {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable code, for tests and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotPermitted(Permission::ReadPersonalData) => "personal_data_forbidden",
            Refusal::NotPermitted(_) | Refusal::PartNotPermitted(_) => "not_permitted",
            Refusal::OutOfScope(_) => "out_of_scope",
            Refusal::Invalid { code, .. }
            | Refusal::NotFound(code, _)
            | Refusal::Conflict(code, _) => code,
            Refusal::Failed(_) => "internal",
        }
    }
}

impl From<gridsync_core::Error> for Refusal {
    fn from(e: gridsync_core::Error) -> Self {
        Refusal::Failed(e.into())
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Refusal::Failed(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as data: one line per role, one column per permission in
    /// [`Permission::ALL`]'s order. A change to the table must change this test.
    #[test]
    fn the_table_row_by_row() {
        // Cases, PersonalData, Steps, Tasks, Intake, ReadRules, ManageRules, ReadLimits,
        // ManageLimits, Warnings, Stats, Export, Audit, Quarantine, Users, Orgs, Devices,
        // Notes, Corrections, Payments, Conflicts
        #[rustfmt::skip]
        let expected: [(Role, [u8; 21]); 7] = [
            (Role::GridWorker,        [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (Role::VillageMediator,   [1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0]),
            (Role::Dispatcher,        [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1]),
            (Role::DepartmentHandler, [1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0]),
            (Role::Supervisor,        [1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            (Role::Admin,             [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]),
            (Role::System,            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ];
        assert_eq!(expected.len(), Role::ALL.len(), "every role has a row");
        for (role, row) in expected {
            for (permission, want) in Permission::ALL.into_iter().zip(row) {
                assert_eq!(
                    permits(role, permission),
                    want == 1,
                    "{role:?} × {permission:?}"
                );
            }
        }
    }
}
