//! Error messages in the caller's language (issue 13): `Accept-Language` picks Chinese or
//! English, the `code` never changes, and a Chinese answer keeps the English text (which
//! may name the field) as `detail`.

use gridsync_tests::{Staff, TestServer, agent};
use serde_json::{Value, json};

/// POSTs `body` to `path` with `Accept-Language: lang` → (status, Content-Language, body).
fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    lang: &str,
    body: &Value,
) -> (u16, String, Value) {
    let mut req = agent()
        .post(&server.url(path))
        .header("Accept-Language", lang)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut r = req.send(body.to_string()).expect("request");
    let language = r
        .headers()
        .get("content-language")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        r.status().as_u16(),
        language,
        r.body_mut().read_json().unwrap_or_default(),
    )
}

#[test]
fn errors_answer_in_chinese_or_english_with_the_same_code() {
    let server = TestServer::start();
    let wrong = json!({"username": "sun.town", "password": "not-the-password"});

    let (status, language, zh) = post(
        &server,
        "/v1/auth/login",
        None,
        "zh-CN,zh;q=0.9,en;q=0.8",
        &wrong,
    );
    assert_eq!((status, language.as_str()), (401, "zh-CN"));
    assert_eq!(zh["code"], "invalid_credentials");
    assert_eq!(zh["message"], "用户名或密码错误");
    assert!(zh["detail"].as_str().is_some_and(|d| !d.is_empty()), "{zh}");

    let (status, language, en) = post(
        &server,
        "/v1/auth/login",
        None,
        "en-US,en;q=0.9,zh;q=0.5",
        &wrong,
    );
    assert_eq!((status, language.as_str()), (401, "en"));
    assert_eq!(en["code"], "invalid_credentials");
    assert_eq!(
        en["message"], zh["detail"],
        "the English message, as the Chinese answer's detail"
    );
    assert!(en.get("detail").is_none(), "{en}");

    // A refusal naming a field: the Chinese sentence, and the field in the detail.
    let town = Staff::login(&server, "sun.town");
    let mut phone = gridsync_tests::Phone::login(&server.base_url(), "wang.grid", "lang");
    let id = phone.record("欠薪");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    let (status, _, body) = post(
        &server,
        &format!("/v1/cases/{id}/actions"),
        Some(&town.token),
        "zh-CN",
        &json!({"kind": "RETURN", "payload": {"reasn": "缺材料"}}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["code"], "invalid_action");
    assert_eq!(body["message"], "操作内容有误");
    assert!(body["detail"].as_str().unwrap().contains("reasn"), "{body}");

    // Every error path: the fallback route and a state the workflow refuses.
    let (status, _, body) = post(&server, "/v1/no-such-route", None, "zh", &json!({}));
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    assert_eq!(body["message"], "未找到");
    let (status, _, body) = post(
        &server,
        &format!("/v1/cases/{id}/actions"),
        Some(&town.token),
        "zh-CN",
        &json!({"kind": "ARCHIVE", "payload": {}}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    assert_eq!(body["message"], "案件当前状态不允许此操作");

    // No header: English.
    let mut r = agent()
        .post(&server.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .send(wrong.to_string())
        .unwrap();
    let body: Value = r.body_mut().read_json().unwrap();
    assert_eq!(body["message"], en["message"]);
}
