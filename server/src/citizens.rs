//! Citizens (群众) at the center's door, without an account: they file a dispute on a
//! county's public page, follow their case, and answer the follow-up survey; and they (and
//! staff) are told what is due through the [`crate::notify`] queue.
//!
//! Everything here is hostile until judged. A mobile number is proved by a one-time code
//! (six digits, [`CODE_VALID_MS`], [`CODE_TRIES`] tries, single use) before a case is filed
//! or shown. A filed case goes through the center's own intake (`center::intake`: record,
//! submit, high-risk alerts, auto-dispatch) with source `ONLINE` and is accepted at once,
//! so the applicant leaves with its number. Following a case needs its number, the mobile it
//! was filed with and a code sent to that mobile, and shows the public steps only; a number
//! and mobile that do not belong together answer exactly as a wrong code does. The request
//! rates (per address, per mobile) are the HTTP layer's (`http::public`).

use gridsync_core::case::{
    CaseDoc, CaseId, Category, FollowUpMethod, NewCase, PartyInput, PartyRole, Source,
};
use gridsync_core::workflow::{Action, Author, Role, Status, Tier};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::county_time::Stamp;
use crate::db::{self, accounts::Org};
use crate::error::{Error, Result};
use crate::notify::{self, Kind, Outgoing};
use crate::policy::Refusal;
use crate::state::Center;

pub use crate::notify::CODE_VALID_MS;

pub mod qr;

/// Wrong codes before a code is spent (a new one must be asked for).
pub const CODE_TRIES: i64 = 5;
/// Cases one mobile may file per county day.
pub const DAILY_FILINGS: i64 = 3;
/// The description's length, in characters (the core's summary limit applies too).
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// The applicant's name, in characters.
pub const MAX_NAME_CHARS: usize = 50;

/// What a code is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Filing a case.
    File,
    /// Following the case with this number.
    Follow(String),
}

impl Purpose {
    /// How the code is stored and counted.
    pub fn key(&self) -> String {
        match self {
            Purpose::File => "FILE".to_owned(),
            Purpose::Follow(no) => format!("FOLLOW:{no}"),
        }
    }
}

/// A mainland mobile number as typed (spaces, dashes, a +86 prefix allowed), or 400
/// `invalid_input` naming the field `mobile`.
pub fn mobile(raw: &str) -> Result<String, Refusal> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect::<String>();
    let digits = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .unwrap_or(&digits);
    let ok = digits.len() == 11
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.starts_with('1')
        && digits.as_bytes()[1] >= b'3';
    if ok {
        Ok(digits.to_owned())
    } else {
        Err(Refusal::invalid(
            "invalid_input",
            "mobile",
            "a mainland mobile number of 11 digits",
        ))
    }
}

/// The key a mobile is stored and counted under (the number itself is kept only with a
/// filed case, to tell its applicant).
pub fn mobile_hash(mobile: &str) -> String {
    hex::encode(Sha256::digest(format!("gridsync-mobile:{mobile}")))
}

fn code_hash(mobile_hash: &str, purpose: &Purpose, code: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "gridsync-code:{mobile_hash}:{}:{code}",
        purpose.key()
    )))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(format!("gridsync-survey:{token}")))
}

/// The county's center (tier county, its scope the six digits).
async fn county_center(center: &Center, county: &str) -> Result<Org, Refusal> {
    let found = center.db.orgs().await?.into_iter().find(|o| {
        o.kind == "CENTER" && o.tier == Tier::County && o.scope_prefix.as_deref() == Some(county)
    });
    found.ok_or_else(|| Refusal::NotFound("not_found", "no such county".into()))
}

/// A place of the county's organisation tree, as the public page offers it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Place {
    /// The village's 12-digit area code.
    pub area_code: String,
    pub name: String,
    /// The township (its center's name), for grouping.
    pub township: String,
}

/// A county's public page: its center's name and its villages. Names and area codes only
/// (no organisation ids, users or anything else of the tree).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct County {
    pub county: String,
    pub center: String,
    pub places: Vec<Place>,
    /// The categories a case may be filed under: (code, zh-CN label).
    pub categories: Vec<(String, String)>,
}

pub async fn county(center: &Center, county: &str) -> Result<County, Refusal> {
    if county.len() != 6 || !county.chars().all(|c| c.is_ascii_digit()) {
        return Err(Refusal::NotFound("not_found", "no such county".into()));
    }
    let owner = county_center(center, county).await?;
    let orgs = center.db.orgs().await?;
    let mut places: Vec<Place> = orgs
        .iter()
        .filter(|o| o.kind == "VILLAGE" && o.area_code.starts_with(county))
        .map(|v| Place {
            area_code: v.area_code.clone(),
            name: v.name.clone(),
            township: v
                .parent_id
                .as_deref()
                .and_then(|p| orgs.iter().find(|o| o.id == p))
                .map(|o| o.name.clone())
                .unwrap_or_default(),
        })
        .collect();
    places.sort_by(|a, b| a.area_code.cmp(&b.area_code));
    let categories = Category::ALL
        .iter()
        .map(|c| (c.as_code().to_owned(), c.label_zh().to_owned()))
        .collect();
    Ok(County {
        county: county.to_owned(),
        center: owner.name,
        places,
        categories,
    })
}

/// The county's filing page address, for its poster's QR code: for callers with
/// `Intake` whose scope holds the county (403 otherwise), 404 for an unknown county. The
/// address starts with the configured public URL, else `base` (the request's own).
pub async fn poster_url(
    center: &Center,
    caller: &crate::caller::Caller,
    county: &str,
    base: &str,
) -> Result<String, Refusal> {
    crate::policy::require(caller, crate::policy::Permission::Intake)?;
    if county.len() != 6 || !county.chars().all(|c| c.is_ascii_digit()) {
        return Err(Refusal::NotFound("not_found", "no such county".into()));
    }
    if !crate::policy::covers(caller, Some(county)) {
        return Err(Refusal::OutOfScope(
            "the county is outside your organisation's scope".into(),
        ));
    }
    county_center(center, county).await?;
    let configured = center.notify.config().public_url;
    let base = if configured.is_empty() {
        base
    } else {
        &configured
    };
    Ok(format!("{}/public/{county}", base.trim_end_matches('/')))
}

/// Sends a one-time code to `mobile` for `purpose`. To follow a case, the code goes out only
/// if the case was filed with that mobile; the caller's answer is the same either way.
pub async fn send_code(center: &Center, purpose: &Purpose, mobile: &str) -> Result<(), Refusal> {
    let hash = mobile_hash(mobile);
    if let Purpose::Follow(no) = purpose
        && !db::public::has_filing(&center.db, no, &hash).await?
    {
        return Ok(());
    }
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let now = center.clock.now().0;
    db::public::put_code(
        &center.db,
        &hash,
        &purpose.key(),
        &code_hash(&hash, purpose, &code),
        now,
        now + CODE_VALID_MS,
    )
    .await?;
    let mut params = serde_json::Map::new();
    params.insert("code".into(), code.into());
    let out = Outgoing {
        kind: Kind::Code,
        recipient: notify::mobile_pseudonym(&hash),
        target: mobile.to_owned(),
        case_id: None,
        params,
        dedup_key: None,
    };
    notify::queue(&center.db, &center.notify, &out, now).await?;
    Ok(())
}

/// Checks and spends a code: 400 `code_invalid` when wrong, expired or never sent; 400
/// `code_locked` after [`CODE_TRIES`] wrong tries (a new code must be asked for).
async fn spend_code(
    center: &Center,
    purpose: &Purpose,
    mobile: &str,
    code: &str,
) -> Result<(), Refusal> {
    let hash = mobile_hash(mobile);
    let key = purpose.key();
    let now = center.clock.now().0;
    let invalid = || Refusal::invalid("code_invalid", "code", "the code is wrong or has expired");
    let Some(stored) = db::public::code(&center.db, &hash, &key).await? else {
        return Err(invalid());
    };
    if now >= stored.expires_at || now < stored.created_at {
        return Err(invalid());
    }
    if stored.tries >= CODE_TRIES {
        return Err(Refusal::invalid(
            "code_locked",
            "code",
            "too many wrong codes; ask for a new one",
        ));
    }
    // Counted before it is compared: parallel guesses each spend a try.
    if !db::public::count_try(&center.db, &hash, &key, stored.tries).await? {
        return Err(invalid());
    }
    if code_hash(&hash, purpose, code.trim()) != stored.code_hash {
        return Err(invalid());
    }
    db::public::spend_code(&center.db, &hash, &key).await?;
    Ok(())
}

/// A filing from the public page, as parsed by the router.
#[derive(Clone, Debug)]
pub struct Filing {
    pub county: String,
    pub category: String,
    pub description: String,
    pub area_code: String,
    pub name: String,
    pub mobile: String,
    pub code: String,
}

/// The answer to a filing: the case number, at once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Filed {
    pub case_no: String,
    /// zh-CN: what happens next.
    pub next: String,
}

/// Files a case: every field judged (400 `invalid_input` naming it), the code (400
/// `code_invalid` / `code_locked`), the daily limit per mobile (409 `daily_limit`); then the
/// center's intake with source `ONLINE`, the applicant as its party, the dispatch rules,
/// and an acceptance (its number) if no rule dispatched it.
pub async fn file(center: &Center, f: &Filing) -> Result<Filed, Refusal> {
    let invalid = |field: &str, m: &str| Refusal::invalid("invalid_input", field, m);
    let owner = county_center(center, &f.county).await?;
    let category: Category = f
        .category
        .parse()
        .map_err(|_| invalid("category", "a known category code"))?;
    let description = f.description.trim();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid("description", "1 to 2000 characters"));
    }
    let name = f.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(invalid("name", "1 to 50 characters"));
    }
    let mobile = mobile(&f.mobile)?;
    let village = center
        .db
        .orgs()
        .await?
        .into_iter()
        .find(|o| o.kind == "VILLAGE" && o.area_code == f.area_code)
        .filter(|o| o.area_code.starts_with(&f.county));
    let Some(village) = village else {
        return Err(invalid("area_code", "a village of this county"));
    };
    let hash = mobile_hash(&mobile);
    // The code first: without it, nobody learns how often a number filed today.
    spend_code(center, &Purpose::File, &mobile, &f.code).await?;
    let now = center.clock.now();
    let day_start = center
        .county_time
        .start_of_day(center.county_time.date(now));
    if db::public::filings_since(&center.db, &hash, day_start).await? >= DAILY_FILINGS {
        return Err(Refusal::Conflict(
            "daily_limit",
            format!("at most {DAILY_FILINGS} cases a day from one mobile number"),
        ));
    }

    let title: String = format!("网上反映：{}", category.label_zh());
    let new = NewCase {
        id: None,
        area_code: village.area_code.clone(),
        grid_code: String::new(),
        source: Source::Online,
        title,
        summary: description.to_owned(),
        category,
        parties: vec![PartyInput {
            role: PartyRole::Applicant,
            name: name.to_owned(),
            phone: mobile.clone(),
            ..PartyInput::default()
        }],
        ..NewCase::default()
    };
    // The center's intake on the applicant's behalf: recorded and submitted by the county
    // center's desk (the `public` user is no account), then routed like any intake.
    let desk = Author::new("public", Role::Dispatcher, owner.id.clone());
    let id = crate::center::intake::intake(center, &new, &desk).await?;
    db::public::insert_filing(&center.db, &id.to_string(), &hash, &mobile, now.0).await?;
    let (id, doc) = crate::center::intake::route(center, id, &village.area_code).await?;
    let case_no = match doc.state(&center.limits, center.clock.now()).case_no {
        Some(no) => no,
        None => accept(center, id, &owner).await?,
    };
    tracing::info!(case = %id, "case filed online");
    Ok(Filed {
        case_no,
        next: "受理后将在1个工作日内联系您；凭案件编号和手机号可随时查询进度。".into(),
    })
}

/// Accepts a case filed online that no rule dispatched, as the center's system actor: the
/// applicant leaves with its number; a dispatcher dispatches it.
async fn accept(center: &Center, id: CaseId, owner: &Org) -> Result<String, Refusal> {
    let system = Author::new("system", Role::System, owner.id.clone());
    let county: String = owner.area_code.chars().take(6).collect();
    let step = Action::Accept {
        case_no: String::new(),
        tier: owner.tier,
    };
    crate::center::cases::act_all(center, id, &[step], Some(&county), &system).await?;
    let doc = crate::center::cases::load(center, id)
        .await?
        .ok_or(Error::NotFound("case"))?;
    doc.state(&center.limits, center.clock.now())
        .case_no
        .ok_or_else(|| Error::Conflict("the case was not numbered".into()).into())
}

/// A step of a case as its applicant sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicStep {
    /// `SUBMIT`, `ACCEPT`, `DISPATCH`, `SIGN_FOR`, `RESOLVE`, `FOLLOW_UP`, ...
    pub kind: String,
    /// zh-CN.
    pub label: String,
    pub at: Stamp,
}

/// A case as its applicant sees it: status and public steps; never notes, parties, staff
/// names or another case's data.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicCase {
    pub case_no: String,
    pub status: String,
    /// zh-CN.
    pub status_label: String,
    /// zh-CN.
    pub category: String,
    /// The organisations handling it now, by name.
    pub handled_by: Vec<String>,
    pub steps: Vec<PublicStep>,
    /// Resolved: whether the dispute was settled.
    pub resolved_success: Option<bool>,
    /// The agreement's terms (调解协议), when one was reached.
    pub agreement_terms: Option<String>,
}

/// The steps an applicant sees (the others are the center's internal work).
const PUBLIC_STEPS: &[&str] = &[
    "SUBMIT",
    "ACCEPT",
    "DISPATCH",
    "SIGN_FOR",
    "START_HANDLING",
    "RESOLVE",
    "RESOLVE_ON_SITE",
    "FOLLOW_UP",
    "REOPEN",
    "ARCHIVE",
];

/// The one refusal of [`follow`], whatever went wrong: no oracle of which cases exist or
/// which mobile filed them.
fn no_match() -> Refusal {
    Refusal::NotFound(
        "not_found",
        "no case with this number and mobile, or the code is wrong".into(),
    )
}

/// A case for its applicant: its number, the mobile it was filed with, a code sent to that
/// mobile for it. Anything wrong answers 404 `not_found`, the same for all.
pub async fn follow(
    center: &Center,
    case_no: &str,
    mobile_raw: &str,
    code: &str,
) -> Result<PublicCase, Refusal> {
    let Ok(mobile) = mobile(mobile_raw) else {
        return Err(no_match());
    };
    let case_no = case_no.trim();
    if case_no.is_empty() || case_no.len() > 64 {
        return Err(no_match());
    }
    match spend_code(center, &Purpose::Follow(case_no.to_owned()), &mobile, code).await {
        Ok(()) => {}
        Err(Refusal::Failed(e)) => return Err(e.into()),
        Err(_) => return Err(no_match()),
    }
    let Some(id) = db::public::filed_case(&center.db, case_no, &mobile_hash(&mobile)).await? else {
        return Err(no_match());
    };
    let id: CaseId = id.parse().map_err(|_| no_match())?;
    let doc = crate::center::cases::load(center, id)
        .await?
        .ok_or_else(no_match)?;
    Ok(public_view(center, &doc))
}

fn public_view(center: &Center, doc: &CaseDoc) -> PublicCase {
    let case = doc.case();
    let state = doc.state(&center.limits, center.clock.now());
    let steps = state
        .timeline
        .iter()
        .filter(|t| t.superseded.is_none() && PUBLIC_STEPS.contains(&t.kind.as_str()))
        .map(|t| PublicStep {
            kind: t.kind.clone(),
            label: t
                .kind
                .parse::<gridsync_core::workflow::EventKind>()
                .map(|k| k.label_zh().to_owned())
                .unwrap_or_default(),
            at: center.county_time.stamp(t.at.0),
        })
        .collect();
    PublicCase {
        case_no: state.case_no.clone().unwrap_or_default(),
        status: state.status.as_code().to_owned(),
        status_label: state.status.label_zh().to_owned(),
        category: case.category.label_zh().to_owned(),
        handled_by: state.assigned_orgs.iter().map(|o| o.name.clone()).collect(),
        steps,
        resolved_success: state.outcome.as_ref().map(|o| o.success),
        agreement_terms: state
            .agreement
            .as_ref()
            .map(|a| a.terms.clone())
            .filter(|t| !t.is_empty()),
    }
}

/// The applicant's answer to the follow-up survey.
#[derive(Clone, Debug)]
pub struct SurveyAnswer {
    pub token: String,
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub satisfaction: u8,
    pub agreement_kept: Option<bool>,
}

/// Takes the answer as the case's FOLLOW_UP step, once per token: 404 `not_found` for an
/// unknown or spent token, 400 `invalid_input` for a rating outside 1–5, 409 when the case
/// may not be followed up now. The step is authored by the center's `system` actor as a
/// return visit by SMS, marked in its note as the applicant's own answer.
pub async fn answer_survey(center: &Center, a: &SurveyAnswer) -> Result<(), Refusal> {
    if !(1..=5).contains(&a.satisfaction) {
        return Err(Refusal::invalid("invalid_input", "satisfaction", "1 to 5"));
    }
    let not_found = || Refusal::NotFound("not_found", "no such survey, or it was answered".into());
    if a.token.is_empty() || a.token.len() > 128 {
        return Err(not_found());
    }
    let hash = token_hash(&a.token);
    let Some(id) = db::public::survey_case(&center.db, &hash).await? else {
        return Err(not_found());
    };
    let id: CaseId = id.parse().map_err(|_| not_found())?;
    let now = center.clock.now().0;
    if !db::public::answer_survey(&center.db, &hash, now).await? {
        return Err(not_found());
    }
    let doc = crate::center::cases::load(center, id)
        .await?
        .ok_or_else(not_found)?;
    let area = doc.case().area_code;
    let taken = async {
        let owner = county_center(center, &area[..6.min(area.len())]).await?;
        let system = Author::new("system", Role::System, owner.id);
        let step = Action::FollowUp(gridsync_core::case::FollowUp {
            method: FollowUpMethod::Sms,
            satisfaction: a.satisfaction,
            agreement_performed: a.agreement_kept,
            note: "申请人在线回访（短信链接）/ answered by the applicant online".into(),
        });
        crate::center::cases::act(center, id, &step, &system)
            .await
            .map_err(Refusal::from)
    }
    .await;
    if let Err(e) = taken {
        db::public::unanswer_survey(&center.db, &hash).await?;
        return Err(match e {
            Refusal::Failed(Error::Core(gridsync_core::Error::InvalidTransition { .. })) => {
                Refusal::Conflict(
                    "invalid_transition",
                    "the case is not awaiting a follow-up".into(),
                )
            }
            other => other,
        });
    }
    Ok(())
}

/// One pass of the background work: the messages the workflow owes (applicants, handlers,
/// supervisors) are queued, then everything due is sent. Returns the messages delivered.
pub async fn tick(center: &Center) -> Result<usize> {
    if let Err(e) = watch_applicants(center).await {
        tracing::warn!(error = %e, "applicant messages not queued");
    }
    if let Err(e) = watch_warnings(center).await {
        tracing::warn!(error = %e, "staff messages not queued");
    }
    if let Err(e) = db::public::purge_codes(&center.db, center.clock.now().0).await {
        tracing::warn!(error = %e, "expired codes not purged");
    }
    notify::send_due(&center.db, &center.notify, center.clock.now().0).await
}

/// The background loop: [`tick`] every `NotifyConfig::every`, and at once when a message
/// is queued.
pub async fn run(center: Center) {
    loop {
        if let Err(e) = tick(&center).await {
            tracing::warn!(error = %e, "notification pass failed");
        }
        let every = center.notify.config().every;
        center.notify.idle(every).await;
    }
}

/// The applicant's messages, each once: accepted (the number), dispatched (to whom),
/// resolved, then the survey link (a fresh single-use token).
async fn watch_applicants(center: &Center) -> Result<()> {
    let now = center.clock.now().0;
    for w in db::public::watched(&center.db).await? {
        let Ok(status) = w.status.parse::<Status>() else {
            continue;
        };
        let mut due = Vec::new();
        let reached = |s: &[Status]| s.contains(&status);
        use Status as S;
        let accepted = [
            S::Accepted,
            S::Dispatched,
            S::Signed,
            S::InProgress,
            S::Escalated,
            S::Resolved,
            S::FollowedUp,
            S::Archived,
        ];
        let dispatched = &accepted[1..];
        let resolved = [S::Resolved, S::FollowedUp, S::Archived];
        if reached(&accepted) && w.case_no.is_some() {
            due.push(Kind::Accepted);
        }
        if reached(dispatched) {
            due.push(Kind::Dispatched);
        }
        if reached(&resolved) {
            due.push(Kind::Resolved);
            if status == S::Resolved {
                due.push(Kind::Survey);
            }
        }
        let mut notified = w.notified.clone();
        for kind in due {
            let tag = format!(",{},", kind.as_code());
            if notified.contains(&tag) {
                continue;
            }
            let mut params = serde_json::Map::new();
            params.insert(
                "case_no".into(),
                w.case_no.clone().unwrap_or_default().into(),
            );
            if kind == Kind::Dispatched {
                let id: Option<CaseId> = w.case_id.parse().ok();
                let doc = match id {
                    Some(id) => crate::center::cases::load(center, id).await?,
                    None => None,
                };
                let names = doc
                    .map(|d| {
                        d.state(&center.limits, center.clock.now())
                            .assigned_orgs
                            .iter()
                            .map(|o| o.name.clone())
                            .collect::<Vec<_>>()
                            .join("、")
                    })
                    .unwrap_or_default();
                params.insert("org".into(), names.into());
            }
            if kind == Kind::Survey {
                // The token is stored before its message is queued, once per case: a pass
                // racing this one (another process) finds it taken and queues nothing.
                let t = crate::auth::random_secret();
                if !db::public::set_survey(&center.db, &w.case_id, &token_hash(&t)).await? {
                    notified.push_str(&tag[1..]);
                    continue;
                }
                let base = center.notify.config().public_url;
                params.insert(
                    "link".into(),
                    format!("{}/public/survey#{t}", base.trim_end_matches('/')).into(),
                );
            }
            let out = Outgoing {
                kind,
                recipient: notify::mobile_pseudonym(&w.mobile_hash),
                target: w.mobile.clone(),
                case_id: Some(w.case_id.clone()),
                params,
                dedup_key: Some(format!("applicant:{}:{}", w.case_id, kind.as_code())),
            };
            notify::queue(&center.db, &center.notify, &out, now).await?;
            notified.push_str(&tag[1..]);
        }
        if notified != w.notified {
            db::public::set_notified(&center.db, &w.case_id, &notified).await?;
        }
    }
    Ok(())
}

/// Handlers' deadlines at yellow and red (the scanner's open warnings), each level once.
/// (A supervisor hears of automatic supervision from the scanner itself:
/// `notify::tell_supervisors`.)
async fn watch_warnings(center: &Center) -> Result<()> {
    let now = center.clock.now().0;
    for w in db::notifications::open_warnings(&center.db).await? {
        let kind = match (w.kind.as_str(), w.level.as_str()) {
            ("SIGN", "YELLOW") => Kind::SignYellow,
            ("SIGN", "RED") => Kind::SignRed,
            ("HANDLE", "YELLOW") => Kind::HandleYellow,
            ("HANDLE", "RED") => Kind::HandleRed,
            _ => continue,
        };
        let roles = [
            Role::DepartmentHandler.as_code(),
            Role::VillageMediator.as_code(),
        ];
        let users = db::notifications::users_of_orgs(&center.db, &w.orgs, &roles).await?;
        for user in users {
            let staff = notify::Staff {
                kind,
                why: "",
                user: &user,
                case_id: &w.case_id,
                case_no: &w.case_no,
            };
            notify::tell_staff(&center.db, &center.notify, &staff, now).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_normalised_or_refused() {
        assert_eq!(mobile("138 0000 5678").unwrap(), "13800005678");
        assert_eq!(mobile("+86 138-0000-5678").unwrap(), "13800005678");
        for bad in [
            "",
            "1380000567",
            "23800005678",
            "12800005678",
            "1380000567x",
            "138000056789",
        ] {
            assert_eq!(mobile(bad).unwrap_err().code(), "invalid_input", "{bad}");
        }
        assert_ne!(mobile_hash("13800005678"), mobile_hash("13800005679"));
        assert_eq!(mobile_hash("13800005678").len(), 64);
    }
}
