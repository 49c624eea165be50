//! Who sees a case (DESIGN §9): the caller as the center knows them, the one definition of a
//! scope as a Rust check and as SQL, and which roles' devices hold cases at all.

use crate::db::Dialect;
use crate::db::accounts::{Org, User};
use crate::db::cases::Projection;
use crate::state::AppState;

/// Phones drop archived cases after this long (DESIGN §5: 30 days by default).
pub(crate) const PHONE_RETENTION_MS: i64 = 30 * 24 * 3_600_000;
/// How long a revocation keeps being repeated, in case a response was lost.
pub(crate) const REVOKED_REPEAT_MS: i64 = 30 * 24 * 3_600_000;

/// Who is syncing: the user as the database knows them now, their organisation, the device.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub org: Org,
    pub device_id: String,
    /// The organisation this device last synced under, when the user has since been moved:
    /// work recorded there before the move (in its scope, authored in its name) is still
    /// taken on the sync that carries the move, then its cases are revoked from the phone.
    pub former_org: Option<Org>,
}

impl Caller {
    /// Whether a case projected as `p` is in the device's scope (or the former one's).
    pub(crate) fn reaches(&self, p: &Projection) -> bool {
        self.holds_cases()
            && (p.in_scope_of(self.org.scope_prefix.as_deref(), &self.org.id)
                || self
                    .former_org
                    .as_ref()
                    .is_some_and(|o| p.in_scope_of(o.scope_prefix.as_deref(), &o.id)))
    }

    /// Whether this user's devices hold cases at all (docs/security.md, "What a device
    /// receives"). The field roles hold their cases in full: grid workers and village
    /// mediators their village's, department handlers and mediation rooms what is
    /// dispatched to them, a village or township dispatcher his area. A county dispatcher,
    /// a supervisor and an administrator work in the console: a phone of theirs would carry
    /// the county's personal data, so it holds none.
    pub(crate) fn holds_cases(&self) -> bool {
        use gridsync_core::workflow::{Role, Tier};
        match self.user.role {
            Role::GridWorker | Role::VillageMediator | Role::DepartmentHandler => true,
            Role::Dispatcher => self.org.tier != Tier::County,
            Role::Supervisor | Role::Admin | Role::System => false,
        }
    }
}

/// After the window in which the phone is told of a revocation, it has purged the case and
/// has no unsent work for it: an edit then comes from a copy it should not have.
pub(crate) fn revoked_after(state: &AppState) -> i64 {
    state.clock.now().0 - REVOKED_REPEAT_MS
}

/// The scope condition on `cases k`, [`Projection::in_scope_of`] in SQL, with parameters
/// ($1, $2) the area range, $3 the organisation's id and $4 the archive cutoff. It suits a
/// check of given rows (cases changed since a cursor, cases a device holds); a rescan of the
/// whole scope uses the union of its index lookups instead (in `pull`). PostgreSQL compares
/// area codes byte by byte whatever the database's collation, as `starts_with` does.
pub(crate) fn in_scope(dialect: Dialect) -> String {
    let area = scope_area(dialect, "k");
    format!(
        "(({area} >= $1 AND {area} < $2)
          OR k.id IN (SELECT o.case_id FROM case_orgs o WHERE o.org_id = $3))
         AND {NOT_EXPIRED}"
    )
}

/// An archived case leaves the scope once it is older than the archive cutoff ($4).
pub(crate) const NOT_EXPIRED: &str = "NOT (k.status = 'ARCHIVED' AND k.archived_at < $4)";

/// The area code of the cases row `alias` as the scope's byte range compares it (on
/// PostgreSQL in the "C" collation, which the `cases_by_area_bytes` index uses).
pub(crate) fn scope_area(dialect: Dialect, alias: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("{alias}.area_code"),
        Dialect::Postgres => format!("{alias}.area_code COLLATE \"C\""),
    }
}
