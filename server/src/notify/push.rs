//! The push webhook channel: a content-free "sync now" signal per device, posted to the
//! app's push provider (or a bridge in front of it), which maps the device to its push
//! token. The body names the device and the signal only, nothing about any case:
//! `{"message_id": "…", "device_id": "…", "signal": "SYNC_NOW"}`.

/// A configured webhook.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub url: String,
    /// Sent as `Authorization: Bearer …` (never logged).
    pub token: Option<String>,
}

impl Webhook {
    pub(crate) async fn send(&self, id: &str, device: &str) -> Result<(), String> {
        let body = serde_json::json!({
            "message_id": id,
            "device_id": device,
            "signal": "SYNC_NOW",
        });
        super::post_json(self.url.clone(), self.token.clone(), body).await
    }
}
