//! The one `Notifier`: messages to people (SMS) and "sync now" signals to phones (push),
//! each queued in `notifications` and sent by a background sender with retries.
//!
//! Channels are configured, not coded: SMS goes to an HTTP gateway ([`sms`]) or, for
//! development, to the log ([`log`]: kind, template and the recipient's pseudonym, never the
//! number, a name or a code); push goes to the app's push webhook ([`push`]) or the log.
//! Queuing is an insert: a workflow step never waits for a gateway, and a failing gateway
//! never fails a step. A message is recorded without its personal content: the number (or
//! device) and the template's values are held only until it is delivered or abandoned.
//! Failed sends are retried with backoff (10 s, 20 s, ... up to an hour; abandoned after
//! [`MAX_ATTEMPTS`], a one-time code after its validity).

pub mod log;
pub mod push;
pub mod sms;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::db::{self, Db};
use crate::error::Result;

/// Attempts before a message is abandoned.
pub const MAX_ATTEMPTS: i64 = 8;
/// A claimed message is not tried again by another sender for this long.
const LEASE_MS: i64 = 60_000;
/// Codes are useless after their validity: not retried past it.
pub const CODE_VALID_MS: i64 = 5 * 60_000;

/// What a message is about. Its code names the default template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A one-time code for the public pages.
    Code,
    /// To the applicant: the case was accepted (its number).
    Accepted,
    /// To the applicant: dispatched (to which organisation).
    Dispatched,
    /// To the applicant: resolved.
    Resolved,
    /// To the applicant: the follow-up survey's link.
    Survey,
    /// To a handler: a sign-for or handling deadline at yellow or red.
    SignYellow,
    SignRed,
    HandleYellow,
    HandleRed,
    /// To a supervisor: the case was supervised automatically.
    Supervised,
    /// To a phone: sync now (content-free).
    SyncNow,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Code,
        Kind::Accepted,
        Kind::Dispatched,
        Kind::Resolved,
        Kind::Survey,
        Kind::SignYellow,
        Kind::SignRed,
        Kind::HandleYellow,
        Kind::HandleRed,
        Kind::Supervised,
        Kind::SyncNow,
    ];

    pub fn as_code(self) -> &'static str {
        match self {
            Kind::Code => "CODE",
            Kind::Accepted => "ACCEPTED",
            Kind::Dispatched => "DISPATCHED",
            Kind::Resolved => "RESOLVED",
            Kind::Survey => "SURVEY",
            Kind::SignYellow => "SIGN_YELLOW",
            Kind::SignRed => "SIGN_RED",
            Kind::HandleYellow => "HANDLE_YELLOW",
            Kind::HandleRed => "HANDLE_RED",
            Kind::Supervised => "SUPERVISED",
            Kind::SyncNow => "SYNC_NOW",
        }
    }

    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_code() == code)
    }

    fn channel(self) -> &'static str {
        if self == Kind::SyncNow { "PUSH" } else { "SMS" }
    }
}

/// Where text messages go.
#[derive(Clone, Debug)]
pub enum SmsChannel {
    /// Development: the log, without personal data.
    Log,
    Gateway(sms::Gateway),
}

/// Where "sync now" signals go.
#[derive(Clone, Debug)]
pub enum PushChannel {
    /// Development: the log.
    Log,
    Webhook(push::Webhook),
}

/// The Notifier's configuration (`gridsync serve --sms-url ...`; the demo and tests: logs).
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    pub sms: SmsChannel,
    pub push: PushChannel,
    /// Template ids per kind (`ACCEPTED` → `SMS_123456`); a kind not named uses its code.
    pub templates: BTreeMap<Kind, String>,
    /// The public pages' address as people reach it (`https://jiufen.example.gov.cn`): the
    /// survey link in messages and the poster's QR code. Empty: the address of the request
    /// (the QR code) or a relative link (messages).
    pub public_url: String,
    /// How often the background pass runs (queued messages are also sent at once).
    pub every: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            sms: SmsChannel::Log,
            push: PushChannel::Log,
            templates: BTreeMap::new(),
            public_url: String::new(),
            every: Duration::from_secs(10),
        }
    }
}

impl NotifyConfig {
    pub fn template(&self, kind: Kind) -> String {
        self.templates
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| kind.as_code().to_owned())
    }
}

/// The shared handle (in [`crate::state::Center`]); cheap to clone. Its configuration may
/// be replaced while running (tests point it at their fake gateway).
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    config: RwLock<NotifyConfig>,
    wake: tokio::sync::Notify,
}

impl Notifier {
    pub fn new(config: NotifyConfig) -> Notifier {
        let n = Notifier::default();
        n.configure(config);
        n
    }

    pub fn configure(&self, config: NotifyConfig) {
        *self.inner.config.write().unwrap_or_else(|e| e.into_inner()) = config;
        self.wake();
    }

    pub fn config(&self) -> NotifyConfig {
        self.inner
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Tells the background sender there is work now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Waits for [`Notifier::wake`] or `every`, whichever comes first.
    pub async fn idle(&self, every: Duration) {
        tokio::select! {
            _ = self.inner.wake.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// A message to queue. `target` (a number, a device) and `params` (template values) are
/// personal or secret: held until sent, never logged.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub kind: Kind,
    /// `user:…`, `mobile:…` ([`mobile_pseudonym`]) or `device:…`.
    pub recipient: String,
    pub target: String,
    pub case_id: Option<String>,
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Once per key: a second message with the same key is not queued.
    pub dedup_key: Option<String>,
}

/// Queues a message and wakes the sender; `false` when its dedup key was queued before.
pub async fn queue(db: &Db, notifier: &Notifier, out: &Outgoing, now: i64) -> Result<bool> {
    let template = notifier.config().template(out.kind);
    let params = serde_json::Value::Object(out.params.clone()).to_string();
    let queued = db::notifications::insert(
        db,
        &db::notifications::NewNotification {
            dedup_key: out.dedup_key.as_deref(),
            kind: out.kind.as_code(),
            channel: out.kind.channel(),
            template: &template,
            recipient: &out.recipient,
            case_id: out.case_id.as_deref(),
            target: &out.target,
            params: &params,
        },
        now,
    )
    .await?;
    if queued {
        notifier.wake();
    }
    Ok(queued)
}

/// Sends what is due at `now`; returns how many were delivered. Each message is claimed
/// first, so several senders (processes) never send one twice at once.
pub async fn send_due(db: &Db, notifier: &Notifier, now: i64) -> Result<usize> {
    let config = notifier.config();
    let mut delivered = 0;
    for d in db::notifications::due(db, now, 100).await? {
        if !db::notifications::claim(db, &d, now + LEASE_MS).await? {
            continue;
        }
        let Some(kind) = Kind::from_code(&d.kind) else {
            db::notifications::failed(db, &d.id, "unknown kind", None, now).await?;
            continue;
        };
        let params: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&d.params).unwrap_or_default();
        // Nobody to send to (a staff member without a registered mobile): recorded, not
        // retried.
        if d.target.is_empty() && matches!(config.sms, SmsChannel::Gateway(_)) && d.channel == "SMS"
        {
            db::notifications::failed(db, &d.id, "no mobile number", None, now).await?;
            counted(kind, "abandoned");
            continue;
        }
        let sent = match (d.channel.as_str(), &config.sms, &config.push) {
            ("SMS", SmsChannel::Log, _) | ("PUSH", _, PushChannel::Log) => {
                log::sent(kind, &d.template, &d.recipient);
                Ok(())
            }
            ("SMS", SmsChannel::Gateway(g), _) => {
                g.send(kind, &d.id, &d.target, &d.template, &params).await
            }
            ("PUSH", _, PushChannel::Webhook(w)) => w.send(&d.id, &d.target).await,
            _ => Err("unknown channel".to_owned()),
        };
        let attempts = d.attempts + 1;
        match sent {
            Ok(()) => {
                db::notifications::delivered(db, &d.id, now).await?;
                counted(kind, "delivered");
                delivered += 1;
            }
            Err(error) => {
                let expired = kind == Kind::Code && now >= d.created_at + CODE_VALID_MS;
                let next = (attempts < MAX_ATTEMPTS && !expired).then(|| now + backoff(attempts));
                tracing::warn!(kind = kind.as_code(), recipient = %d.recipient, attempts, error = %error, abandoned = next.is_none(), "notification not delivered");
                db::notifications::failed(db, &d.id, &error, next, now).await?;
                counted(
                    kind,
                    if next.is_some() {
                        "retried"
                    } else {
                        "abandoned"
                    },
                );
            }
        }
    }
    Ok(delivered)
}

/// `gridsync_notifications_total{kind, result}` on `/metrics`.
fn counted(kind: Kind, result: &'static str) {
    metrics::counter!("gridsync_notifications_total", "kind" => kind.as_code(), "result" => result)
        .increment(1);
}

/// Queues a "sync now" signal for every active device of the users of `orgs` (a case was
/// dispatched to them), in the background: the caller's step has committed and never
/// waits for it.
pub fn wake_orgs(
    db: Db,
    notifier: Notifier,
    case_id: gridsync_core::case::CaseId,
    orgs: Vec<String>,
    now: i64,
) {
    tokio::spawn(async move {
        let devices = match db::notifications::devices_of_orgs(&db, &orgs).await {
            Ok(devices) => devices,
            Err(e) => {
                tracing::warn!(case = %case_id, error = %e, "could not queue sync signals");
                return;
            }
        };
        for device in devices {
            let out = Outgoing {
                kind: Kind::SyncNow,
                recipient: format!("device:{device}"),
                target: device,
                case_id: Some(case_id.to_string()),
                params: serde_json::Map::new(),
                dedup_key: None,
            };
            if let Err(e) = queue(&db, &notifier, &out, now).await {
                tracing::warn!(case = %case_id, error = %e, "could not queue a sync signal");
            }
        }
    });
}

/// A message to a staff member about a case.
#[derive(Clone, Debug)]
pub struct Staff<'a> {
    pub kind: Kind,
    /// What caused it, beside the kind (once per case, kind, cause and user).
    pub why: &'a str,
    pub user: &'a str,
    pub case_id: &'a str,
    pub case_no: &'a str,
}

/// Queues a message to a staff member, once; without a registered mobile it is recorded
/// and not sent (the log channel still logs it).
pub async fn tell_staff(db: &Db, notifier: &Notifier, s: &Staff<'_>, now: i64) -> Result<()> {
    let target = db::notifications::staff_mobile(db, s.user)
        .await?
        .unwrap_or_default();
    let mut params = serde_json::Map::new();
    params.insert("case_no".into(), s.case_no.into());
    let out = Outgoing {
        kind: s.kind,
        recipient: format!("user:{}", s.user),
        target,
        case_id: Some(s.case_id.to_owned()),
        params,
        dedup_key: Some(format!(
            "staff:{}:{}:{}:{}",
            s.case_id,
            s.kind.as_code(),
            s.why,
            s.user
        )),
    };
    queue(db, notifier, &out, now).await?;
    Ok(())
}

/// Tells the supervisors of the centers over `area` that the scanner supervised a case
/// (`why`: the deadline or installment), once each.
pub async fn tell_supervisors(
    db: &Db,
    notifier: &Notifier,
    area: &str,
    case_id: &str,
    why: &str,
    now: i64,
) -> Result<()> {
    let centers: Vec<String> = db
        .centers_over(area)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let role = gridsync_core::workflow::Role::Supervisor.as_code();
    let case_no = db::notifications::case_no(db, case_id)
        .await?
        .unwrap_or_default();
    for user in db::notifications::users_of_orgs(db, &centers, &[role]).await? {
        let staff = Staff {
            kind: Kind::Supervised,
            why,
            user: &user,
            case_id,
            case_no: &case_no,
        };
        tell_staff(db, notifier, &staff, now).await?;
    }
    Ok(())
}

/// The wait after `attempts` failed attempts: 10 s doubling, at most an hour.
pub fn backoff(attempts: i64) -> i64 {
    let doublings = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
    (10_000_i64 << doublings).min(3_600_000)
}

/// A mobile number as recorded: `mobile:` and 16 hex digits of its hash, never the number.
pub fn mobile_pseudonym(mobile_hash: &str) -> String {
    format!("mobile:{}", &mobile_hash[..mobile_hash.len().min(16)])
}

/// The HTTP client the channels share: short timeouts (a slow gateway delays only the
/// sender), HTTP status codes as errors.
fn agent() -> ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT
        .get_or_init(|| {
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into()
        })
        .clone()
}

/// Posts a JSON body on the blocking pool; the error names the status or the failure,
/// never the body.
async fn post_json(
    url: String,
    token: Option<String>,
    body: serde_json::Value,
) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let mut request = agent().post(&url);
        if let Some(token) = &token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        match request.send_json(&body) {
            Ok(_) => Ok(()),
            Err(ureq::Error::StatusCode(status)) => Err(format!("status {status}")),
            Err(ureq::Error::Timeout(_)) => Err("timeout".to_owned()),
            Err(e) => Err(format!("transport: {}", transport_kind(&e))),
        }
    })
    .await
    .unwrap_or_else(|e| Err(format!("sender task: {e}")))
}

/// A failure's kind, without the URL or body it may carry.
fn transport_kind(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Io(_) => "io",
        ureq::Error::ConnectionFailed => "connection failed",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::BadUri(_) => "bad url",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        let waits: Vec<i64> = (1..=10).map(backoff).collect();
        assert_eq!(
            waits,
            [
                10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000,
                3_600_000
            ]
        );
    }

    #[test]
    fn kinds_round_trip_and_templates_default_to_codes() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.as_code()), Some(k));
        }
        let mut c = NotifyConfig::default();
        assert_eq!(c.template(Kind::Accepted), "ACCEPTED");
        c.templates.insert(Kind::Accepted, "SMS_1".into());
        assert_eq!(c.template(Kind::Accepted), "SMS_1");
        assert_eq!(
            mobile_pseudonym("0123456789abcdef0123"),
            "mobile:0123456789abcdef"
        );
    }
}
