//! The SMS gateway channel: one JSON POST per message to a configured URL.
//!
//! The body carries what the common Chinese SMS services ask for, under their own names,
//! so a small adapter (or the gateway's own template mapping) forwards it: Aliyun's SendSms
//! takes `PhoneNumbers`, `SignName`, `TemplateCode` and `TemplateParam` (a JSON object:
//! [`Body::template_param`]); Tencent Cloud's SendSms takes `PhoneNumberSet` (E.164),
//! `SignName`, `TemplateId` and `TemplateParamSet` (the values as a list, in the order of
//! their names, alphabetical: [`Body::template_param_set`]). Credentials go in `Authorization: Bearer …`; the
//! adapter signs the provider's request with its own keys. Any 2xx is delivered.
//!
//! ```json
//! {"message_id": "…", "kind": "ACCEPTED", "phone_number": "13800005678",
//!  "phone_number_e164": "+8613800005678", "sign_name": "示范县综治中心",
//!  "template_id": "SMS_123456", "template_param": {"case_no": "330182-20261205-000001"},
//!  "template_param_set": ["330182-20261205-000001"]}
//! ```

use serde::Serialize;

use super::Kind;

/// A configured gateway.
#[derive(Clone, Debug)]
pub struct Gateway {
    pub url: String,
    /// Sent as `Authorization: Bearer …` (never logged).
    pub token: Option<String>,
    /// The SMS signature (签名) registered with the provider.
    pub sign_name: String,
}

/// What the gateway receives.
#[derive(Debug, Serialize)]
pub struct Body<'a> {
    /// The queue's id: a gateway may drop repeats of one message.
    pub message_id: &'a str,
    pub kind: &'static str,
    pub phone_number: &'a str,
    pub phone_number_e164: String,
    pub sign_name: &'a str,
    pub template_id: &'a str,
    /// The template's values by name (Aliyun `TemplateParam`).
    pub template_param: &'a serde_json::Map<String, serde_json::Value>,
    /// The same values as strings, in the alphabetical order of their names (Tencent
    /// `TemplateParamSet`; an adapter reorders them if a template needs another order).
    pub template_param_set: Vec<String>,
}

impl Gateway {
    pub(crate) async fn send(
        &self,
        kind: Kind,
        id: &str,
        to: &str,
        template: &str,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        if to.is_empty() {
            return Err("no mobile number".to_owned());
        }
        let body = Body {
            message_id: id,
            kind: kind.as_code(),
            phone_number: to,
            phone_number_e164: format!("+86{to}"),
            sign_name: &self.sign_name,
            template_id: template,
            template_param: params,
            template_param_set: params
                .values()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
        };
        let body = serde_json::to_value(&body).map_err(|e| e.to_string())?;
        super::post_json(self.url.clone(), self.token.clone(), body).await
    }
}
