//! Administration (issue 13): the organisation tree, users and devices, each change
//! audited and confined to the administrator's part of the tree.
//!
//! The HTTP handlers (`http/{orgs,users,devices}.rs`) and `gridsync admin` both call these
//! functions, so the same checks and the same audit entries stand behind the console and
//! the shell. Who may do what:
//!
//! - the permission is the one table's ([`policy::permits`]: `ManageOrgs`, `ManageUsers`,
//!   `ManageDevices`, administrators only);
//! - the reach is the caller's organisation's subtree of the organisation tree
//!   ([`policy::administers`] over [`OrgTree::lineage`]): a county administrator manages
//!   the county, a township's administrator the township. Nothing is created, moved or
//!   promoted outside it, so no administrator can hand out more than they hold; an
//!   organisation's area also stays inside its parent's ([`orgs`]), so a new village cannot
//!   see the county;
//! - the operator at the server's shell ([`Actor::Operator`]) reaches everything, as
//!   before, and is audited as `OPERATOR`.

pub mod audit_log;
pub mod devices;
pub mod orgs;
pub mod users;

use std::collections::BTreeMap;

use crate::audit;
use crate::caller::Caller;
use crate::db::Db;
use crate::db::accounts::Org;
use crate::policy::{self, Permission, Refusal};

/// Who makes an administrative change.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// A signed-in administrator: the permission table and their subtree apply.
    Staff(&'a Caller),
    /// `gridsync admin` at the server's shell: everything, audited as `OPERATOR`.
    Operator,
}

impl Actor<'_> {
    fn require(&self, permission: Permission) -> Result<(), Refusal> {
        match self {
            Actor::Staff(caller) => policy::require(caller, permission),
            Actor::Operator => Ok(()),
        }
    }

    /// Whether the actor administers organisation `org_id` (which must exist in `tree`).
    pub fn reaches(&self, tree: &OrgTree, org_id: &str) -> bool {
        match self {
            Actor::Staff(caller) => policy::administers(caller, tree.lineage(org_id)),
            Actor::Operator => true,
        }
    }

    /// The actor's own user id (an operator has none).
    fn user_id(&self) -> Option<&str> {
        match self {
            Actor::Staff(caller) => Some(&caller.user.id),
            Actor::Operator => None,
        }
    }

    fn entry(&self, action: &str, detail: serde_json::Value) -> audit::Entry {
        match self {
            Actor::Staff(caller) => audit::Entry::by(caller, action, None, detail),
            Actor::Operator => audit::Entry::operator(action, detail),
        }
    }

    /// `ADMIN` or `OPERATOR`, for `detail.by`.
    fn by(&self) -> &'static str {
        match self {
            Actor::Staff(_) => "ADMIN",
            Actor::Operator => audit::OPERATOR,
        }
    }
}

/// The organisation tree as loaded for one administrative request (a county has hundreds
/// of organisations, not millions: it is read whole).
#[derive(Clone, Debug, Default)]
pub struct OrgTree {
    orgs: BTreeMap<String, Org>,
}

impl OrgTree {
    pub async fn load(db: &Db) -> crate::Result<OrgTree> {
        Ok(OrgTree::from_orgs(db.orgs().await?))
    }

    pub fn from_orgs(orgs: impl IntoIterator<Item = Org>) -> OrgTree {
        OrgTree {
            orgs: orgs.into_iter().map(|o| (o.id.clone(), o)).collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Org> {
        self.orgs.get(id)
    }

    /// The organisation's id, its parent's, and so on to the top (bounded, should the
    /// stored tree ever hold a cycle).
    pub fn lineage<'t>(&'t self, id: &'t str) -> impl Iterator<Item = &'t str> + 't {
        let mut next = Some(id);
        std::iter::from_fn(move || {
            let id = next?;
            next = self.orgs.get(id).and_then(|o| o.parent_id.as_deref());
            Some(id)
        })
        .take(self.orgs.len() + 1)
    }

    /// Whether `id` is `ancestor` or lies below it.
    pub fn is_within(&self, id: &str, ancestor: &str) -> bool {
        self.lineage(id).any(|a| a == ancestor)
    }

    /// Depth below the top of the tree (0 for an organisation without a parent).
    pub fn depth(&self, id: &str) -> usize {
        self.lineage(id).count().saturating_sub(1)
    }

    /// Every organisation, depth first (children by area code, then id), with its depth.
    pub fn depth_first(&self) -> Vec<(&Org, usize)> {
        let mut children: BTreeMap<Option<&str>, Vec<&Org>> = BTreeMap::new();
        for o in self.orgs.values() {
            let parent = o
                .parent_id
                .as_deref()
                .filter(|p| self.orgs.contains_key(*p));
            children.entry(parent).or_default().push(o);
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| (&a.area_code, &a.id).cmp(&(&b.area_code, &b.id)));
        }
        let mut out = Vec::with_capacity(self.orgs.len());
        let mut stack: Vec<(&Org, usize)> = children
            .get(&None)
            .map(|l| l.iter().rev().map(|o| (*o, 0)).collect())
            .unwrap_or_default();
        while let Some((o, depth)) = stack.pop() {
            if out.len() > self.orgs.len() {
                break;
            }
            out.push((o, depth));
            if let Some(kids) = children.get(&Some(o.id.as_str())) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        out
    }

    /// The organisation and everything below it.
    pub fn subtree(&self, id: &str) -> Vec<&Org> {
        self.orgs
            .values()
            .filter(|o| self.is_within(&o.id, id))
            .collect()
    }

    /// The area prefix an organisation under `parent_id` must stay inside: the nearest
    /// scope prefix at or above the parent (`None`: no bound, the top of a fresh
    /// installation).
    pub fn area_bound(&self, parent_id: &str) -> Option<&str> {
        self.lineage(parent_id)
            .find_map(|id| self.orgs.get(id).and_then(|o| o.scope_prefix.as_deref()))
    }

    fn replace(&mut self, org: Org) {
        self.orgs.insert(org.id.clone(), org);
    }
}

/// An id of an organisation: 1..=64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
fn check_id(field: &str, id: &str) -> Result<(), Refusal> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Refusal::invalid(
            if field == "username" {
                "invalid_username"
            } else {
                "invalid_id"
            },
            field,
            "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

/// A display name: trimmed, 1..=`max` characters, no control characters.
fn check_name(field: &str, name: &str, max: usize) -> Result<String, Refusal> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > max || name.chars().any(char::is_control) {
        return Err(Refusal::invalid(
            "invalid_name",
            field,
            format!("1 to {max} characters, no control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Maps a storage conflict (a unique key) to 409 with `code`.
fn conflict(code: &'static str) -> impl Fn(crate::Error) -> Refusal {
    move |e| match e {
        crate::Error::Conflict(m) => Refusal::Conflict(code, m),
        other => Refusal::Failed(other),
    }
}

fn out_of_scope(what: &str) -> Refusal {
    Refusal::OutOfScope(format!(
        "{what} lies outside the part of the organisation tree you administer"
    ))
}

/// A referenced organisation (in a request body) that does not exist.
fn unknown_org(field: &str, id: &str) -> Refusal {
    Refusal::invalid("unknown_org", field, format!("no organisation {id:?}"))
}
