//! `/v1/openapi.json` describes every route the server serves, every reference resolves,
//! protected operations name the bearer scheme, and real answers have the documented shape.

use std::collections::BTreeSet;

use gridsync_tests::{Staff, TestServer};

const ROUTES: &[&str] = &[
    "/healthz",
    "/metrics",
    "/readyz",
    "/v1/audit",
    "/v1/audit/verify",
    "/v1/auth/login",
    "/v1/auth/logout",
    "/v1/auth/refresh",
    // The console's sign-in; its pages (`/`, `/console/...`) are not API operations and
    // are not in the document.
    "/v1/auth/session",
    "/v1/cases",
    "/v1/cases.csv",
    "/v1/cases/{id}",
    "/v1/cases/{id}/actions",
    "/v1/cases/{id}/conflicts/{field}",
    "/v1/cases/{id}/corrections",
    "/v1/cases/{id}/installments/{item}/paid",
    "/v1/cases/{id}/notes",
    "/v1/cases/{id}/suggestion",
    "/v1/cases/{id}/attachments/{sha256}",
    "/v1/cases/{id}/attachments/{sha256}/thumbnail",
    "/v1/cases/suggestion",
    "/v1/directory",
    "/v1/me/tasks",
    "/v1/dispatch-rules",
    "/v1/dispatch-rules/{id}",
    "/v1/events",
    "/v1/export/gbt31000.csv",
    "/v1/stats",
    "/v1/stats.csv",
    "/v1/stats/monthly.xlsx",
    "/v1/sync",
    "/v1/time-limits",
    "/v1/time-limits/{id}",
    "/v1/devices",
    "/v1/devices/{id}/revoke",
    "/v1/orgs",
    "/v1/orgs/{id}/move",
    "/v1/orgs/{id}/rename",
    "/v1/users",
    "/v1/users/{id}/assign",
    "/v1/users/{id}/disable",
    "/v1/users/{id}/password",
    "/v1/warnings",
    "/v1/quarantine",
    // The citizens' pages (no account) and the poster's QR code (staff).
    "/v1/public/cases",
    "/v1/public/codes",
    "/v1/public/counties/{county}",
    "/v1/public/counties/{county}/qr",
    "/v1/public/follow",
    "/v1/public/surveys",
    // Signed changes (issue 17): a case's evidence bundle, the center's public keys.
    "/v1/cases/{id}/bundle",
    "/.well-known/gridsync-signing-keys",
];

#[test]
fn the_openapi_document_covers_the_api() {
    let server = TestServer::start();
    let spec: serde_json::Value = ureq::get(&server.url("/v1/openapi.json"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        ROUTES.iter().copied().collect(),
        "every route documented, nothing else"
    );

    let text = spec.to_string();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for r in text.split("#/components/schemas/").skip(1) {
        let name: String = r
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        assert!(schemas.contains_key(&name), "unresolved reference {name}");
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = path.starts_with("/v1/auth")
                || (path.starts_with("/v1/public/") && !path.ends_with("/qr"))
                || [
                    "/healthz",
                    "/readyz",
                    "/metrics",
                    "/.well-known/gridsync-signing-keys",
                ]
                .contains(&path.as_str());
            assert_eq!(
                op["security"].is_array(),
                !public,
                "{method} {path}: security"
            );
            if path.starts_with("/v1/") {
                assert!(
                    op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("/ErrorBody")),
                    "{method} {path}: error body documented"
                );
            }
        }
    }

    // Real answers have the documented shapes.
    let required = |name: &str| -> Vec<String> {
        schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let login: serde_json::Value = agent
        .post(&server.url("/v1/auth/login"))
        .send_json(serde_json::json!({ "username": "chen.dispatch", "password": "gridsync-demo" }))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    for field in required("TokenResponse") {
        assert!(!login[&field].is_null(), "TokenResponse.{field}");
    }
    let chen = Staff::login(&server, "chen.dispatch");
    let (status, page) = chen.get("/v1/cases");
    assert_eq!(status, 200);
    for field in required("Page").iter().filter(|f| *f != "next") {
        assert!(!page[field].is_null(), "Page.{field}");
    }
    let (status, err) = chen.get("/v1/cases/not-a-case");
    assert_eq!(status, 404);
    for field in required("ErrorBody") {
        assert!(err[&field].is_string(), "ErrorBody.{field}");
    }
}
