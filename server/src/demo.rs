//! The demo county (`gridsync serve --demo`): a county center, three township centers, six
//! villages with real-looking statistical division codes, departments, specialised
//! mediation rooms, and a user for every role. Demo mode only: the password is public.

use gridsync_core::workflow::{Role, Tier};

use crate::auth::hash_password;
use crate::db::Db;
use crate::db::accounts::{Org, User};
use crate::error::Result;

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "gridsync-demo";

/// County 330182 (示范县), for the README and the tests.
pub const COUNTY: &str = "330182";

/// (id, parent, name, kind, tier, area code, scope prefix)
type OrgRow = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    Tier,
    &'static str,
    Option<&'static str>,
);

const ORGS: &[OrgRow] = &[
    (
        "330182-center",
        None,
        "示范县社会治理综合服务中心",
        "CENTER",
        Tier::County,
        "330182000000",
        Some("330182"),
    ),
    (
        "330182101-center",
        Some("330182-center"),
        "青溪镇综治中心",
        "CENTER",
        Tier::Township,
        "330182101000",
        Some("330182101"),
    ),
    (
        "330182102-center",
        Some("330182-center"),
        "双河镇综治中心",
        "CENTER",
        Tier::Township,
        "330182102000",
        Some("330182102"),
    ),
    (
        "330182201-center",
        Some("330182-center"),
        "白沙乡综治中心",
        "CENTER",
        Tier::Township,
        "330182201000",
        Some("330182201"),
    ),
    (
        "330182101201",
        Some("330182101-center"),
        "青溪镇东岭村",
        "VILLAGE",
        Tier::Village,
        "330182101201",
        Some("330182101201"),
    ),
    (
        "330182101202",
        Some("330182101-center"),
        "青溪镇西坞村",
        "VILLAGE",
        Tier::Village,
        "330182101202",
        Some("330182101202"),
    ),
    (
        "330182102203",
        Some("330182102-center"),
        "双河镇河口村",
        "VILLAGE",
        Tier::Village,
        "330182102203",
        Some("330182102203"),
    ),
    (
        "330182102204",
        Some("330182102-center"),
        "双河镇桥头村",
        "VILLAGE",
        Tier::Village,
        "330182102204",
        Some("330182102204"),
    ),
    (
        "330182201205",
        Some("330182201-center"),
        "白沙乡石门村",
        "VILLAGE",
        Tier::Village,
        "330182201205",
        Some("330182201205"),
    ),
    (
        "330182201206",
        Some("330182201-center"),
        "白沙乡龙潭村",
        "VILLAGE",
        Tier::Village,
        "330182201206",
        Some("330182201206"),
    ),
    (
        "330182-labour",
        Some("330182-center"),
        "县人社局劳动保障监察大队",
        "DEPARTMENT",
        Tier::County,
        "330182000000",
        None,
    ),
    (
        "330182-court",
        Some("330182-center"),
        "县人民法院诉调对接中心",
        "DEPARTMENT",
        Tier::County,
        "330182000000",
        None,
    ),
    (
        "330182-natres",
        Some("330182-center"),
        "县自然资源和规划局",
        "DEPARTMENT",
        Tier::County,
        "330182000000",
        None,
    ),
    (
        "330182-women",
        Some("330182-center"),
        "县妇联",
        "DEPARTMENT",
        Tier::County,
        "330182000000",
        None,
    ),
    (
        "330182101-police",
        Some("330182101-center"),
        "青溪派出所",
        "DEPARTMENT",
        Tier::Township,
        "330182101000",
        None,
    ),
    (
        "330182101-judicial",
        Some("330182101-center"),
        "青溪司法所",
        "DEPARTMENT",
        Tier::Township,
        "330182101000",
        None,
    ),
    (
        "330182-room-family",
        Some("330182-center"),
        "婚姻家庭纠纷人民调解委员会",
        "MEDIATION_ROOM",
        Tier::County,
        "330182000000",
        None,
    ),
    (
        "330182-room-traffic",
        Some("330182-center"),
        "道路交通事故纠纷人民调解委员会",
        "MEDIATION_ROOM",
        Tier::County,
        "330182000000",
        None,
    ),
    (
        "330182-room-labour",
        Some("330182-center"),
        "劳动人事争议调解室",
        "MEDIATION_ROOM",
        Tier::County,
        "330182000000",
        None,
    ),
];

/// (username, display name, role, org)
pub const USERS: &[(&str, &str, Role, &str)] = &[
    (
        "wang.grid",
        "王网格 (东岭村网格员)",
        Role::GridWorker,
        "330182101201",
    ),
    (
        "zhao.grid",
        "赵网格 (河口村网格员)",
        Role::GridWorker,
        "330182102203",
    ),
    (
        "li.mediator",
        "李调解 (东岭村调解员)",
        Role::VillageMediator,
        "330182101201",
    ),
    (
        "chen.dispatch",
        "陈受理 (县中心受理员)",
        Role::Dispatcher,
        "330182-center",
    ),
    (
        "sun.town",
        "孙派遣 (青溪镇中心)",
        Role::Dispatcher,
        "330182101-center",
    ),
    (
        "liu.labour",
        "刘承办 (劳动监察)",
        Role::DepartmentHandler,
        "330182-labour",
    ),
    (
        "zhou.judicial",
        "周承办 (青溪司法所)",
        Role::DepartmentHandler,
        "330182101-judicial",
    ),
    (
        "wu.super",
        "吴督办 (县中心领导)",
        Role::Supervisor,
        "330182-center",
    ),
    ("admin", "系统管理员", Role::Admin, "330182-center"),
];

/// Loads the demo county into an empty database. Does nothing if users exist.
pub async fn seed(db: &Db, now: i64) -> Result<bool> {
    if db.user_count().await? > 0 {
        return Ok(false);
    }
    for (id, parent, name, kind, tier, area, scope) in ORGS {
        let org = Org {
            id: (*id).into(),
            parent_id: parent.map(Into::into),
            name: (*name).into(),
            kind: (*kind).into(),
            tier: *tier,
            area_code: (*area).into(),
            scope_prefix: scope.map(Into::into),
        };
        db.create_org(&org, now).await?;
    }
    // One hash for all: argon2 is deliberately slow.
    let hash = hash_password(DEMO_PASSWORD);
    for (username, display, role, org) in USERS {
        let user = User {
            id: format!("u-{username}"),
            username: (*username).into(),
            display_name: (*display).into(),
            role: *role,
            org_id: (*org).into(),
            active: true,
        };
        db.create_user(&user, &hash, now).await?;
    }
    for rule in crate::center::rules::demo_rules() {
        crate::center::rules::add(db, &rule, now).await?;
    }
    Ok(true)
}
