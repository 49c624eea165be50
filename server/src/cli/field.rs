//! `gridsync field`: a field worker's phone (grid worker, village mediator, department
//! handler) on the command line, for demos, scripts and trying a center out. It is the same
//! `gridsync_ffi::FieldClient` the Android and iOS apps use, so what works here works there:
//! a local store (`--db`), sign-in, recording and every field role's steps offline,
//! evidence, and sync with the center.
//!
//! ```text
//! gridsync field login http://127.0.0.1:8080 wang.grid gridsync-demo
//! gridsync field record --title 拖欠工资 --category LABOUR_WAGES --summary "..." --party 张三
//! gridsync field submit 3f2a
//! gridsync field sync
//! gridsync field list
//! gridsync field tasks                      # a department handler's phone: 待签收, 待处理
//! gridsync field sign-for 330182-20261205-000001
//! gridsync field resolve 3f2a "双方达成协议" --terms "分两期支付" \
//!     --installment 2026-12-31:9000 --installment 2027-01-31:9000
//! gridsync field attach 3f2a iou.jpg --caption 欠条    # then `sync`, then `upload`
//! ```
//!
//! A case is named by its id, a unique prefix of it (4+ characters) or its case number.
//! `--json` prints JSON for scripts (errors too, as `{"error": {"code", "detail"}}`).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use gridsync_core::store::StoreKey;
use gridsync_ffi::{
    AgreementInput, CaseDetail, CaseFilter, CaseSummary, CodeKind, DeadlineKind, FieldClient,
    FieldError, FollowUpInput, InstallmentInput, NewCase, PartyInput, ResolveInput, Status, Tier,
    WarningLevel, code_label,
};

#[derive(Debug, Args)]
pub(crate) struct FieldArgs {
    /// The phone's local store (an SQLite file, created on first use).
    #[arg(
        long,
        env = "GRIDSYNC_FIELD_DB",
        default_value = "gridsync-field.db",
        global = true
    )]
    db: PathBuf,
    /// This phone's device id. Default: made on first use and kept in `<db>.device-id`.
    #[arg(long, env = "GRIDSYNC_FIELD_DEVICE", global = true)]
    device: Option<String>,
    /// The store's key, 64 hex digits (what the apps keep in the Android Keystore or the
    /// iOS Keychain). Default: made on first use and kept in `<db>.key` (mode 0600).
    #[arg(
        long = "store-key",
        env = "GRIDSYNC_STORE_KEY",
        global = true,
        hide_env_values = true
    )]
    store_key: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: FieldCommand,
}

#[derive(Debug, Subcommand)]
enum FieldCommand {
    /// Sign in at a center (登录).
    Login {
        /// The center, e.g. http://127.0.0.1:8080.
        url: String,
        username: String,
        /// `-` reads it from the first line of stdin (keeps it out of `ps` and history).
        password: String,
    },
    /// Record a new case, a draft until submitted (记录).
    Record {
        #[arg(long)]
        title: String,
        /// Category code: LABOUR_WAGES, NEIGHBOUR, MARRIAGE_FAMILY, ... (all of them:
        /// `gridsync field codes category`).
        #[arg(long, default_value = "OTHER")]
        category: String,
        #[arg(long, default_value = "")]
        summary: String,
        /// GREEN, YELLOW, ORANGE or RED.
        #[arg(long, default_value = "GREEN")]
        risk: String,
        /// SIMPLE, GENERAL or COMPLEX.
        #[arg(long, default_value = "GENERAL")]
        difficulty: String,
        /// 12-digit village code; default the signed-in user's area.
        #[arg(long, default_value = "")]
        area: String,
        /// A party, `NAME` or `NAME:ROLE` (APPLICANT, RESPONDENT, THIRD_PARTY); repeatable.
        #[arg(long = "party", value_name = "NAME[:ROLE]")]
        parties: Vec<String>,
        /// Submit it to the center right away.
        #[arg(long)]
        submit: bool,
    },
    /// Add a work note to a case (记录工作).
    Note {
        case: String,
        text: String,
        /// HOME_VISIT, PHONE_CALL, MEDIATION_FACE_TO_FACE, MEDIATION_BACK_TO_BACK, ...
        #[arg(long, default_value = "OTHER")]
        kind: String,
    },
    /// Submit a draft to the center (上报).
    Submit { case: String },
    /// List the cases on this phone (案件列表).
    List {
        /// Only these statuses (DRAFT, SUBMITTED, DISPATCHED, ...); repeatable.
        #[arg(long)]
        status: Vec<String>,
        /// Text in the title, case number or a party's name.
        #[arg(long)]
        text: Option<String>,
        /// Leave out closed cases.
        #[arg(long)]
        open: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one case in full: fields, parties, notes, deadlines, timeline (详情).
    Show { case: String },
    /// Sync with the center (同步); default the URL signed in at.
    Sync { url: Option<String> },
    /// What the center has not acknowledged yet (待同步).
    Pending,
    /// Who is signed in.
    Whoami,
    /// The codes of a kind with their labels: category, risk-level, risk-flag, difficulty,
    /// source, party-role, note-kind, status.
    Codes {
        #[arg(default_value = "category")]
        kind: String,
    },
    /// Sign out (退出).
    Logout,
    /// What you must do now on this phone's cases, overdue first (待办).
    Tasks,
    /// The steps you may take on a case now, offline (可办理).
    Allowed { case: String },
    /// Sign for a case dispatched to your organisation (签收).
    SignFor { case: String },
    /// Send a dispatched case back to the center, with why (退单).
    SendBack { case: String, reason: String },
    /// Start handling a signed-for case (开始调处).
    Start { case: String },
    /// Ask the center for more days (延期申请).
    Extend {
        case: String,
        /// 1 to 90.
        days: u32,
        reason: String,
    },
    /// Hand the case up a tier (提级).
    Escalate {
        case: String,
        reason: String,
        /// TOWNSHIP or COUNTY.
        #[arg(long, default_value = "COUNTY")]
        tier: String,
    },
    /// Resolve a case you handle (办结), with an agreement and its installments.
    Resolve {
        case: String,
        /// What was done and decided.
        outcome: String,
        /// The mediation failed (调解不成).
        #[arg(long)]
        failed: bool,
        /// The agreement's terms (协议内容); with `--installment`, the agreement is recorded.
        #[arg(long)]
        terms: Option<String>,
        /// An oral agreement (口头协议) rather than a written one.
        #[arg(long)]
        oral: bool,
        /// A payment, `YYYY-MM-DD:YUAN` (due at midnight, UTC+8); repeatable.
        #[arg(long = "installment", value_name = "YYYY-MM-DD:YUAN")]
        installments: Vec<String>,
    },
    /// Resolve on the spot (就地化解): green or yellow cases without danger flags.
    ResolveOnSite { case: String, outcome: String },
    /// Record a follow-up visit of a resolved case (回访).
    FollowUp {
        case: String,
        /// 1 (very unsatisfied) to 5 (very satisfied).
        #[arg(long)]
        satisfaction: u8,
        /// PHONE, VISIT or SMS.
        #[arg(long, default_value = "VISIT")]
        method: String,
        /// Whether the agreement is being kept.
        #[arg(long)]
        kept: Option<bool>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// A co-handling organisation's feedback on a joint case (协办意见).
    Feedback { case: String, opinion: String },
    /// Mark an installment of the agreement paid (已履行).
    Paid { case: String, installment: String },
    /// The sync status and when to sync next (同步状态).
    Status,
    /// The field limits a form must keep (字段规则).
    Rules,
    /// Attach a file to a case (证据): kept in the store's folder, uploaded by `upload`.
    Attach {
        case: String,
        file: PathBuf,
        /// PHOTO, AUDIO, DOCUMENT or AGREEMENT.
        #[arg(long, default_value = "PHOTO")]
        kind: String,
        /// Default: guessed from the file's extension.
        #[arg(long)]
        mime: Option<String>,
        #[arg(long, default_value = "")]
        caption: String,
    },
    /// Upload the attachments whose cases have synced, resuming where each stopped (上传证据).
    Upload { url: Option<String> },
    /// The attachments and how far each has gone up (证据上传进度).
    Evidence,
    /// An attachment's bytes, fetched from the center if not here (调取证据), written
    /// decrypted to `--out` (default: the attachment id, in the current folder).
    Fetch {
        case: String,
        attachment: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs one `gridsync field` command. Blocking (network and disk): call it outside the
/// async runtime, e.g. through `tokio::task::spawn_blocking`.
pub(crate) fn run(args: FieldArgs) -> anyhow::Result<()> {
    let json = args.json;
    match execute(args) {
        Ok(()) => Ok(()),
        Err(e) => {
            if json && let Some(fe) = e.downcast_ref::<FieldError>() {
                print_json(&serde_json::json!({
                    "error": { "code": fe.code(), "detail": fe.detail() }
                }))?;
            }
            Err(e)
        }
    }
}

fn execute(args: FieldArgs) -> anyhow::Result<()> {
    let device = match args.device {
        Some(d) => d,
        None => device_id(&args.db)?,
    };
    let db = args.db.to_str().context("the --db path is not UTF-8")?;
    let key = match &args.store_key {
        Some(hex) => StoreKey::from_hex(hex).context("GRIDSYNC_STORE_KEY / --store-key")?,
        None => store_key(&args.db)?,
    };
    let client = FieldClient::open(db.to_owned(), device, key.as_bytes().to_vec())?;
    let out = Output { json: args.json };
    let result = command(&client, args.command, &out);
    let revoked = result.as_ref().is_err_and(|e| {
        e.downcast_ref::<FieldError>()
            .is_some_and(|fe| matches!(fe, FieldError::DeviceRevoked { .. }))
    });
    if revoked && args.store_key.is_none() {
        // The client wiped the store; its key goes with it (as an app deletes its Keystore
        // entry).
        let _ = std::fs::remove_file(key_path(&args.db));
    }
    result
}

fn command(client: &FieldClient, command: FieldCommand, out: &Output) -> anyhow::Result<()> {
    match command {
        FieldCommand::Login {
            url,
            username,
            password,
        } => {
            let password = if password == "-" {
                read_password()?
            } else {
                password
            };
            let s = client.login(url, username, password)?;
            out.emit(&s, || {
                format!(
                    "已登录 signed in: {} ({}), {} @ {} [{}]\n中心 center: {}",
                    s.display_name,
                    s.username,
                    label(CodeKind::Role, s.role.as_code()),
                    s.org_name,
                    s.area_code,
                    s.server_url
                )
            })
        }
        FieldCommand::Record {
            title,
            category,
            summary,
            risk,
            difficulty,
            area,
            parties,
            submit,
        } => {
            let parties = parties
                .iter()
                .map(|p| party(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let id = client.record_case(NewCase {
                title,
                summary,
                category,
                area_code: area,
                people_involved: u32::try_from(parties.len()).unwrap_or(u32::MAX),
                risk_level: risk,
                difficulty,
                parties,
                ..NewCase::default()
            })?;
            if submit {
                client.submit_case(id.clone())?;
            }
            out.emit(
                &serde_json::json!({ "id": id, "submitted": submit }),
                || {
                    let done = if submit {
                        "已记录并上报 recorded and submitted"
                    } else {
                        "已记录 recorded (草稿 draft)"
                    };
                    format!("{done}: {id}")
                },
            )
        }
        FieldCommand::Note { case, text, kind } => {
            let id = resolve(client, &case)?;
            let note = client.add_note_of_kind(id.clone(), kind, text)?;
            out.emit(&serde_json::json!({ "case": id, "note": note }), || {
                format!("已添加记录 note added: {note} → {id}")
            })
        }
        FieldCommand::Submit { case } => {
            let id = resolve(client, &case)?;
            client.submit_case(id.clone())?;
            out.emit(
                &serde_json::json!({ "case": id, "status": "SUBMITTED" }),
                || format!("已上报 submitted: {id} (下次同步送达 goes up with the next sync)"),
            )
        }
        FieldCommand::List {
            status,
            text,
            open,
            limit,
        } => {
            let statuses = status
                .iter()
                .map(|s| Status::from_code(&s.to_ascii_uppercase()))
                .collect::<Result<Vec<_>, _>>()?;
            let cases = client.cases(CaseFilter {
                statuses,
                text,
                open_only: open,
                limit,
                ..CaseFilter::default()
            })?;
            out.emit(&cases, || list_table(&cases))
        }
        FieldCommand::Show { case } => {
            let id = resolve(client, &case)?;
            let d = client.case_detail(id)?;
            out.emit(&d, || detail_text(&d))
        }
        FieldCommand::Sync { url } => {
            let r = client.sync(url)?;
            out.emit(&r, || {
                let mut s = format!(
                    "同步完成 synced: 确认 {} 条上行 changes acked, 收到 {} 条 pulled, {} 轮 rounds\n\
                     新案件 new cases: {}, 更新 updated: {}, 未同步 unsent: {}",
                    r.acked_changes,
                    r.pulled_changes,
                    r.rounds,
                    r.new_cases.len(),
                    r.updated_cases.len(),
                    r.unsent_changes
                );
                for x in &r.rejected {
                    s.push_str(&format!("\n被拒 rejected {}: {} {}", x.case_id, x.code, x.message));
                }
                if !r.purged.is_empty() {
                    s.push_str(&format!("\n已移出本机 removed (out of scope): {}", r.purged.len()));
                }
                if r.more {
                    s.push_str("\n还有更多 more to sync: run again");
                }
                s
            })
        }
        FieldCommand::Pending => {
            let p = client.pending()?;
            out.emit(&p, || {
                format!(
                    "待同步 pending: {} 件案件 cases, {} 条变更 changes",
                    p.cases, p.changes
                )
            })
        }
        FieldCommand::Whoami => {
            let s = client.session()?;
            out.emit(&s, || match &s {
                Some(s) => format!(
                    "{} ({}), {} @ {} [{}], {}{}",
                    s.display_name,
                    s.username,
                    label(CodeKind::Role, s.role.as_code()),
                    s.org_name,
                    s.area_code,
                    s.server_url,
                    if s.needs_login {
                        " — 需重新登录 sign in again to sync"
                    } else {
                        ""
                    }
                ),
                None => "未登录 not signed in".to_owned(),
            })
        }
        FieldCommand::Codes { kind } => {
            let kind = code_kind(&kind)?;
            let codes = gridsync_ffi::code_list(kind);
            out.emit(&codes, || {
                let rows: Vec<Vec<String>> = codes
                    .iter()
                    .map(|c| vec![c.code.clone(), c.label_zh.clone(), c.label_en.clone()])
                    .collect();
                table(&["代码 code", "中文", "English"], &rows)
            })
        }
        FieldCommand::Logout => {
            client.logout()?;
            out.emit(&serde_json::json!({ "signed_out": true }), || {
                "已退出 signed out".to_owned()
            })
        }
        FieldCommand::Tasks => {
            let tasks = client.tasks()?;
            out.emit(&tasks, || {
                let rows: Vec<Vec<String>> = tasks
                    .iter()
                    .map(|t| {
                        vec![
                            t.case_no.clone().unwrap_or_else(|| short(&t.case_id)),
                            truncate(&t.title, 24),
                            label(CodeKind::EventKind, &t.step),
                            t.deadline
                                .as_ref()
                                .map_or_else(String::new, |d| when(d.due_at)),
                            if t.overdue {
                                "超期 overdue".to_owned()
                            } else {
                                warning_label(t.level).to_owned()
                            },
                        ]
                    })
                    .collect();
                table(
                    &["案件 case", "标题 title", "待办 step", "期限 due", ""],
                    &rows,
                )
            })
        }
        FieldCommand::Allowed { case } => {
            let id = resolve(client, &case)?;
            let kinds = client.allowed_actions(id)?;
            out.emit(&kinds, || {
                let rows: Vec<Vec<String>> = kinds
                    .iter()
                    .map(|k| {
                        let code = serde_json::to_value(k)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        vec![label(CodeKind::EventKind, &code), code]
                    })
                    .collect();
                table(&["步骤 step", "代码 code"], &rows)
            })
        }
        FieldCommand::SignFor { case } => step(client, out, &case, "签收 signed for", |c, id| {
            c.sign_for(id)
        }),
        FieldCommand::SendBack { case, reason } => {
            step(client, out, &case, "退单 sent back", |c, id| {
                c.send_back(id, reason)
            })
        }
        FieldCommand::Start { case } => {
            step(client, out, &case, "开始调处 handling", |c, id| {
                c.start_handling(id)
            })
        }
        FieldCommand::Extend { case, days, reason } => step(
            client,
            out,
            &case,
            "延期申请 extension asked",
            |c, id| c.request_extension(id, days, reason),
        ),
        FieldCommand::Escalate { case, reason, tier } => {
            let tier = match tier.to_ascii_uppercase().as_str() {
                "TOWNSHIP" => Tier::Township,
                "COUNTY" => Tier::County,
                "VILLAGE" => Tier::Village,
                other => anyhow::bail!("--tier {other:?}: TOWNSHIP or COUNTY"),
            };
            step(client, out, &case, "提级 escalated", |c, id| {
                c.escalate(id, tier, reason)
            })
        }
        FieldCommand::Resolve {
            case,
            outcome,
            failed,
            terms,
            oral,
            installments,
        } => {
            let installments = installments
                .iter()
                .map(|spec| installment(spec))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let agreement = (terms.is_some() || !installments.is_empty()).then(|| AgreementInput {
                form: if oral { "ORAL" } else { "WRITTEN" }.to_owned(),
                terms: terms.unwrap_or_default(),
                signed_at: None,
                installments,
            });
            step(client, out, &case, "办结 resolved", |c, id| {
                c.resolve(
                    id,
                    ResolveInput {
                        success: !failed,
                        outcome,
                        agreement,
                    },
                )
            })
        }
        FieldCommand::ResolveOnSite { case, outcome } => step(
            client,
            out,
            &case,
            "就地化解 resolved on the spot",
            |c, id| c.resolve_on_site(id, outcome, None),
        ),
        FieldCommand::FollowUp {
            case,
            satisfaction,
            method,
            kept,
            note,
        } => step(client, out, &case, "回访 followed up", |c, id| {
            c.record_follow_up(
                id,
                FollowUpInput {
                    method: method.to_ascii_uppercase(),
                    satisfaction,
                    agreement_performed: kept,
                    note,
                },
            )
        }),
        FieldCommand::Feedback { case, opinion } => step(
            client,
            out,
            &case,
            "协办意见 feedback given",
            |c, id| c.co_handling_feedback(id, opinion),
        ),
        FieldCommand::Paid { case, installment } => {
            step(client, out, &case, "已履行 paid", |c, id| {
                c.mark_installment_paid(id, installment, None)
            })
        }
        FieldCommand::Status => {
            let status = client.sync_status()?;
            let next = client.next_sync_after()?;
            out.emit(
                &serde_json::json!({ "status": status, "next_sync_after": next }),
                || {
                    format!(
                        "状态 state: {:?}\n上次成功 last success: {}\n上次错误 last error: {}\n\
                         待同步 pending: {} 件 cases, {} 条 changes\n下次同步 next sync: {}",
                        status.state,
                        status.last_success_at.map_or_else(|| "-".to_owned(), when),
                        status.last_error_code.as_deref().unwrap_or("-"),
                        status.pending.cases,
                        status.pending.changes,
                        next.map_or_else(|| "需登录 sign in first".to_owned(), when),
                    )
                },
            )
        }
        FieldCommand::Attach {
            case,
            file,
            kind,
            mime,
            caption,
        } => {
            let id = resolve(client, &case)?;
            let mime = mime.unwrap_or_else(|| mime_of(&file).to_owned());
            let path = file.to_str().context("the file's path is not UTF-8")?;
            let a = client.attach_file(
                id.clone(),
                path.to_owned(),
                kind.to_ascii_uppercase(),
                mime,
                caption,
            )?;
            out.emit(&a, || {
                format!(
                    "已附加 attached: {} ({} bytes, sha256 {}) → {id}\n同步后上传 goes up after the next sync: `gridsync field sync` then `upload`",
                    a.id, a.size, a.sha256
                )
            })
        }
        FieldCommand::Upload { url } => {
            let r = client.upload_evidence(url)?;
            out.emit(&r, || {
                let mut s = format!(
                    "已上传 uploaded: {} 件 files, {} bytes; 待上传 remaining: {}",
                    r.completed, r.bytes_sent, r.remaining
                );
                for f in &r.failed {
                    s.push_str(&format!(
                        "\n被拒 refused {}: {}",
                        f.attachment_id,
                        f.failure.as_deref().unwrap_or("")
                    ));
                }
                s
            })
        }
        FieldCommand::Evidence => {
            let uploads = client.evidence_uploads()?;
            out.emit(&uploads, || {
                let rows: Vec<Vec<String>> = uploads
                    .iter()
                    .map(|u| {
                        vec![
                            short(&u.case_id),
                            u.attachment_id.clone(),
                            u.mime.clone(),
                            format!("{}/{}", u.sent, u.size),
                            format!("{:?}", u.state),
                        ]
                    })
                    .collect();
                table(
                    &["案件 case", "附件 attachment", "类型 type", "已传 sent", ""],
                    &rows,
                )
            })
        }
        FieldCommand::Fetch {
            case,
            attachment,
            out: to,
        } => {
            let id = resolve(client, &case)?;
            let to = to.unwrap_or_else(|| PathBuf::from(&attachment));
            let path = to
                .to_str()
                .context("the --out path is not UTF-8")?
                .to_owned();
            let bytes = client.export_evidence(id, attachment, path.clone())?;
            out.emit(&serde_json::json!({ "path": path, "bytes": bytes }), || {
                format!("{path} ({bytes} B)")
            })
        }
        FieldCommand::Rules => {
            let rules = gridsync_ffi::field_rules();
            out.emit(&rules, || {
                let rows: Vec<Vec<String>> = rules
                    .iter()
                    .map(|r| {
                        vec![
                            r.field.clone(),
                            r.label_zh.clone(),
                            if r.required { "必填 required" } else { "" }.to_owned(),
                            r.max_chars.to_string(),
                        ]
                    })
                    .collect();
                table(&["字段 field", "名称", "", "最多字数 max"], &rows)
            })
        }
    }
}

/// A MIME type from a file name's extension (the center sniffs the bytes anyway).
fn mime_of(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "amr" => "audio/amr",
        "wav" => "audio/wav",
        "ogg" | "opus" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// One workflow step on a named case, then what it did.
fn step(
    client: &FieldClient,
    out: &Output,
    case: &str,
    done: &str,
    take: impl FnOnce(&FieldClient, String) -> Result<(), FieldError>,
) -> anyhow::Result<()> {
    let id = resolve(client, case)?;
    take(client, id.clone())?;
    let status = client.case_detail(id.clone())?.status;
    out.emit(&serde_json::json!({ "case": id, "status": status }), || {
        format!(
            "已{done}: {id} → {} (下次同步送达 goes up with the next sync)",
            label(CodeKind::Status, status.as_code())
        )
    })
}

/// `YYYY-MM-DD:YUAN` → an installment due at that day's midnight in UTC+8, in fen.
fn installment(spec: &str) -> anyhow::Result<InstallmentInput> {
    let (date, yuan) = spec
        .split_once(':')
        .with_context(|| format!("--installment {spec:?}: YYYY-MM-DD:YUAN"))?;
    let date: jiff::civil::Date = date
        .trim()
        .parse()
        .with_context(|| format!("--installment {spec:?}: the date is YYYY-MM-DD"))?;
    let due = date
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .context("date out of range")?
        .timestamp()
        .as_millisecond();
    let amount = fen(yuan.trim())
        .with_context(|| format!("--installment {spec:?}: the amount is yuan, e.g. 1500.50"))?;
    Ok(InstallmentInput {
        due_at: due,
        amount,
    })
}

/// "1500", "1500.5", "1500.50" yuan → fen; `None` for anything else.
fn fen(yuan: &str) -> Option<i64> {
    let (whole, frac) = yuan.split_once('.').unwrap_or((yuan, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !(whole.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// Prints either JSON or the human text.
struct Output {
    json: bool,
}

impl Output {
    fn emit<T: serde::Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            print_json(value)
        } else {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", text())?;
            Ok(())
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// `<db>.key`: where the terminal phone keeps its store key.
fn key_path(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(".key");
    PathBuf::from(path)
}

/// The store key kept beside the store (64 hex digits, mode 0600), made on first use. The
/// apps keep theirs in the Android Keystore or the iOS Keychain instead; a file beside the
/// store protects only against whoever copies the store without it.
fn store_key(db: &Path) -> anyhow::Result<StoreKey> {
    let path = key_path(db);
    match std::fs::read_to_string(&path) {
        Ok(text) => StoreKey::from_hex(&text)
            .with_context(|| format!("the store key in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = StoreKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&path)
                .with_context(|| format!("creating the store key {}", path.display()))?;
            writeln!(file, "{}", key.to_hex().as_str())?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading the store key {}", path.display())),
    }
}

/// The device id: made once per store and kept beside it, because the center binds the
/// session and the store's changes to it.
fn device_id(db: &Path) -> anyhow::Result<String> {
    let mut path = db.as_os_str().to_owned();
    path.push(".device-id");
    let path = PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Ok(_) | Err(_) => {
            let id = format!("cli-{}", uuid::Uuid::new_v4());
            std::fs::write(&path, format!("{id}\n"))
                .with_context(|| format!("writing the device id to {}", path.display()))?;
            Ok(id)
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `NAME` or `NAME:ROLE`.
fn party(spec: &str) -> anyhow::Result<PartyInput> {
    let (name, role) = match spec.rsplit_once(':') {
        Some((name, role)) if !role.is_empty() => (name, role.to_ascii_uppercase()),
        _ => (spec, "APPLICANT".to_owned()),
    };
    Ok(PartyInput {
        name: name.trim().to_owned(),
        role,
        ..PartyInput::default()
    })
}

/// A case named by id, unique id prefix (4+ characters) or case number.
fn resolve(client: &FieldClient, text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if text.len() == 36 {
        return Ok(text.to_owned());
    }
    let all = client.cases(CaseFilter {
        limit: u32::MAX,
        ..CaseFilter::default()
    })?;
    let lower = text.to_ascii_lowercase();
    let hits: Vec<&CaseSummary> = all
        .iter()
        .filter(|c| {
            c.case_no.as_deref() == Some(text) || (text.len() >= 4 && c.id.starts_with(&lower))
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(one.id.clone()),
        // Let the client say it in its own words (`case_not_found`).
        [] => Ok(text.to_owned()),
        many => anyhow::bail!(
            "{text:?} matches {} cases ({}...): give more of the id",
            many.len(),
            many.iter()
                .take(3)
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn code_kind(text: &str) -> anyhow::Result<CodeKind> {
    Ok(match text.to_ascii_lowercase().replace('_', "-").as_str() {
        "category" => CodeKind::Category,
        "risk-level" | "risk" => CodeKind::RiskLevel,
        "risk-flag" | "flag" => CodeKind::RiskFlag,
        "difficulty" => CodeKind::Difficulty,
        "source" => CodeKind::Source,
        "party-role" | "role" => CodeKind::PartyRole,
        "id-type" => CodeKind::IdDocType,
        "sex" => CodeKind::Sex,
        "note-kind" | "note" => CodeKind::NoteKind,
        "status" => CodeKind::Status,
        "event-kind" | "event" => CodeKind::EventKind,
        other => anyhow::bail!("unknown code kind {other:?}"),
    })
}

// ---- human output ------------------------------------------------------------------------

fn label(kind: CodeKind, code: &str) -> String {
    code_label(kind, code.to_owned())
        .map(|l| l.label_zh)
        .unwrap_or_else(|| code.to_owned())
}

fn deadline_label(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Accept => "受理时限",
        DeadlineKind::Sign => "签收时限",
        DeadlineKind::Handle => "办理时限",
        DeadlineKind::FollowUp => "回访时限",
        DeadlineKind::Installment => "履行期限",
        DeadlineKind::CoHandle => "协办时限",
    }
}

fn warning_label(level: WarningLevel) -> &'static str {
    match level {
        WarningLevel::None => "",
        WarningLevel::Yellow => "黄色预警",
        WarningLevel::Red => "红色预警",
    }
}

/// Milliseconds since the epoch as a Beijing-time date and minute.
fn when(ms: i64) -> String {
    let beijing = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => {
            let t = t.to_offset(beijing);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => format!("{ms}ms"),
    }
}

fn list_table(cases: &[CaseSummary]) -> String {
    if cases.is_empty() {
        return "没有案件 no cases".to_owned();
    }
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            let due = match (c.next_deadline, c.due_at) {
                (Some(k), Some(at)) => format!(
                    "{} {} {}",
                    deadline_label(k),
                    when(at),
                    warning_label(c.warning)
                )
                .trim_end()
                .to_owned(),
                _ => String::new(),
            };
            vec![
                c.id.chars().take(8).collect(),
                c.case_no.clone().unwrap_or_default(),
                label(CodeKind::Status, c.status.as_code()),
                label(CodeKind::RiskLevel, &c.risk_level),
                label(CodeKind::Category, &c.category),
                truncate(&c.title, 24),
                truncate(&c.party_names, 16),
                due,
                if c.unsent {
                    "未同步".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    table(
        &[
            "编号",
            "案件编号",
            "状态",
            "风险",
            "类别",
            "标题",
            "当事人",
            "期限",
            "",
        ],
        &rows,
    )
}

fn detail_text(d: &CaseDetail) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        if !v.is_empty() {
            s.push_str(&pad(k, 10));
            s.push_str(&v);
            s.push('\n');
        }
    };
    line("标题", d.title.clone());
    line("编号 id", d.id.clone());
    line("案件编号", d.case_no.clone().unwrap_or_default());
    line(
        "状态",
        format!(
            "{} ({})",
            label(CodeKind::Status, d.status.as_code()),
            d.status.as_code()
        ),
    );
    line("类别", label(CodeKind::Category, &d.category));
    line(
        "风险",
        format!(
            "{}{}",
            label(CodeKind::RiskLevel, &d.risk_level),
            if d.high_risk { " 高风险" } else { "" }
        ),
    );
    line(
        "风险标记",
        d.risk_flags
            .iter()
            .map(|f| label(CodeKind::RiskFlag, f))
            .collect::<Vec<_>>()
            .join("、"),
    );
    line("难度", label(CodeKind::Difficulty, &d.difficulty));
    line("区划", d.area_code.clone());
    line("来源", label(CodeKind::Source, &d.source));
    line("记录", format!("{} {}", when(d.recorded_at), d.recorded_by));
    line("简要案情", d.summary.clone());
    line(
        "承办单位",
        d.assigned_orgs
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join("、"),
    );
    if let Some(o) = &d.outcome {
        line(
            "结果",
            format!("{} ({})", o.text, if o.success { "成功" } else { "未成功" }),
        );
    }
    if d.unsent_changes > 0 {
        line("未同步", format!("{} 条变更 changes", d.unsent_changes));
    }
    if let Some(r) = &d.rejection {
        line("被中心拒绝", format!("{}: {}", r.code, r.message));
    }
    if !d.parties.is_empty() {
        s.push_str("\n当事人 parties\n");
        let rows: Vec<Vec<String>> = d
            .parties
            .iter()
            .map(|p| {
                vec![
                    label(CodeKind::PartyRole, &p.role),
                    p.name.clone(),
                    p.id_number.clone(),
                    p.phone.clone(),
                    p.address.clone(),
                ]
            })
            .collect();
        s.push_str(&table(&["角色", "姓名", "证件号码", "电话", "住址"], &rows));
        s.push('\n');
    }
    if !d.deadlines.is_empty() {
        s.push_str("\n期限 deadlines\n");
        let rows: Vec<Vec<String>> = d
            .deadlines
            .iter()
            .map(|x| {
                vec![
                    deadline_label(x.kind).to_owned(),
                    when(x.due_at),
                    warning_label(x.level).to_owned(),
                ]
            })
            .collect();
        s.push_str(&table(&["时限", "到期", "预警"], &rows));
        s.push('\n');
    }
    if !d.notes.is_empty() {
        s.push_str("\n工作记录 notes\n");
        for n in &d.notes {
            s.push_str(&format!(
                "  {}  {}  {}: {}\n",
                when(n.at),
                label(CodeKind::NoteKind, &n.kind),
                n.author,
                n.text
            ));
        }
    }
    if !d.timeline.is_empty() {
        s.push_str("\n流程 timeline\n");
        let rows: Vec<Vec<String>> = d
            .timeline
            .iter()
            .map(|t| {
                vec![
                    when(t.at),
                    label(CodeKind::EventKind, &t.kind),
                    format!("{} ({})", t.by_user, label(CodeKind::Role, &t.by_role)),
                    label(CodeKind::Status, t.status_after.as_code()),
                    match &t.superseded_reason {
                        Some(r) => format!("已失效 superseded: {r}"),
                        None => String::new(),
                    },
                ]
            })
            .collect();
        s.push_str(&table(&["时间", "步骤", "操作人", "之后状态", ""], &rows));
        s.push('\n');
    }
    s.trim_end().to_owned()
}

/// An aligned table; CJK characters count two columns.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(width(cell));
            }
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| {
        let line: Vec<String> = cells.zip(&widths).map(|(c, w)| pad(c, *w)).collect();
        line.join("  ").trim_end().to_owned()
    };
    let mut out = vec![render(&mut header.iter().copied())];
    for row in rows {
        out.push(render(&mut row.iter().map(String::as_str)));
    }
    out.join("\n")
}

fn pad(s: &str, to: usize) -> String {
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', to.saturating_sub(width(s))));
    out
}

fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        if width(&out) + char_width(c) > max.saturating_sub(1) {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Terminal columns of a character: two for CJK and full-width forms, one otherwise.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_chinese() {
        let t = table(
            &["状态", "标题"],
            &[
                vec!["草稿".into(), "拖欠工资".into()],
                vec!["DRAFT".into(), "x".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "状态   标题");
        assert_eq!(lines[1], "草稿   拖欠工资");
        assert_eq!(lines[2], "DRAFT  x");
    }

    #[test]
    fn parties_and_times() {
        let p = party("张三:respondent").unwrap();
        assert_eq!((p.name.as_str(), p.role.as_str()), ("张三", "RESPONDENT"));
        assert_eq!(party("李四").unwrap().role, "APPLICANT");
        // 2026-11-27T20:00Z is 04:00 on the 28th in Beijing.
        assert_eq!(when(1_795_809_600_000), "2026-11-28 04:00");
        assert_eq!(truncate("拖欠工资纠纷一案", 9), "拖欠工资…");
    }
}
