use gridsync_tests::TestServer;

#[test]
fn the_server_answers_health_checks_over_loopback() {
    let server = TestServer::start();
    let body: serde_json::Value = ureq::get(&server.url("/healthz"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["protocols"], serde_json::json!([1]));
}
