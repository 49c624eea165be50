//! Time limits (DESIGN §4): the rules configured per tier, category and area, the one
//! that applies to a case, and their changes by staff (inside their scope, audited).

use gridsync_core::workflow::{Tier, TimeLimits};

use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::policy::{self, Refusal};
use crate::state::Center;

pub use crate::db::limits::TimeLimitRule;

impl TimeLimitRule {
    /// How specific the rule is: a longer area prefix first (an area's own limits override
    /// the county's), then tier and category 3, tier 2, category 1, neither 0.
    fn specificity(&self) -> (usize, u8) {
        (
            self.area_prefix.as_deref().map_or(0, str::len),
            u8::from(self.tier.is_some()) * 2 + u8::from(self.category.is_some()),
        )
    }

    fn matches(&self, tier: Tier, category: &str, area: &str) -> bool {
        self.tier.as_deref().is_none_or(|t| t == tier.as_code())
            && self.category.as_deref().is_none_or(|c| c == category)
            && self
                .area_prefix
                .as_deref()
                .is_none_or(|p| area.starts_with(p))
    }
}

/// The limits for a case at `tier` in `category` and `area`: the most specific matching
/// rule, or the defaults.
pub fn limits_for(rules: &[TimeLimitRule], tier: Tier, category: &str, area: &str) -> TimeLimits {
    rules
        .iter()
        .filter(|r| r.matches(tier, category, area))
        .max_by_key(|r| (r.specificity(), std::cmp::Reverse(r.id.clone())))
        .map(|r| r.limits.clone())
        .unwrap_or_default()
}

/// Every configured rule.
pub async fn limit_rules(db: &Db) -> Result<Vec<TimeLimitRule>> {
    db::limits::list(db).await
}

/// Adds or replaces a time-limit rule (trusted callers: tools, tests; staff go through
/// [`set_limit_rule`]).
pub async fn put_limit_rule(db: &Db, rule: &TimeLimitRule, now: i64) -> Result<()> {
    check_limit_rule(rule).map_err(|r| Error::Invalid(r.to_string()))?;
    let mut conn = db.writer.acquire().await?;
    db::limits::upsert(&mut conn, rule, now).await
}

/// Sets a time-limit rule for a caller: only inside their scope (`policy::covers`), the
/// rule it replaces too, written to the audit log in the same transaction.
pub async fn set_limit_rule(
    center: &Center,
    caller: &crate::caller::Caller,
    rule: &TimeLimitRule,
) -> std::result::Result<(), Refusal> {
    check_limit_rule(rule)?;
    let out_of_scope = || {
        Refusal::OutOfScope(
            "time limits for that area are outside your scope (no area_prefix: the whole county)"
                .into(),
        )
    };
    if !policy::covers(caller, rule.area_prefix.as_deref()) {
        return Err(out_of_scope());
    }
    let old = limit_rules(&center.db)
        .await?
        .into_iter()
        .find(|r| r.id == rule.id);
    if old
        .as_ref()
        .is_some_and(|old| !policy::covers(caller, old.area_prefix.as_deref()))
    {
        return Err(out_of_scope());
    }
    let mut tx = center.db.writer.begin().await?;
    db::limits::upsert(&mut tx, rule, center.clock.now().0).await?;
    let entry = crate::audit::Entry::by(
        caller,
        crate::audit::TIME_LIMITS_CHANGED,
        None,
        serde_json::json!({
            "rule": rule.id,
            "tier": rule.tier,
            "category": rule.category,
            "area_prefix": rule.area_prefix,
            "replaced": old.is_some(),
        }),
    );
    crate::audit::append_in(&mut tx, center, entry).await?;
    tx.commit().await?;
    Ok(())
}

fn check_limit_rule(rule: &TimeLimitRule) -> std::result::Result<(), Refusal> {
    let invalid = |field: &str, message: String| Refusal::invalid("invalid_input", field, message);
    super::check_rule_fields(
        &rule.id,
        rule.category.as_deref(),
        rule.area_prefix.as_deref(),
    )?;
    if let Some(t) = &rule.tier {
        t.parse::<Tier>()
            .map_err(|e| invalid("tier", e.to_string()))?;
    }
    if !rule.limits.is_valid() {
        return Err(invalid(
            "limits",
            "every limit must be positive, yellow_percent 1..=100".into(),
        ));
    }
    Ok(())
}
