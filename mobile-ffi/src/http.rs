//! The built-in blocking HTTP transport: `ureq` over rustls (no OpenSSL, so the Android and
//! iOS builds need no system TLS library), with the center's JSON error bodies mapped to
//! [`FieldError`]. Apps with their own HTTP stack skip this and use `prepare_sync` /
//! `apply_sync_response`.

use std::time::Duration;

use gridsync_core::protocol::{CONTENT_ENCODING, CONTENT_TYPE, DecodeLimits};

use crate::FieldError;

/// Timeouts for links that stall rather than fail: a 2G connection can take a minute to
/// move a big sync body, but a read or write that makes no progress for this long is dead.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP client. `ureq::Agent` is `Send + Sync` and pools connections, so one per
/// `FieldClient` serves every thread.
#[derive(Debug)]
pub(crate) struct Http {
    agent: ureq::Agent,
}

/// A response of any status, body read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// The center's error body.
#[derive(Debug, serde::Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

impl Http {
    pub(crate) fn new() -> Http {
        let config = ureq::Agent::config_builder()
            // Error statuses carry the center's `{"code","message"}`: read them ourselves.
            .http_status_as_error(false)
            // A redirected POST would lose its body; the center never redirects, so a 3xx
            // is reported (as `http_3xx`) rather than followed.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(STALL_TIMEOUT))
            .timeout_per_write(Some(STALL_TIMEOUT))
            .user_agent(concat!("gridsync-ffi/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: config.into(),
        }
    }

    /// `POST url` with a JSON body.
    pub(crate) fn post_json(
        &self,
        url: &str,
        body: &impl serde::Serialize,
    ) -> Result<Reply, FieldError> {
        let json = serde_json::to_vec(body).map_err(|e| FieldError::internal(e.to_string()))?;
        let response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(&json[..]);
        read(response)
    }

    /// `POST url` with a sync body (CBOR, zstd) and the bearer token.
    pub(crate) fn post_sync(
        &self,
        url: &str,
        access_token: &str,
        body: &[u8],
    ) -> Result<Reply, FieldError> {
        let response = self
            .agent
            .post(url)
            .header("Authorization", format!("Bearer {access_token}"))
            .header("Content-Type", CONTENT_TYPE)
            .header("Content-Encoding", CONTENT_ENCODING)
            .header("Accept", CONTENT_TYPE)
            .send(body);
        read(response)
    }
}

/// The answer to an evidence request: status, the upload headers, the body (small: an
/// error's JSON, or nothing).
#[derive(Debug)]
pub(crate) struct UploadReply {
    pub(crate) reply: Reply,
    /// `Upload-Offset`: bytes the center holds.
    pub(crate) offset: Option<u64>,
    /// `Upload-Complete: ?1`: held whole and checked.
    pub(crate) complete: bool,
}

impl Http {
    /// `HEAD` of an upload: how much of it the center holds.
    pub(crate) fn head_upload(&self, url: &str, token: &str) -> Result<UploadReply, FieldError> {
        let response = self
            .agent
            .head(url)
            .header("Authorization", format!("Bearer {token}"))
            .call();
        upload_reply(response)
    }

    /// `PATCH` of the next chunk of an upload, at `offset`.
    pub(crate) fn patch_upload(
        &self,
        url: &str,
        token: &str,
        offset: u64,
        chunk: &[u8],
    ) -> Result<UploadReply, FieldError> {
        let response = self
            .agent
            .patch(url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .send(chunk);
        upload_reply(response)
    }

    /// `GET` of evidence from byte `from` (a `Range` request when `from` > 0), streamed
    /// into `sink`. Returns the status and, for a success, the bytes written.
    pub(crate) fn download(
        &self,
        url: &str,
        token: &str,
        from: u64,
        sink: &mut dyn std::io::Write,
    ) -> Result<(Reply, u64), FieldError> {
        let mut request = self
            .agent
            .get(url)
            .header("Authorization", format!("Bearer {token}"));
        if from > 0 {
            request = request.header("Range", format!("bytes={from}-"));
        }
        let mut response = request.call().map_err(transport_error)?;
        let status = response.status().as_u16();
        if !matches!(status, 200 | 206) {
            return read(Ok(response)).map(|r| (r, 0));
        }
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let written = std::io::copy(&mut reader, sink)
            .map_err(|e| FieldError::network("network", format!("download cut off: {e}")))?;
        Ok((
            Reply {
                status,
                body: Vec::new(),
            },
            written,
        ))
    }
}

fn upload_reply(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<UploadReply, FieldError> {
    let response = response.map_err(transport_error)?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .map(str::to_owned)
    };
    let offset = header("Upload-Offset").and_then(|v| v.parse().ok());
    let complete = header("Upload-Complete").is_some_and(|v| v == "?1");
    let reply = read(Ok(response))?;
    Ok(UploadReply {
        reply,
        offset,
        complete,
    })
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error this non-success reply stands for.
    pub(crate) fn error(&self) -> FieldError {
        let parsed: Option<ErrorBody> = serde_json::from_slice(&self.body).ok();
        let (code, message) = parsed.map(|b| (b.code, b.message)).unwrap_or_default();
        FieldError::from_server(self.status, code, message)
    }

    /// The body of a success reply as JSON of `T`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, FieldError> {
        serde_json::from_slice(&self.body).map_err(|e| FieldError::Server {
            code: "unexpected_response".to_owned(),
            detail: format!("the center's answer is not the expected JSON: {e}"),
        })
    }
}

fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, FieldError> {
    let mut response = response.map_err(transport_error)?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        // The decoder refuses larger bodies anyway; stop reading there.
        .limit(DecodeLimits::default().max_body_bytes as u64 + 1)
        .read_to_vec()
        .map_err(transport_error)?;
    Ok(Reply { status, body })
}

fn transport_error(e: ureq::Error) -> FieldError {
    match e {
        ureq::Error::Timeout(_) => FieldError::network("timeout", format!("timed out: {e}")),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            FieldError::invalid_input("invalid_url", e.to_string())
        }
        ureq::Error::BodyExceedsLimit(_) => FieldError::Server {
            code: "body_too_large".to_owned(),
            detail: e.to_string(),
        },
        // Connection refused, DNS, TLS, resets: the center is not reachable from here now.
        _ => FieldError::network("network", e.to_string()),
    }
}

/// Checks a server URL (`http://` or `https://`, a host) and strips trailing slashes so
/// paths can be appended.
pub(crate) fn base_url(url: &str) -> Result<String, FieldError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            FieldError::invalid_input(
                "invalid_url",
                format!("{url:?} is not an http:// or https:// URL"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(FieldError::invalid_input(
            "invalid_url",
            format!("{url:?} names no host"),
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            base_url(" https://center.example/ ").unwrap(),
            "https://center.example"
        );
        assert_eq!(
            base_url("http://127.0.0.1:8080/gridsync").unwrap(),
            "http://127.0.0.1:8080/gridsync"
        );
        for bad in ["", "ftp://x", "127.0.0.1:8080", "http://", "https:///v1"] {
            assert_eq!(base_url(bad).unwrap_err().code(), "invalid_url", "{bad}");
        }
    }

    #[test]
    fn error_bodies() {
        let r = Reply {
            status: 401,
            body: br#"{"code":"token_expired","message":"expired"}"#.to_vec(),
        };
        assert_eq!(r.error().code(), "token_expired");
        let r = Reply {
            status: 502,
            body: b"<html>bad gateway</html>".to_vec(),
        };
        let e = r.error();
        assert_eq!(e.code(), "http_502");
        assert!(matches!(e, FieldError::Server { .. }));
    }

    #[test]
    fn a_closed_port_is_a_network_error() {
        let e = Http::new()
            .post_json("http://127.0.0.1:9/v1/auth/login", &serde_json::json!({}))
            .unwrap_err();
        assert_eq!(e.code(), "network");
        assert!(matches!(e, FieldError::Network { .. }));
    }
}
