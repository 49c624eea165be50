//! Convergence: replicas of one case, each an install with its own fresh Automerge actor,
//! edit it concurrently through typed operations only and exchange changes in any order.
//! Once every replica holds every change, all of them derive byte-identical case fields and
//! workflow state, and nothing anyone wrote is lost.
//!
//! The key race (DESIGN §4): a village grid worker resolves a case on the spot while the
//! county center, not yet aware of it, accepts and dispatches it. Whichever lands first in
//! the merged event order wins; the other steps are kept and shown as superseded.

mod common;

use std::collections::BTreeSet;

use automerge::ActorId;
use common::{DAY, DEPT_JUSTICE, DEPT_LABOUR, MIN, T0, VILLAGE, Who, new_case, party};
use gridsync_core::Error;
use gridsync_core::case::{
    Agreement, AgreementForm, CaseDoc, CaseEdit, Category, Difficulty, FollowUp, Installment,
    NoteKind, PartyEdit, PartyRole, RiskLevel, Timestamp,
};
use gridsync_core::workflow::{
    Action, EventKind, OrgRef, Status, SupersedeReason, SupervisionLevel, Tier, TimeLimits,
};
use proptest::prelude::*;

const CN: &str = "330182-20260301-000001";

// ---- the replicas ----------------------------------------------------------------------------

/// The installs holding the case, and who works on each.
const INSTALLS: [Who; 4] = [
    // the grid worker's phone in the village
    Who::Worker,
    // the county center's server (dispatchers, supervisors, the system actor)
    Who::Center,
    // the labour inspection handler's phone
    Who::Labour,
    // the village mediator's phone
    Who::Mediator,
];
const R: usize = INSTALLS.len();

struct Replica {
    doc: CaseDoc,
    who: Who,
}

/// A recorded, submitted case as the recorder saved it.
fn recorded(risk: RiskLevel) -> (Vec<u8>, String) {
    let worker = Who::Worker.author();
    let new = new_case(risk, &[], Difficulty::General);
    let mut doc = CaseDoc::record(&new, &worker, "phone-wang", T0, ActorId::random()).unwrap();
    let submit = doc
        .act(&Action::Submit {}, &worker, T0.plus_millis(MIN))
        .unwrap();
    (doc.save(), submit)
}

/// Each install opens the recorder's bytes with its own fresh actor.
fn replicas(bytes: &[u8]) -> Vec<Replica> {
    INSTALLS
        .iter()
        .map(|&who| Replica {
            doc: CaseDoc::load(bytes, ActorId::random()).unwrap(),
            who,
        })
        .collect()
}

/// Sends `from`'s changes to `to`: all of them, or only those after the heads of `to` that
/// `from` knows (what a sync exchange sends).
fn merge(reps: &mut [Replica], from: usize, to: usize, since_heads: bool) {
    let have: Vec<_> = if since_heads {
        let to_heads = reps[to].doc.heads();
        to_heads
            .into_iter()
            .filter(|h| reps[from].doc.has_change(h))
            .collect()
    } else {
        Vec::new()
    };
    let changes = reps[from].doc.changes_since(&have);
    reps[to].doc.apply_changes(&changes).unwrap();
}

// ---- typed operations ------------------------------------------------------------------------

fn org(id: &str) -> OrgRef {
    OrgRef::new(id, id)
}

fn dispatch(to: &[&str], tier: Tier) -> Action {
    Action::Dispatch {
        to: to.iter().map(|id| org(id)).collect(),
        assignee: None,
        tier,
        note: String::new(),
        auto: false,
    }
}

fn follow_up(satisfaction: u8) -> Action {
    Action::FollowUp(FollowUp {
        satisfaction,
        ..FollowUp::default()
    })
}

fn agreement() -> Agreement {
    Agreement {
        form: AgreementForm::Written,
        terms: "分两期支付".into(),
        signed_at: None,
        installments: vec![
            Installment {
                id: "i1".into(),
                due_at: T0.plus_millis(20 * DAY),
                amount: 900_000,
                paid_at: None,
            },
            Installment {
                id: "i2".into(),
                due_at: T0.plus_millis(40 * DAY),
                amount: 950_000,
                paid_at: None,
            },
        ],
    }
}

fn on_site() -> Action {
    Action::ResolveOnSite {
        outcome: "当场化解".into(),
        agreement: None,
    }
}

/// What each install may try, with the author: valid or not depending on the state, and a
/// few the permission table refuses outright.
fn repertoire(install: Who) -> Vec<(Who, Action)> {
    use SupervisionLevel as Sup;
    match install {
        Who::Worker => vec![
            (Who::Worker, on_site()),
            (Who::Worker, Action::Submit {}),
            (Who::Worker, follow_up(4)),
            (
                Who::Worker,
                Action::ResolveOnSite {
                    outcome: "口头协议".into(),
                    agreement: Some(agreement()),
                },
            ),
            (Who::Worker, dispatch(&[DEPT_LABOUR], Tier::County)),
        ],
        Who::Center => vec![
            (Who::Center, Action::accept(CN)),
            (Who::Center, dispatch(&[DEPT_LABOUR], Tier::County)),
            (
                Who::Center,
                dispatch(&[DEPT_LABOUR, DEPT_JUSTICE], Tier::County),
            ),
            (Who::Center, dispatch(&[DEPT_LABOUR], Tier::Township)),
            (Who::Center, dispatch(&[VILLAGE], Tier::Village)),
            (
                Who::Center,
                Action::Return {
                    reason: "信息不全".into(),
                },
            ),
            (
                Who::Center,
                Action::Void {
                    reason: "重复上报".into(),
                },
            ),
            (
                Who::Center,
                Action::ExtensionDecision {
                    approved: true,
                    days: 0,
                    note: String::new(),
                },
            ),
            (
                Who::Supervisor,
                Action::ExtensionDecision {
                    approved: false,
                    days: 0,
                    note: String::new(),
                },
            ),
            (
                Who::Center,
                Action::Reopen {
                    reason: "未履行".into(),
                },
            ),
            (Who::Center, Action::Archive {}),
            (Who::Center, follow_up(2)),
            (
                Who::Supervisor,
                Action::Supervise {
                    level: Sup::Normal,
                    note: String::new(),
                    auto: false,
                },
            ),
            (
                Who::Center,
                Action::Supervise {
                    level: Sup::Yellow,
                    note: String::new(),
                    auto: false,
                },
            ),
            (
                Who::System,
                Action::Supervise {
                    level: Sup::Red,
                    note: String::new(),
                    auto: true,
                },
            ),
            (
                Who::System,
                Action::Resolve {
                    success: true,
                    outcome: "x".into(),
                    agreement: None,
                },
            ),
        ],
        Who::Labour => vec![
            (Who::Labour, Action::SignFor {}),
            (
                Who::Labour,
                Action::SendBack {
                    reason: "不属本单位".into(),
                },
            ),
            (Who::Labour, Action::StartHandling {}),
            (
                Who::Labour,
                Action::ExtensionRequest {
                    days: 3,
                    reason: "鉴定".into(),
                },
            ),
            (
                Who::Labour,
                Action::Escalate {
                    to_tier: Tier::County,
                    reason: "提级".into(),
                },
            ),
            (
                Who::Labour,
                Action::Resolve {
                    success: true,
                    outcome: "调解成功".into(),
                    agreement: None,
                },
            ),
            (
                Who::Labour,
                Action::Resolve {
                    success: true,
                    outcome: "分期".into(),
                    agreement: Some(agreement()),
                },
            ),
            (
                Who::Labour,
                Action::Resolve {
                    success: false,
                    outcome: "调解不成".into(),
                    agreement: None,
                },
            ),
        ],
        _ => vec![
            (Who::Mediator, on_site()),
            (Who::Mediator, Action::SignFor {}),
            (Who::Mediator, Action::StartHandling {}),
            (
                Who::Mediator,
                Action::Escalate {
                    to_tier: Tier::Township,
                    reason: "调解不成".into(),
                },
            ),
            (
                Who::Mediator,
                Action::Resolve {
                    success: true,
                    outcome: "调解成功".into(),
                    agreement: None,
                },
            ),
            (Who::Mediator, follow_up(5)),
        ],
    }
}

const TITLES: [&str; 4] = [
    "张某拖欠务工人员工资",
    "李某与王某宅基地边界纠纷",
    "赵某相邻通行纠纷",
    "工程款结算争议",
];
const SUMMARIES: [&str; 3] = ["欠薪三个月。", "双方对界桩位置有争议，已现场查看。", ""];
const NOTES: [&str; 3] = [
    "入户走访，了解情况。",
    "电话联系被申请人，约定周三面谈。",
    "背靠背调解一次，申请人同意分期。",
];
const NAMES: [&str; 4] = ["王五", "赵六", "某建筑劳务公司", "孙七"];

#[derive(Clone, Debug)]
enum Op {
    /// A field edit: 0 title, 1 summary, 2 risk level, 3 category.
    Edit {
        r: usize,
        field: u8,
        v: u8,
    },
    AddParty {
        r: usize,
        v: u8,
    },
    EditParty {
        r: usize,
        p: u8,
        v: u8,
    },
    AddNote {
        r: usize,
        v: u8,
    },
    /// One step of the install's repertoire, valid now or not.
    Act {
        r: usize,
        a: u8,
    },
    /// The first step of the repertoire, from a random start, that is valid now.
    Advance {
        r: usize,
        start: u8,
    },
    Merge {
        from: usize,
        to: usize,
        since_heads: bool,
    },
}

/// What the ops wrote: every id must survive every merge.
#[derive(Default)]
struct Authored {
    events: BTreeSet<String>,
    notes: BTreeSet<String>,
    parties: BTreeSet<String>,
}

fn apply(reps: &mut [Replica], op: &Op, at: Timestamp, authored: &mut Authored) {
    match *op {
        Op::Edit { r, field, v } => {
            let v = usize::from(v);
            let edit = match field % 4 {
                0 => CaseEdit {
                    title: Some(TITLES[v % TITLES.len()].into()),
                    ..CaseEdit::default()
                },
                1 => CaseEdit {
                    summary: Some(SUMMARIES[v % SUMMARIES.len()].into()),
                    ..CaseEdit::default()
                },
                2 => CaseEdit {
                    risk_level: Some(RiskLevel::ALL[v % RiskLevel::ALL.len()]),
                    ..CaseEdit::default()
                },
                _ => CaseEdit {
                    category: Some(Category::ALL[v % Category::ALL.len()]),
                    ..CaseEdit::default()
                },
            };
            reps[r].doc.edit(&edit, at).unwrap();
        }
        Op::AddParty { r, v } => {
            let p = party(PartyRole::ThirdParty, NAMES[usize::from(v) % NAMES.len()]);
            authored
                .parties
                .insert(reps[r].doc.add_party(&p, at).unwrap());
        }
        Op::EditParty { r, p, v } => {
            let parties = reps[r].doc.case().parties;
            let id = parties[usize::from(p) % parties.len()].id.clone();
            let edit = if v % 2 == 0 {
                PartyEdit {
                    name: Some(NAMES[usize::from(v) % NAMES.len()].into()),
                    ..PartyEdit::default()
                }
            } else {
                PartyEdit {
                    phone: Some(format!("1390000{v:04}")),
                    ..PartyEdit::default()
                }
            };
            reps[r].doc.edit_party(&id, &edit, at).unwrap();
        }
        Op::AddNote { r, v } => {
            let by = reps[r].who.author();
            let text = NOTES[usize::from(v) % NOTES.len()];
            authored.notes.insert(
                reps[r]
                    .doc
                    .add_note(NoteKind::HomeVisit, text, &by, at)
                    .unwrap(),
            );
        }
        Op::Act { r, a } => {
            let steps = repertoire(reps[r].who);
            let (who, action) = &steps[usize::from(a) % steps.len()];
            try_step(&mut reps[r].doc, *who, action, at, authored);
        }
        Op::Advance { r, start } => {
            let steps = repertoire(reps[r].who);
            for i in 0..steps.len() {
                let (who, action) = &steps[(usize::from(start) + i) % steps.len()];
                if try_step(&mut reps[r].doc, *who, action, at, authored) {
                    break;
                }
            }
        }
        Op::Merge {
            from,
            to,
            since_heads,
        } => merge(reps, from, to, since_heads),
    }
}

/// Takes a step through `act`. A refusal is a permission or transition error and leaves the
/// document as it was.
fn try_step(
    doc: &mut CaseDoc,
    who: Who,
    action: &Action,
    at: Timestamp,
    authored: &mut Authored,
) -> bool {
    let heads = doc.heads();
    match doc.act(action, &who.author(), at) {
        Ok(id) => {
            authored.events.insert(id);
            true
        }
        Err(e) => {
            assert!(
                matches!(
                    e,
                    Error::NotPermitted { .. } | Error::InvalidTransition { .. }
                ),
                "unexpected error {e:?}"
            );
            assert_eq!(doc.heads(), heads, "a refused step wrote to the document");
            false
        }
    }
}

/// Everyone sends everything to one replica, which sends everything back.
fn merge_all(reps: &mut [Replica], order: &[usize]) {
    let hub = order[0];
    for &r in &order[1..] {
        merge(reps, r, hub, false);
    }
    for &r in &order[1..] {
        merge(reps, hub, r, true);
    }
}

/// All replicas derive the same bytes, and hold everything anyone wrote.
fn assert_converged(reps: &mut [Replica], authored: &Authored) {
    let limits = TimeLimits::default();
    let now = T0.plus_millis(45 * DAY);
    let view = |doc: &mut CaseDoc| {
        let mut heads = doc.heads();
        heads.sort();
        (
            serde_json::to_string(&doc.case()).unwrap(),
            serde_json::to_string(&doc.state(&limits, now)).unwrap(),
            doc.state(&limits, now).status,
            heads,
            format!("{:?}", doc.conflicts()),
        )
    };
    let first = view(&mut reps[0].doc);
    for (i, rep) in reps.iter_mut().enumerate().skip(1) {
        let other = view(&mut rep.doc);
        assert_eq!(other.0, first.0, "replica {i}: case fields differ");
        assert_eq!(other.1, first.1, "replica {i}: workflow state differs");
        assert_eq!(other.2, first.2, "replica {i}: status differs");
        assert_eq!(other.3, first.3, "replica {i}: heads differ");
        assert_eq!(other.4, first.4, "replica {i}: conflicts differ");
    }
    for (i, rep) in reps.iter_mut().enumerate() {
        assert!(
            rep.doc.missing_deps().is_empty(),
            "replica {i} waits for changes"
        );
        let case = rep.doc.case();
        let events: BTreeSet<String> = rep.doc.events().into_iter().map(|e| e.id).collect();
        assert_eq!(
            events, authored.events,
            "replica {i}: events lost or invented"
        );
        let notes: BTreeSet<String> = case.notes.into_iter().map(|n| n.id).collect();
        assert_eq!(notes, authored.notes, "replica {i}: notes lost or invented");
        let parties: BTreeSet<String> = case.parties.into_iter().map(|p| p.id).collect();
        assert!(
            parties.is_superset(&authored.parties),
            "replica {i}: parties lost"
        );
    }
}

// ---- the property ----------------------------------------------------------------------------

fn op_strategy() -> impl Strategy<Value = Op> {
    let r = 0..R;
    prop_oneof![
        3 => (r.clone(), any::<u8>(), any::<u8>()).prop_map(|(r, field, v)| Op::Edit { r, field, v }),
        1 => (r.clone(), any::<u8>()).prop_map(|(r, v)| Op::AddParty { r, v }),
        2 => (r.clone(), any::<u8>(), any::<u8>()).prop_map(|(r, p, v)| Op::EditParty { r, p, v }),
        2 => (r.clone(), any::<u8>()).prop_map(|(r, v)| Op::AddNote { r, v }),
        3 => (r.clone(), any::<u8>()).prop_map(|(r, a)| Op::Act { r, a }),
        4 => (r.clone(), any::<u8>()).prop_map(|(r, start)| Op::Advance { r, start }),
        5 => (r, 1..R, any::<bool>()).prop_map(|(from, k, since_heads)| Op::Merge {
            from,
            to: (from + k) % R,
            since_heads,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn typed_operations_converge(
        race_first in any::<bool>(),
        green in any::<bool>(),
        ops in prop::collection::vec(op_strategy(), 1..40),
        order in Just((0..R).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let (bytes, submit) = recorded(if green { RiskLevel::Green } else { RiskLevel::Yellow });
        let mut reps = replicas(&bytes);
        let mut authored = Authored::default();
        authored.events.insert(submit);
        let mut clock = 0;
        let mut tick = || { clock += 1; T0.plus_millis(MIN + clock * 10 * MIN) };
        if race_first {
            // The key conflict, before anyone has heard from anyone.
            try_step(&mut reps[0].doc, Who::Worker, &on_site(), tick(), &mut authored);
            try_step(&mut reps[1].doc, Who::Center, &Action::accept(CN), tick(), &mut authored);
            try_step(&mut reps[1].doc, Who::Center, &dispatch(&[DEPT_LABOUR], Tier::County), tick(), &mut authored);
        }
        for op in &ops {
            apply(&mut reps, op, tick(), &mut authored);
        }
        merge_all(&mut reps, &order);
        assert_converged(&mut reps, &authored);
    }
}

// ---- the race, deterministically -------------------------------------------------------------

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RaceOutcome {
    /// The worker's step came first: the center's acceptance and dispatch are superseded.
    ResolvedOnTheSpot,
    /// The center's steps came first: the worker's resolution is superseded.
    Dispatched,
}

/// Runs the race with the worker's and the center's installs under the given actors; a third
/// install (the handler's phone) hears of the two sides in the opposite order.
fn race(worker_actor: ActorId, center_actor: ActorId) -> RaceOutcome {
    let (bytes, _) = recorded(RiskLevel::Green);
    let mut worker = CaseDoc::load(&bytes, worker_actor).unwrap();
    let mut center = CaseDoc::load(&bytes, center_actor).unwrap();
    let mut handler = CaseDoc::load(&bytes, ActorId::random()).unwrap();
    let t = |m: i64| T0.plus_millis(m * MIN);

    // Offline in the village: resolved on the spot.
    let on_site_id = worker
        .act(&on_site(), &Who::Worker.author(), t(30))
        .unwrap();
    assert_eq!(
        worker.state(&TimeLimits::default(), t(30)).status,
        Status::SelfResolved
    );
    // Meanwhile at the center: accepted and dispatched.
    let accept_id = center
        .act(&Action::accept(CN), &Who::Center.author(), t(40))
        .unwrap();
    let dispatch_id = center
        .act(
            &dispatch(&[DEPT_LABOUR], Tier::County),
            &Who::Center.author(),
            t(41),
        )
        .unwrap();
    assert_eq!(
        center.state(&TimeLimits::default(), t(41)).status,
        Status::Dispatched
    );

    // The phone syncs with the server; the handler's phone hears from the center first.
    let from_worker = worker.changes_since(&[]);
    let from_center = center.changes_since(&[]);
    handler.apply_changes(&from_center).unwrap();
    handler.apply_changes(&from_worker).unwrap();
    center.apply_changes(&from_worker).unwrap();
    worker.apply_changes(&center.changes_since(&[])).unwrap();

    let limits = TimeLimits::default();
    let now = t(60);
    let json = |d: &CaseDoc| serde_json::to_string(&d.state(&limits, now)).unwrap();
    assert_eq!(json(&worker), json(&center));
    assert_eq!(json(&handler), json(&center));

    let state = center.state(&limits, now);
    let superseded: Vec<(&str, &SupersedeReason)> = state
        .superseded()
        .map(|t| (t.event_id.as_str(), t.superseded.as_ref().unwrap()))
        .collect();
    // No step was lost: all four events are in the timeline, in the same order everywhere.
    assert_eq!(state.timeline.len(), 4);
    match state.status {
        Status::SelfResolved => {
            let from = Status::SelfResolved;
            assert_eq!(
                superseded,
                [
                    (
                        accept_id.as_str(),
                        &SupersedeReason::InvalidTransition { from }
                    ),
                    (
                        dispatch_id.as_str(),
                        &SupersedeReason::InvalidTransition { from }
                    ),
                ]
            );
            assert_eq!(state.case_no, None);
            assert!(state.assigned_orgs.is_empty());
            RaceOutcome::ResolvedOnTheSpot
        }
        Status::Dispatched => {
            let from = Status::Dispatched;
            assert_eq!(
                superseded,
                [(
                    on_site_id.as_str(),
                    &SupersedeReason::InvalidTransition { from }
                )]
            );
            assert_eq!(state.case_no.as_deref(), Some(CN));
            assert_eq!(state.assigned_orgs, [org(DEPT_LABOUR)]);
            assert_eq!(state.outcome, None);
            RaceOutcome::Dispatched
        }
        other => panic!("the race ended in {other}, which is neither legal outcome"),
    }
}

#[test]
fn resolve_on_the_spot_races_accept_and_dispatch() {
    // Both sides' first operation has the same counter, so the actors decide the merged
    // order; swapping them must give the other legal outcome.
    let low = ActorId::from([0x01; 16]);
    let high = ActorId::from([0xfe; 16]);
    let a = race(low.clone(), high.clone());
    let b = race(high, low);
    let outcomes: BTreeSet<RaceOutcome> = [a, b].into_iter().collect();
    assert_eq!(
        outcomes.len(),
        2,
        "both legal outcomes occur, depending on the merged order"
    );
    // And with fresh random actors, as real installs have, it is always one of the two.
    for _ in 0..8 {
        race(ActorId::random(), ActorId::random());
    }
}

/// Superseded steps stay superseded after further work: once the dispatch won, the handler
/// takes the case on while the worker's resolution remains in the timeline.
#[test]
fn work_continues_after_the_race() {
    let low = ActorId::from([0x01; 16]);
    let high = ActorId::from([0xfe; 16]);
    for (w, c) in [(low.clone(), high.clone()), (high, low)] {
        let (bytes, _) = recorded(RiskLevel::Green);
        let mut worker = CaseDoc::load(&bytes, w).unwrap();
        let mut center = CaseDoc::load(&bytes, c).unwrap();
        let t = |m: i64| T0.plus_millis(m * MIN);
        worker
            .act(&on_site(), &Who::Worker.author(), t(30))
            .unwrap();
        center
            .act(&Action::accept(CN), &Who::Center.author(), t(40))
            .unwrap();
        center
            .act(
                &dispatch(&[DEPT_LABOUR], Tier::County),
                &Who::Center.author(),
                t(41),
            )
            .unwrap();
        center.apply_changes(&worker.changes_since(&[])).unwrap();
        let limits = TimeLimits::default();
        let labour = Who::Labour.author();
        let next = center.act(&Action::SignFor {}, &labour, t(90));
        match center.state(&limits, t(80)).status {
            Status::Signed => {
                assert!(next.is_ok());
                let kinds: Vec<_> = center
                    .state(&limits, t(90))
                    .superseded()
                    .map(|e| e.kind.clone())
                    .collect();
                assert_eq!(kinds, [EventKind::ResolveOnSite.as_code()]);
            }
            Status::SelfResolved => {
                // The resolution won: the department cannot sign for it, and the worker
                // follows up as usual.
                assert!(matches!(next, Err(Error::InvalidTransition { .. })));
                let by = Who::Worker.author();
                center.act(&follow_up(5), &by, t(100)).unwrap();
                assert_eq!(center.state(&limits, t(100)).status, Status::FollowedUp);
            }
            other => panic!("unexpected {other}"),
        }
    }
}
