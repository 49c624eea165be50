//! `gridsync admin`: organisations, users and devices, straight in the database.

use anyhow::Context;
use clap::{Args, Subcommand};
use gridsync_core::workflow::{Role, Tier};
use gridsync_server::audit;
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
    /// Set a user's password. It is read from the terminal (asked twice, not echoed) or
    /// from the first line of stdin, never from the command line. The user's sessions end.
    SetPassword { username: String },
    /// Disable a user: their devices are revoked (each wipes itself), their sessions end and
    /// their access tokens are refused from now on.
    DisableUser { username: String },
    /// Make a new access-token signing key. Tokens signed with the previous key stay valid
    /// until they expire (15 minutes); running servers take the new key within a minute.
    RotateJwtKey {
        /// Rotate the key file given to `serve --jwt-key-file` instead of the key kept in
        /// the database: the new key is written first, the previous one kept on the next
        /// line (the file is rewritten 0600). Restart the servers to use it.
        #[arg(long, value_name = "PATH")]
        key_file: Option<std::path::PathBuf>,
    },
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
            audit::append_at(
                &db,
                now,
                operator_entry(
                    audit::DEVICE_REVOKED,
                    serde_json::json!({ "device_id": device_id }),
                ),
            )
            .await?;
            println!("revoked device {device_id}");
        }
        AdminCommand::SetPassword { username } => {
            let user = db
                .user_named(&username)
                .await?
                .with_context(|| format!("no user {username:?}"))?;
            let password = read_new_password()?;
            if let Err(why) = gridsync_server::auth::check_new_password(&password) {
                anyhow::bail!("{why}");
            }
            let hash = gridsync_server::auth::hash_password(&password);
            let ended = db.set_password(&user.id, &hash, None, now).await?;
            audit::append_at(
                &db,
                now,
                operator_entry(
                    audit::PASSWORD_CHANGED,
                    serde_json::json!({ "user_id": user.id, "by": audit::OPERATOR, "sessions_revoked": ended }),
                ),
            )
            .await?;
            println!("password set for {username}; {ended} session(s) ended");
        }
        AdminCommand::DisableUser { username } => {
            let user = db
                .user_named(&username)
                .await?
                .with_context(|| format!("no user {username:?}"))?;
            let (devices, ended) = db.disable_user(&user.id, now).await?;
            audit::append_at(
                &db,
                now,
                operator_entry(
                    audit::USER_DISABLED,
                    serde_json::json!({ "user_id": user.id, "devices_revoked": devices, "sessions_revoked": ended }),
                ),
            )
            .await?;
            for device in &devices {
                audit::append_at(
                    &db,
                    now,
                    operator_entry(
                        audit::DEVICE_REVOKED,
                        serde_json::json!({ "device_id": device, "user_id": user.id }),
                    ),
                )
                .await?;
            }
            println!(
                "disabled {username}: {} device(s) revoked, {ended} session(s) ended",
                devices.len()
            );
        }
        AdminCommand::RotateJwtKey { key_file: None } => {
            let kid = db.rotate_jwt_key(now).await?;
            println!(
                "new signing key {kid}: running servers take it within a minute; tokens signed \
                 with the previous key stay valid until they expire. Servers given a key \
                 (--jwt-key-file, GRIDSYNC_JWT_SECRET) keep their own."
            );
        }
        AdminCommand::RotateJwtKey {
            key_file: Some(path),
        } => {
            let previous = match std::fs::read_to_string(&path) {
                Ok(text) => text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_owned),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            };
            let key = gridsync_server::auth::random_secret();
            let mut text = format!("{key}\n");
            if let Some(p) = previous {
                text.push_str(&p);
                text.push('\n');
            }
            gridsync_server::db::private::write_private(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "new signing key {} written to {}; restart the servers that read it",
                gridsync_server::auth::key_id(key.as_bytes()),
                path.display()
            );
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
            for r in gridsync_server::center::rules::list(&db).await? {
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
            let rule = gridsync_server::center::rules::DispatchRule {
                id,
                priority,
                category,
                risk_level: risk,
                area_prefix,
                center_org: center,
                target_org: target,
                automatic,
            };
            gridsync_server::center::rules::add(&db, &rule, now).await?;
            println!("added rule {}", rule.id);
        }
        AdminCommand::RemoveRule { id } => {
            gridsync_server::center::rules::remove(&db, &id).await?;
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

/// An audit entry by the operator at the server's shell.
fn operator_entry(action: &str, detail: serde_json::Value) -> audit::Entry {
    audit::Entry {
        user_id: audit::OPERATOR.into(),
        role: audit::OPERATOR.into(),
        org_id: String::new(),
        action: action.into(),
        case_id: None,
        detail,
    }
}

/// A new password from the terminal (twice, echo off) or the first line of stdin: never
/// from the command line, where other users of the machine could read it.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = prompt_hidden("New password: ")?;
    let second = prompt_hidden("Again: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

fn prompt_hidden(label: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    eprint!("{label}");
    std::io::stderr().flush()?;
    // Best effort: without `stty` the password echoes, but still never reaches argv or logs.
    let hidden = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        stty("echo");
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
