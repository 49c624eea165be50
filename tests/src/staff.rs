//! Center staff over the HTTP API: a web session (no device, no Automerge actor).

use crate::TestServer;

/// A signed-in member of the center's staff.
#[derive(Debug)]
pub struct Staff {
    pub token: String,
    pub base: String,
    pub agent: ureq::Agent,
}

impl Staff {
    /// Signs in as a demo user.
    pub fn login(server: &TestServer, username: &str) -> Staff {
        Self::login_at(&server.base_url(), username)
    }

    /// Signs in as a demo user at a server given by its base URL.
    pub fn login_at(base: &str, username: &str) -> Staff {
        let agent = crate::phone::agent();
        let v: serde_json::Value = agent
            .post(&format!("{base}/v1/auth/login"))
            .send_json(serde_json::json!({ "username": username, "password": gridsync_server::demo::DEMO_PASSWORD }))
            .expect("login request")
            .body_mut()
            .read_json()
            .expect("login answer");
        Staff {
            token: v["access_token"].as_str().unwrap_or_default().to_owned(),
            base: base.to_owned(),
            agent,
        }
    }

    /// `GET path` → (status, JSON body or null).
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let mut r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("request");
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or_default(),
        )
    }

    /// `GET path` → (status, the body's bytes).
    pub fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("request");
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_default();
        (status, body)
    }

    /// `POST path` with a JSON body → (status, JSON body or null).
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .expect("request");
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or_default(),
        )
    }

    /// `DELETE path` → status.
    pub fn delete(&self, path: &str) -> u16 {
        self.agent
            .delete(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("request")
            .status()
            .as_u16()
    }

    /// A workflow step on a case → (status, JSON body).
    pub fn act(
        &self,
        case: &str,
        kind: &str,
        payload: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.post(
            &format!("/v1/cases/{case}/actions"),
            &serde_json::json!({ "kind": kind, "payload": payload }),
        )
    }
}
