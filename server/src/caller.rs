//! Who is calling: the user as the center knows them now, their organisation and device,
//! the scope they see ([`Scope`]) and what their device may hold (DESIGN §9).

use crate::db::accounts::{Org, User};
use crate::db::cases::Projection;
use crate::db::scope::Scope;

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
            && (Scope::of(&self.org).contains(p)
                || self
                    .former_org
                    .as_ref()
                    .is_some_and(|o| Scope::of(o).contains(p)))
    }

    /// What this user sees at the center.
    pub(crate) fn scope(&self) -> Scope<'_> {
        Scope::of(&self.org)
    }

    /// What this user's device holds (nothing, for roles whose devices hold no cases).
    pub(crate) fn device_scope(&self) -> Scope<'_> {
        if self.holds_cases() {
            self.scope()
        } else {
            Scope::NOTHING
        }
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
pub(crate) fn revoked_after(now: i64) -> i64 {
    now - REVOKED_REPEAT_MS
}
