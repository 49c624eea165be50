//! `gridsync admin`: organisations, users and devices, straight in the database, through
//! the same domain functions as the HTTP API (`gridsync_server::admin`), audited as the
//! `OPERATOR`. `org …`, `user …` and `device …` are the API's twins; the older flat
//! commands (`create-org`, `create-user`, …) stay as hidden aliases for scripts.

use anyhow::Context;
use clap::{Args, Subcommand};
use gridsync_core::workflow::{Role, Tier};
use gridsync_server::admin::{self, Actor};
use gridsync_server::db::Db;

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
    /// The organisation tree: list, create, rename, move.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Users: list, create, change role or organisation, disable, set a password.
    #[command(subcommand)]
    User(UserCommand),
    /// Devices: list (last sync, app version), revoke.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Create an organisation (older spelling of `org create`).
    #[command(hide = true)]
    CreateOrg(NewOrg),
    /// Create a user (older spelling of `user create`).
    #[command(hide = true)]
    CreateUser(NewUser),
    /// Move a user to another organisation; their phones' scope follows at the next sync.
    #[command(hide = true)]
    MoveUser { username: String, org: String },
    /// Revoke a device: its next sync is refused and it wipes its local data.
    #[command(hide = true)]
    RevokeDevice { device_id: String },
    /// Set a user's password. It is read from the terminal (asked twice, not echoed) or
    /// from the first line of stdin, never from the command line. The user's sessions end.
    #[command(hide = true)]
    SetPassword { username: String },
    /// Disable a user: their devices are revoked (each wipes itself), their sessions end and
    /// their access tokens are refused from now on.
    #[command(hide = true)]
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
    /// Retire the center's signing key (the one that signs the center's changes and
    /// evidence bundles) for a new one: after a suspected leak, or on a schedule. The
    /// retired key stays published and still verifies what it signed; its secret is erased.
    /// Running servers sign with the new key within a minute. Audited
    /// (`SIGNING_KEY_ROTATED`).
    RotateSigningKey,
    /// List devices.
    #[command(hide = true)]
    Devices,
    /// List organisations.
    #[command(hide = true)]
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
    /// Write a case's evidence bundle (its changes with their signatures, the keys and
    /// whose they are, the center's key, its audit entries; docs/bundle.md) to a file.
    /// Audited. `gridsync verify FILE` checks it offline.
    ExportBundle {
        /// Case id (UUID) or case number.
        case: String,
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// The tree, depth first: id, kind, tier, area code, scope prefix, name.
    List,
    /// Create an organisation: under a center (`--parent`), inside its area.
    Create(NewOrg),
    /// Rename an organisation.
    Rename { id: String, name: String },
    /// Move an organisation under another center, optionally with a new area; the phones of
    /// everyone below it rescan at their next sync.
    Move {
        id: String,
        #[arg(long)]
        parent: String,
        #[arg(long)]
        area_code: Option<String>,
        #[arg(long)]
        scope_prefix: Option<String>,
    },
}

/// A new organisation (`org create`, and the older `create-org`).
#[derive(Debug, clap::Args)]
struct NewOrg {
    /// Stable id, e.g. `330182-labour`.
    id: String,
    /// Display name, e.g. 县人社局劳动保障监察大队.
    name: String,
    /// CENTER, DEPARTMENT, VILLAGE or MEDIATION_ROOM.
    #[arg(long)]
    kind: String,
    /// VILLAGE, TOWNSHIP or COUNTY (default: a village's VILLAGE, else the parent's).
    #[arg(long)]
    tier: Option<Tier>,
    /// 12-digit statistical division code of the area it serves.
    #[arg(long)]
    area_code: String,
    /// Parent organisation id (omit only for a new top of the tree).
    #[arg(long)]
    parent: Option<String>,
    /// Area-code prefix of the cases it sees (default by kind and tier; departments
    /// and mediation rooms see only cases dispatched to them).
    #[arg(long)]
    scope_prefix: Option<String>,
}

/// A new user (`user create`, and the older `create-user`).
#[derive(Debug, clap::Args)]
struct NewUser {
    username: String,
    /// GRID_WORKER, VILLAGE_MEDIATOR, DISPATCHER, DEPARTMENT_HANDLER, SUPERVISOR, ADMIN
    /// (it must fit the organisation's kind).
    #[arg(long)]
    role: Role,
    /// Organisation id.
    #[arg(long)]
    org: String,
    #[arg(long)]
    display_name: Option<String>,
    #[arg(long, env = "GRIDSYNC_NEW_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Users (of one organisation and below, with `--org`): username, role, org, state.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Create a user. The password is generated and printed once unless given.
    Create(NewUser),
    /// Change a user's role and/or organisation; their phones follow at the next sync.
    Assign {
        username: String,
        #[arg(long)]
        role: Option<Role>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Disable a user: their devices are revoked (each wipes itself), their sessions end and
    /// their access tokens are refused from now on.
    Disable { username: String },
    /// Set a user's password, read from the terminal (asked twice, not echoed) or the first
    /// line of stdin, never from the command line. The user's sessions end.
    SetPassword { username: String },
    /// Register the mobile a user's deadline and supervision text messages go to (the
    /// Notifier's SMS gateway); replaces an earlier one.
    SetMobile { username: String, mobile: String },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Devices, newest first: id, user, state, created, last sync, app version.
    List {
        /// Only this user's (username).
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a device: its next sync is refused and it wipes its local data.
    Revoke { device_id: String },
}

pub(crate) async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let db = Db::connect(&args.database_url).await?;
    let now = gridsync_core::clock::Clock::now(&gridsync_core::clock::SystemClock).0;
    match args.command {
        AdminCommand::Org(command) => org(&db, command, now).await?,
        AdminCommand::User(command) => user(&db, command, now).await?,
        AdminCommand::Device(command) => device(&db, command, now).await?,
        AdminCommand::CreateOrg(new) => org(&db, OrgCommand::Create(new), now).await?,
        AdminCommand::CreateUser(new) => user(&db, UserCommand::Create(new), now).await?,
        AdminCommand::MoveUser { username, org } => {
            let command = UserCommand::Assign {
                username,
                role: None,
                org: Some(org),
            };
            user(&db, command, now).await?;
        }
        AdminCommand::RevokeDevice { device_id } => {
            device(&db, DeviceCommand::Revoke { device_id }, now).await?;
        }
        AdminCommand::SetPassword { username } => {
            user(&db, UserCommand::SetPassword { username }, now).await?;
        }
        AdminCommand::DisableUser { username } => {
            user(&db, UserCommand::Disable { username }, now).await?;
        }
        AdminCommand::ExportBundle { case, out } => {
            let key = gridsync_server::signing::CenterKey::load(&db, now).await?;
            let (id, bytes) =
                gridsync_server::center::bundle::for_operator(&db, &key, &case, now).await?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "case {id}: evidence bundle of {} bytes written to {} (center key {})",
                bytes.len(),
                out.display(),
                key.signer().kid
            );
        }
        AdminCommand::RotateSigningKey => {
            let (kid, retired) = gridsync_server::signing::rotate(&db, now).await?;
            gridsync_server::audit::append_at(
                &db,
                now,
                gridsync_server::audit::Entry::operator(
                    gridsync_server::audit::SIGNING_KEY_ROTATED,
                    serde_json::json!({ "kid": kid, "retired": retired }),
                ),
            )
            .await?;
            println!(
                "new center signing key {kid} (retired: {}): running servers sign with it \
                 within a minute; the retired key stays published at \
                 /.well-known/gridsync-signing-keys and verifies what it signed",
                if retired.is_empty() {
                    "none".to_owned()
                } else {
                    retired.join(", ")
                }
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
        AdminCommand::Devices => device(&db, DeviceCommand::List { user: None }, now).await?,
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
            gridsync_server::center::rules::add_by_operator(&db, &rule, now).await?;
            println!("added rule {}", rule.id);
        }
        AdminCommand::RemoveRule { id } => {
            gridsync_server::center::rules::remove_by_operator(&db, &id, now).await?;
            println!("removed rule {id}");
        }
        AdminCommand::Orgs => org(&db, OrgCommand::List, now).await?,
    }
    Ok(())
}

async fn org(db: &Db, command: OrgCommand, now: i64) -> anyhow::Result<()> {
    let show = |o: &gridsync_server::db::accounts::Org, depth: usize| {
        println!(
            "{}{}\t{}\t{}\t{}\t{}\t{}",
            "  ".repeat(depth),
            o.id,
            o.kind,
            o.tier,
            o.area_code,
            o.scope_prefix.as_deref().unwrap_or("-"),
            o.name
        );
    };
    match command {
        OrgCommand::List => {
            for (o, depth) in admin::orgs::list(db, Actor::Operator).await? {
                show(&o, depth);
            }
        }
        OrgCommand::Create(NewOrg {
            id,
            name,
            kind,
            tier,
            area_code,
            parent,
            scope_prefix,
        }) => {
            let new = admin::orgs::NewOrg {
                id: Some(id),
                parent_id: parent,
                name,
                kind,
                tier,
                area_code,
                scope_prefix,
            };
            let (o, _) = admin::orgs::create(db, Actor::Operator, new, now).await?;
            println!("created organisation {}", o.id);
        }
        OrgCommand::Rename { id, name } => {
            admin::orgs::rename(db, Actor::Operator, &id, &name, now).await?;
            println!("renamed {id}");
        }
        OrgCommand::Move {
            id,
            parent,
            area_code,
            scope_prefix,
        } => {
            let to = admin::orgs::MoveOrg {
                parent_id: parent.clone(),
                area_code,
                scope_prefix,
            };
            admin::orgs::move_to(db, Actor::Operator, &id, to, now).await?;
            println!("moved {id} under {parent}");
        }
    }
    Ok(())
}

async fn user_id(db: &Db, username: &str) -> anyhow::Result<String> {
    Ok(db
        .user_named(username)
        .await?
        .with_context(|| format!("no user {username:?}"))?
        .id)
}

async fn user(db: &Db, command: UserCommand, now: i64) -> anyhow::Result<()> {
    match command {
        UserCommand::List { org } => {
            for u in admin::users::list(db, Actor::Operator, org.as_deref()).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.username,
                    u.role,
                    u.org_id,
                    if u.active { "active" } else { "DISABLED" },
                    u.display_name
                );
            }
        }
        UserCommand::Create(NewUser {
            username,
            role,
            org,
            display_name,
            password,
        }) => {
            let new = admin::users::NewUser {
                username,
                display_name,
                role: role.as_code().to_owned(),
                org_id: org,
                password,
            };
            let (u, generated) = admin::users::create(db, Actor::Operator, new, now).await?;
            println!("created user {} ({})", u.username, u.role);
            if let Some(password) = generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::Assign {
            username,
            role,
            org,
        } => {
            let id = user_id(db, &username).await?;
            let change = admin::users::Assignment {
                role: role.map(|r| r.as_code().to_owned()),
                org_id: org,
            };
            let u = admin::users::assign(db, Actor::Operator, &id, change, now).await?;
            println!("{username} is now {} of {}", u.role, u.org_id);
        }
        UserCommand::Disable { username } => {
            let id = user_id(db, &username).await?;
            let done = admin::users::disable(db, Actor::Operator, &id, now).await?;
            println!(
                "disabled {username}: {} device(s) revoked, {} session(s) ended",
                done.devices_revoked.len(),
                done.sessions_revoked
            );
        }
        UserCommand::SetPassword { username } => {
            let id = user_id(db, &username).await?;
            let password = read_new_password()?;
            if let Err(why) = gridsync_server::auth::check_new_password(&password) {
                anyhow::bail!("{why}");
            }
            let ended = admin::users::set_password(db, Actor::Operator, &id, password, now).await?;
            println!("password set for {username}; {ended} session(s) ended");
        }
        UserCommand::SetMobile { username, mobile } => {
            let id = user_id(db, &username).await?;
            let mobile =
                gridsync_server::citizens::mobile(&mobile).map_err(|e| anyhow::anyhow!("{e}"))?;
            gridsync_server::db::notifications::set_staff_mobile(db, &id, &mobile).await?;
            println!("mobile set for {username}");
        }
    }
    Ok(())
}

async fn device(db: &Db, command: DeviceCommand, now: i64) -> anyhow::Result<()> {
    match command {
        DeviceCommand::List { user } => {
            let id = match user {
                Some(u) => Some(user_id(db, &u).await?),
                None => None,
            };
            for d in admin::devices::list(db, Actor::Operator, id.as_deref()).await? {
                let state = if d.revoked_at.is_some() {
                    "REVOKED"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{state}\tcreated {}\tlast seen {}\t{}",
                    d.id,
                    d.username,
                    d.created_at,
                    d.last_seen_at.map(|s| s.to_string()).unwrap_or("-".into()),
                    d.app_version.as_deref().unwrap_or("-")
                );
            }
        }
        DeviceCommand::Revoke { device_id } => {
            admin::devices::revoke(db, Actor::Operator, &device_id, now).await?;
            println!("revoked device {device_id}");
        }
    }
    Ok(())
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
