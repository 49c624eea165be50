//! Who sees a case (DESIGN §4, §9): the one definition, as a Rust check and as SQL, side by
//! side; a conformance test below compares them on SQLite and PostgreSQL.

use crate::db::Dialect;
use crate::db::accounts::Org;
use crate::db::cases::Projection;

/// The cases an organisation sees (DESIGN §4, §9): those whose area code starts with its
/// scope prefix, and those assigned to it or handled by it. The one definition: the Rust
/// check ([`Scope::contains`]) and the SQL ([`Scope::sql`], over `case_orgs`, which holds a
/// case's assigned and handling organisations) are written here side by side, and a
/// conformance test compares them on SQLite and PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    prefix: Option<&'a str>,
    org: &'a str,
}

impl<'a> Scope<'a> {
    pub(crate) fn of(org: &'a Org) -> Scope<'a> {
        Scope {
            prefix: org.scope_prefix.as_deref(),
            org: &org.id,
        }
    }

    /// No case at all (a device whose role holds none).
    pub(crate) const NOTHING: Scope<'static> = Scope {
        prefix: None,
        org: "",
    };

    pub(crate) fn contains(&self, p: &Projection) -> bool {
        self.prefix.is_some_and(|x| p.area_code.starts_with(x))
            || (!self.org.is_empty()
                && (p.assigned_orgs.iter().any(|o| o == self.org)
                    || p.handling_org.as_deref() == Some(self.org)))
    }

    /// The condition on the cases row `alias`, binding [`Scope::params`] at `$first`,
    /// `$first + 1` (the area range) and `$first + 2` (the organisation).
    pub(crate) fn sql(dialect: Dialect, alias: &str, first: usize) -> String {
        let area = scope_area(dialect, alias);
        let (lo, hi, org) = (first, first + 1, first + 2);
        format!(
            "(({area} >= ${lo} AND {area} < ${hi})
              OR {alias}.id IN (SELECT o.case_id FROM case_orgs o WHERE o.org_id = ${org}))"
        )
    }

    /// The whole scope as the union of its two index lookups, for a rescan (an `OR` made
    /// PostgreSQL walk every case: 20 ms a fresh phone at 30,000 cases, 0.6 ms this way).
    pub(crate) fn ids_sql(dialect: Dialect, first: usize) -> String {
        let area = scope_area(dialect, "a");
        let (lo, hi, org) = (first, first + 1, first + 2);
        format!(
            "SELECT a.id FROM cases a WHERE {area} >= ${lo} AND {area} < ${hi}
             UNION SELECT o.case_id FROM case_orgs o WHERE o.org_id = ${org}"
        )
    }

    /// The values [`Scope::sql`] binds: the area range and the organisation.
    pub(crate) fn params(&self) -> (String, String, String) {
        let (lo, hi) = super::cases::area_range(self.prefix);
        (lo, hi, self.org.to_owned())
    }
}

/// An archived case leaves a device's scope once it is older than the archive cutoff ($4).
pub(crate) const NOT_EXPIRED: &str = "NOT (k.status = 'ARCHIVED' AND k.archived_at < $4)";

/// The area code of the cases row `alias` as the scope's byte range compares it (on
/// PostgreSQL in the "C" collation, which the `cases_by_area_bytes` index uses): codes are
/// compared byte by byte whatever the database's collation, as `starts_with` does.
fn scope_area(dialect: Dialect, alias: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("{alias}.area_code"),
        Dialect::Postgres => format!("{alias}.area_code COLLATE \"C\""),
    }
}

#[cfg(test)]
mod tests {
    //! Conformance: [`Scope::contains`] and [`Scope::sql`] / [`Scope::ids_sql`] agree over
    //! random organisations and cases, written through the real projection path, on SQLite
    //! and (with `GRIDSYNC_TEST_POSTGRES_URL`) PostgreSQL.

    use std::collections::BTreeSet;

    use gridsync_core::case::{Case, CaseId};
    use gridsync_core::workflow::{OrgRef, WorkflowState};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::Scope;
    use crate::db::Db;
    use crate::db::cases::{self, Projection, Upsert};

    /// Area codes over a two-letter alphabet, so prefixes of every length collide often.
    fn code(rng: &mut StdRng, len: usize) -> String {
        (0..len)
            .map(|_| if rng.random_bool(0.5) { '3' } else { '4' })
            .collect()
    }

    async fn conformance(url: &str) {
        let db = Db::connect(url).await.expect("database");
        let mut rng = StdRng::seed_from_u64(12);
        let org_ids: Vec<String> = (0..8).map(|i| format!("org-{i}")).collect();
        let mut projections = Vec::new();
        for _ in 0..300 {
            let case = Case {
                area_code: code(&mut rng, 12),
                ..Case::default()
            };
            let mut state = WorkflowState::default();
            state.assigned_orgs = org_ids
                .iter()
                .filter(|_| rng.random_bool(0.15))
                .map(|o| OrgRef::new(o.as_str(), o.as_str()))
                .collect();
            state.handling_org = rng
                .random_bool(0.3)
                .then(|| org_ids[rng.random_range(0..org_ids.len())].clone());
            projections.push((CaseId::new_random(), Projection::of(&case, &state)));
        }
        let mut conn = db.writer.acquire().await.unwrap();
        let rows: Vec<Upsert<'_>> = projections
            .iter()
            .enumerate()
            .map(|(k, (id, p))| Upsert {
                id: *id,
                projection: p,
                snapshot: Some((&[], 0)),
                updated_pos: k as i64,
            })
            .collect();
        cases::upsert_projections(&mut conn, &rows, 0)
            .await
            .unwrap();
        let orgs: Vec<(CaseId, &Projection)> = projections.iter().map(|(i, p)| (*i, p)).collect();
        cases::set_orgs(&mut conn, &orgs).await.unwrap();
        drop(conn);

        let mut scopes: Vec<(Option<String>, String)> = Vec::new();
        for _ in 0..40 {
            let len = rng.random_range(0..=12);
            let prefix = rng.random_bool(0.8).then(|| code(&mut rng, len));
            let org = org_ids[rng.random_range(0..org_ids.len())].clone();
            scopes.push((prefix, org));
        }
        scopes.push((None, String::new()));
        for (prefix, org) in &scopes {
            let scope = Scope {
                prefix: prefix.as_deref(),
                org,
            };
            let rust: BTreeSet<String> = projections
                .iter()
                .filter(|(_, p)| scope.contains(p))
                .map(|(id, _)| id.to_string())
                .collect();
            let (lo, hi, org) = scope.params();
            for sql in [
                format!(
                    "SELECT k.id FROM cases k WHERE {}",
                    Scope::sql(db.dialect, "k", 1)
                ),
                Scope::ids_sql(db.dialect, 1),
            ] {
                let got: BTreeSet<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(&lo)
                    .bind(&hi)
                    .bind(&org)
                    .fetch_all(&db.pool)
                    .await
                    .unwrap()
                    .into_iter()
                    .collect();
                assert_eq!(got, rust, "{prefix:?} {org:?}: {sql}");
            }
        }
        db.pool.close().await;
        db.writer.close().await;
    }

    #[test]
    fn the_rust_check_and_the_sql_agree() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let test_db = gridsync_tests::TestDb::new(&rt);
        rt.block_on(conformance(&test_db.url));
    }
}
