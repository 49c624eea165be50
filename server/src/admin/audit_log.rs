//! Reading the audit log: who reads which entries. Supervisors and administrators hold
//! `ReadAudit`; each reads the entries of actors in their organisation's subtree (a
//! township's supervisor or administrator the township's, not the county's or another
//! township's). The top of the tree reads everything, the operator's entries and refused
//! sign-ins of unknown usernames among them. The chain's verification covers the whole log
//! (hashes, no content).

use super::{Actor, OrgTree};
use crate::audit::{self, Filter, Record};
use crate::db::Db;
use crate::policy::{Permission, Refusal};

/// The entries `filter` selects, within the actor's part of the tree.
pub async fn entries(
    db: &Db,
    actor: Actor<'_>,
    mut filter: Filter,
) -> Result<Vec<Record>, Refusal> {
    actor.require(Permission::ReadAudit)?;
    filter.orgs = match actor {
        Actor::Staff(caller) if caller.org.parent_id.is_some() => {
            let tree = OrgTree::load(db).await?;
            Some(
                tree.subtree(&caller.org.id)
                    .into_iter()
                    .map(|o| o.id.clone())
                    .collect(),
            )
        }
        _ => None,
    };
    Ok(audit::query(db, &filter).await?)
}
