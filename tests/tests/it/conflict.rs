//! Conflicting work converges: a grid worker resolves a case on the spot while offline, and
//! meanwhile the center accepts and dispatches it. After both sync, phone and center show
//! the same status, and the step that lost is kept, marked superseded.

use gridsync_core::case::RiskLevel;
use gridsync_core::workflow::{Action, Author, OrgRef, Role, Status, Tier, TimeLimits};
use gridsync_tests::{Phone, TestServer};

#[test]
fn resolve_on_the_spot_offline_versus_center_dispatch() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "conflict-phone");
    let id = phone.record("邻里噪音纠纷");
    phone
        .store
        .edit(
            id,
            &gridsync_core::case::CaseEdit {
                risk_level: Some(RiskLevel::Green),
                ..Default::default()
            },
        )
        .unwrap();
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();

    // Offline on the phone: resolved on the spot.
    phone
        .store
        .act(
            id,
            &Action::ResolveOnSite {
                outcome: "当场调解，双方握手言和".into(),
                agreement: None,
            },
        )
        .unwrap();
    assert_eq!(
        phone.store.case(id).unwrap().state.status,
        Status::SelfResolved
    );

    // Meanwhile at the center: accepted and dispatched.
    let center = Author::new("u-chen.dispatch", Role::Dispatcher, "330182-center");
    let st = &server.state;
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::accept("330182-20261128-000009"),
            &center,
        ))
        .unwrap();
    let to = OrgRef::new("330182101-judicial", "青溪司法所");
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::dispatch_to(to, Tier::Township),
            &center,
        ))
        .unwrap();

    let r = phone.sync().unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let now = server.state.clock.now();
    let limits = TimeLimits::default();
    let mine = phone.store.case(id).unwrap();
    let theirs = server
        .block_on(gridsync_server::center::cases::load(st, id))
        .unwrap()
        .unwrap()
        .state(&limits, now);
    assert_eq!(mine.state.status, theirs.status);
    assert_eq!(
        mine.state.timeline, theirs.timeline,
        "same merged log, same verdicts"
    );
    assert_eq!(mine.state.case_no, theirs.case_no);
    // One of the two legal outcomes, and the other side's step is visible as superseded.
    let superseded: Vec<&str> = theirs.superseded().map(|t| t.kind.as_str()).collect();
    match theirs.status {
        Status::SelfResolved => assert_eq!(superseded, ["ACCEPT", "DISPATCH"]),
        Status::Dispatched => assert_eq!(superseded, ["RESOLVE_ON_SITE"]),
        other => panic!("unexpected status {other}"),
    }
    // The projection the center's lists read agrees too.
    let projected: String = server.block_on(async {
        sqlx::query_scalar("SELECT status FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&st.db.pool())
            .await
            .unwrap()
    });
    assert_eq!(projected, theirs.status.as_code());
}
