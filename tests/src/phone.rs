//! A phone for the tests: the core's `FieldStore` plus login and sync over real HTTP.

use gridsync_core::case::{CaseId, NewCase};
use gridsync_core::protocol::{CONTENT_ENCODING, CONTENT_TYPE};
use gridsync_core::store::{FieldStore, SyncReport};
use gridsync_core::workflow::{Author, Role};

/// An HTTP error answer: status and the stable `code` of its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for HttpError {}

/// A failed sync: the transport's answer as it came, a store error under status 0.
impl From<gridsync_core::store::SyncError<HttpError>> for HttpError {
    fn from(e: gridsync_core::store::SyncError<HttpError>) -> HttpError {
        match e {
            gridsync_core::store::SyncError::Transport(h) => h,
            gridsync_core::store::SyncError::Store(e) => HttpError {
                status: 0,
                code: e.code().into(),
                message: e.to_string(),
            },
        }
    }
}

/// A grid worker's phone.
#[derive(Debug)]
pub struct Phone {
    pub store: FieldStore,
    pub device_id: String,
    pub base_url: String,
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
    pub area_code: String,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

/// An HTTP client that hands back every status: error answers are data in these tests.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

impl Phone {
    /// A fresh install that signs in as `username` (demo password).
    pub fn login(base_url: &str, username: &str, device_id: &str) -> Phone {
        Self::try_login(
            base_url,
            username,
            gridsync_server::demo::DEMO_PASSWORD,
            device_id,
        )
        .expect("login")
    }

    pub fn try_login(
        base_url: &str,
        username: &str,
        password: &str,
        device_id: &str,
    ) -> Result<Phone, HttpError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store =
            FieldStore::open(dir.path().join("field.db"), device_id, &crate::test_key())
                .expect("open store");
        let agent = agent();
        let body = serde_json::json!({
            "username": username,
            "password": password,
            "device_id": device_id,
            "actor_ids": [store.actor_id().to_hex_string()],
            "signing_key": gridsync_core::store::hex(&store.signing_key()),
        });
        let v = post_json(&agent, &format!("{base_url}/v1/auth/login"), &body, None)?;
        let user = &v["user"];
        let role: Role = user["role"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .expect("role");
        store
            .set_identity(&Author::new(
                user["id"].as_str().unwrap_or_default(),
                role,
                user["org_id"].as_str().unwrap_or_default(),
            ))
            .expect("identity");
        Ok(Phone {
            store,
            device_id: device_id.to_owned(),
            base_url: base_url.to_owned(),
            access_token: v["access_token"].as_str().unwrap_or_default().to_owned(),
            refresh_token: v["refresh_token"].as_str().unwrap_or_default().to_owned(),
            user_id: user["id"].as_str().unwrap_or_default().to_owned(),
            area_code: user["area_code"].as_str().unwrap_or_default().to_owned(),
            agent,
            _dir: dir,
        })
    }

    /// Records a case in the phone's own village.
    pub fn record(&mut self, title: &str) -> CaseId {
        let new = NewCase {
            area_code: self.area_code.clone(),
            title: title.into(),
            summary: format!("{title}: 记录于离线状态 / recorded offline"),
            category: gridsync_core::case::Category::LabourWages,
            parties: vec![gridsync_core::case::PartyInput {
                name: "张建国".into(),
                id_number: "330182198805061234".into(),
                phone: "13812345678".into(),
                ..Default::default()
            }],
            ..NewCase::default()
        };
        self.store.record(&new).expect("record")
    }

    /// One sync exchange, raw: the request body in, the response body or an error out.
    pub fn post_sync(&self, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        post_sync(&self.agent, &self.base_url, &self.access_token, body)
    }

    /// Syncs as an app older than signatures would: the same requests with their
    /// signatures left out (protocol v1 without key 2).
    pub fn sync_unsigned(&mut self) -> Result<SyncReport, HttpError> {
        let (agent, base, token) = (&self.agent, &self.base_url, &self.access_token);
        self.store
            .sync_via(50, |body| {
                let limits = gridsync_core::protocol::DecodeLimits::default();
                let mut request = gridsync_core::protocol::SyncRequest::from_body(&body, &limits)
                    .expect("our own request decodes");
                request.push.iter_mut().for_each(|d| d.signatures.clear());
                post_sync(agent, base, token, request.to_body())
            })
            .map_err(HttpError::from)
    }

    /// Syncs until the center has nothing more.
    pub fn sync(&mut self) -> Result<SyncReport, HttpError> {
        let (agent, base, token) = (&self.agent, &self.base_url, &self.access_token);
        self.store
            .sync_via(50, |body| post_sync(agent, base, token, body))
            .map_err(HttpError::from)
    }
}

pub(crate) fn post_sync(
    agent: &ureq::Agent,
    base_url: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, HttpError> {
    {
        let mut resp = agent
            .post(&format!("{base_url}/v1/sync"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", CONTENT_TYPE)
            .header("Content-Encoding", CONTENT_ENCODING)
            .send(&body[..])
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(transport)?;
        if status == 200 {
            Ok(bytes)
        } else {
            Err(http_error(status, &bytes))
        }
    }
}

pub(crate) fn post_json(
    agent: &ureq::Agent,
    url: &str,
    body: &serde_json::Value,
    bearer: Option<&str>,
) -> Result<serde_json::Value, HttpError> {
    let mut req = agent.post(url).header("Content-Type", "application/json");
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body.to_string().as_bytes()).map_err(transport)?;
    let status = resp.status().as_u16();
    let bytes = resp.body_mut().read_to_vec().map_err(transport)?;
    if (200..300).contains(&status) {
        Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    } else {
        Err(http_error(status, &bytes))
    }
}

fn http_error(status: u16, body: &[u8]) -> HttpError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    HttpError {
        status,
        code: v["code"].as_str().unwrap_or("?").to_owned(),
        message: v["message"].as_str().unwrap_or_default().to_owned(),
    }
}

fn transport(e: ureq::Error) -> HttpError {
    HttpError {
        status: 0,
        code: "network".into(),
        message: e.to_string(),
    }
}
