//! `gridsync admin`: organisations, users and devices, straight in the database.

use clap::{Args, Subcommand};
use gridsync_core::workflow::{Role, Tier};
use gridsync_server::db::Db;
use gridsync_server::db::accounts::{Org, User};

use super::DEFAULT_DATABASE_URL;

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The server's database (same as `serve`).
    #[arg(long, env = "GRIDSYNC_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an organisation (center, department, village, mediation room).
    CreateOrg {
        /// Stable id, e.g. `330182-labour`.
        id: String,
        /// Display name, e.g. 县人社局劳动保障监察大队.
        name: String,
        /// CENTER, DEPARTMENT, VILLAGE or MEDIATION_ROOM.
        #[arg(long)]
        kind: String,
        /// VILLAGE, TOWNSHIP or COUNTY.
        #[arg(long)]
        tier: Tier,
        /// 12-digit statistical division code of the area it serves.
        #[arg(long)]
        area_code: String,
        /// Parent organisation id.
        #[arg(long)]
        parent: Option<String>,
        /// Area-code prefix of the cases it sees (omit for departments, which see only
        /// cases dispatched to them).
        #[arg(long)]
        scope_prefix: Option<String>,
    },
    /// Create a user. The password is generated and printed once unless given.
    CreateUser {
        username: String,
        /// GRID_WORKER, VILLAGE_MEDIATOR, DISPATCHER, DEPARTMENT_HANDLER, SUPERVISOR, ADMIN.
        #[arg(long)]
        role: Role,
        /// Organisation id.
        #[arg(long)]
        org: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, env = "GRIDSYNC_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Move a user to another organisation; their phones' scope follows at the next sync.
    MoveUser { username: String, org: String },
    /// Revoke a device: its next sync is refused and it wipes its local data.
    RevokeDevice { device_id: String },
    /// List devices.
    Devices,
    /// List organisations.
    Orgs,
    /// List the auto-dispatch rules, in the order they are tried.
    Rules,
    /// Add an auto-dispatch rule (智能导办): cases matching category / risk / area go to
    /// `--target`; with `--automatic` the system accepts and dispatches them on arrival.
    AddRule {
        id: String,
        /// Accepting center (its county code numbers the cases).
        #[arg(long)]
        center: String,
        /// Organisation the cases go to.
        #[arg(long)]
        target: String,
        /// Lower is tried first.
        #[arg(long, default_value_t = 100)]
        priority: i64,
        /// Category code (e.g. TRAFFIC_ACCIDENT); any if omitted.
        #[arg(long)]
        category: Option<String>,
        /// Risk level code (GREEN, YELLOW, ORANGE, RED); any if omitted.
        #[arg(long)]
        risk: Option<String>,
        /// Area-code prefix; anywhere if omitted.
        #[arg(long)]
        area_prefix: Option<String>,
        /// Accept and dispatch without a person (otherwise a suggestion).
        #[arg(long)]
        automatic: bool,
    },
    /// Remove an auto-dispatch rule.
    RemoveRule { id: String },
}

pub(crate) async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let db = Db::connect(&args.database_url).await?;
    let now = gridsync_core::clock::Clock::now(&gridsync_core::clock::SystemClock).0;
    match args.command {
        AdminCommand::CreateOrg {
            id,
            name,
            kind,
            tier,
            area_code,
            parent,
            scope_prefix,
        } => {
            let org = Org {
                id,
                parent_id: parent,
                name,
                kind: kind.to_uppercase(),
                tier,
                area_code,
                scope_prefix,
            };
            db.create_org(&org, now).await?;
            println!("created organisation {}", org.id);
        }
        AdminCommand::CreateUser {
            username,
            role,
            org,
            display_name,
            password,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(gridsync_server::auth::random_secret);
            let user = User {
                id: format!("u-{username}"),
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role,
                org_id: org,
                active: true,
            };
            db.create_user(&user, &gridsync_server::auth::hash_password(&password), now)
                .await?;
            println!("created user {} ({})", user.username, user.role);
            if generated {
                println!("password (shown once): {password}");
            }
        }
        AdminCommand::MoveUser { username, org } => {
            db.move_user(&format!("u-{username}"), &org).await?;
            println!("moved {username} to {org}");
        }
        AdminCommand::RevokeDevice { device_id } => {
            db.revoke_device(&device_id, now).await?;
            println!("revoked device {device_id}");
        }
        AdminCommand::Devices => {
            for (id, user, created, seen, revoked) in db.devices().await? {
                let state = if revoked.is_some() {
                    "REVOKED"
                } else {
                    "active"
                };
                println!(
                    "{id}\t{user}\t{state}\tcreated {created}\tlast seen {}",
                    seen.map(|s| s.to_string()).unwrap_or("-".into())
                );
            }
        }
        AdminCommand::Rules => {
            for r in gridsync_server::rules::list(&db).await? {
                let any = |v: &Option<String>| v.clone().unwrap_or_else(|| "*".into());
                println!(
                    "{}\tpriority {}\t{} / {} / {}\t{} -> {}\t{}",
                    r.id,
                    r.priority,
                    any(&r.category),
                    any(&r.risk_level),
                    any(&r.area_prefix),
                    r.center_org,
                    r.target_org,
                    if r.automatic {
                        "automatic"
                    } else {
                        "suggestion"
                    }
                );
            }
        }
        AdminCommand::AddRule {
            id,
            center,
            target,
            priority,
            category,
            risk,
            area_prefix,
            automatic,
        } => {
            let rule = gridsync_server::rules::DispatchRule {
                id,
                priority,
                category,
                risk_level: risk,
                area_prefix,
                center_org: center,
                target_org: target,
                automatic,
            };
            gridsync_server::rules::add(&db, &rule, now).await?;
            println!("added rule {}", rule.id);
        }
        AdminCommand::RemoveRule { id } => {
            gridsync_server::rules::remove(&db, &id).await?;
            println!("removed rule {id}");
        }
        AdminCommand::Orgs => {
            for o in db.orgs().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    o.id, o.kind, o.tier, o.area_code, o.name
                );
            }
        }
    }
    Ok(())
}
