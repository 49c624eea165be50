use gridsync_tests::TestServer;

#[test]
fn health_readiness_and_metrics_answer() {
    let server = TestServer::start();
    let body: serde_json::Value = ureq::get(&server.url("/healthz"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["protocols"], serde_json::json!([1]));
    let ready: serde_json::Value = ureq::get(&server.url("/readyz"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(ready["status"], "ready");

    let mut phone = gridsync_tests::Phone::login(&server.base_url(), "wang.grid", "m-1");
    phone.record("欠薪");
    phone.sync().unwrap();
    let text = ureq::get(&server.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(text.contains("gridsync_syncs_total"), "{text}");
    assert!(text.contains("gridsync_sync_seconds_bucket"), "{text}");
    assert!(!text.contains("13812345678"), "no personal data in metrics");
}
