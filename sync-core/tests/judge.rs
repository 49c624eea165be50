//! The judge of pushed changes (`CaseDoc::judge`), as data: each row takes a real case (as
//! the center holds it: recorded on a phone, submitted, accepted, with a note and a party),
//! makes one change with the raw Automerge API the way a modified app could, and says what
//! the judge must answer. Each change is judged against the document at its own deps.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};
use gridsync_core::case::{CaseDoc, NewCase, NoteKind, PartyInput, Refusal, Timestamp, Writer};
use gridsync_core::workflow::{Action, Author, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Operation,
    Event,
    Value,
}

fn worker() -> Author {
    Author::new("u-wang", Role::GridWorker, "330182101201")
}

/// The center's copy of a case with history from a phone and the center, saved.
fn center_case() -> Vec<u8> {
    let new = NewCase {
        title: "拖欠工资".into(),
        area_code: "330182101201".into(),
        parties: vec![PartyInput {
            name: "张三".into(),
            ..PartyInput::default()
        }],
        ..NewCase::default()
    };
    let mut doc = CaseDoc::record(&new, &worker(), "phone-1", Timestamp(0), ActorId::random())
        .expect("record");
    doc.add_note(NoteKind::HomeVisit, "走访", &worker(), Timestamp(1))
        .unwrap();
    doc.act(&Action::Submit {}, &worker(), Timestamp(2))
        .unwrap();
    let center = Author::new("u-chen", Role::Dispatcher, "330182-center");
    let mut at_center = CaseDoc::load(&doc.save(), ActorId::random()).unwrap();
    at_center
        .act(
            &Action::accept("330182-20261128-000001"),
            &center,
            Timestamp(3),
        )
        .unwrap();
    at_center.save()
}

fn obj(d: &AutoCommit, key: &str) -> ObjId {
    d.get(ROOT, key).unwrap().expect(key).1
}

fn item(d: &AutoCommit, list: &str, i: usize) -> ObjId {
    let l = obj(d, list);
    d.get(&l, i).unwrap().expect("item").1
}

fn append_map(d: &mut AutoCommit, list: &str, at: usize, fields: &[(&str, ScalarValue)]) {
    let l = obj(d, list);
    let m = d.insert_object(&l, at, ObjType::Map).unwrap();
    for (k, v) in fields {
        d.put(&m, *k, v.clone()).unwrap();
    }
}

fn note(text: &str) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("id", "n-x".into()),
        ("kind", "HOME_VISIT".into()),
        ("author", "u-wang".into()),
        ("at", ScalarValue::Int(5)),
        ("text", text.into()),
    ]
}

fn event(kind: &str) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("id", "e-x".into()),
        ("kind", kind.into()),
        ("by_user", "u-wang".into()),
        ("by_role", "GRID_WORKER".into()),
        ("org", "330182101201".into()),
        ("at", ScalarValue::Int(5)),
        ("payload", r#"{"outcome":"当场化解"}"#.into()),
    ]
}

type Edit = fn(&mut AutoCommit);

/// (what, who, the edit, what the judge says)
fn rows() -> Vec<(&'static str, Role, Edit, Expect)> {
    vec![
        (
            "edit the title",
            Role::GridWorker,
            |d| d.put(ROOT, "title", "欠薪").unwrap(),
            Expect::Ok,
        ),
        (
            "append a co-handler's feedback (协办意见) from a department's phone",
            Role::DepartmentHandler,
            |d| {
                let n = d.length(obj(d, "events"));
                let fields = vec![
                    ("id", "e-fb".into()),
                    ("kind", "CO_HANDLING_FEEDBACK".into()),
                    ("by_user", "u-qian".into()),
                    ("by_role", "DEPARTMENT_HANDLER".into()),
                    ("org", "dept-justice".into()),
                    ("at", ScalarValue::Int(5)),
                    ("payload", r#"{"opinion":"建议先行支付令"}"#.into()),
                ];
                append_map(d, "events", n, &fields)
            },
            Expect::Ok,
        ),
        (
            "alter a co-handler's feedback after it was appended",
            Role::DepartmentHandler,
            |d| {
                let e = item(d, "events", 0);
                d.put(&e, "payload", r#"{"opinion":"改口"}"#).unwrap()
            },
            Expect::Event,
        ),
        (
            "append a note",
            Role::GridWorker,
            |d| {
                let n = d.length(obj(d, "notes"));
                append_map(d, "notes", n, &note("再次走访"))
            },
            Expect::Ok,
        ),
        (
            "append two notes in one change",
            Role::GridWorker,
            |d| {
                let n = d.length(obj(d, "notes"));
                append_map(d, "notes", n, &note("一"));
                append_map(d, "notes", n + 1, &note("二"));
            },
            Expect::Ok,
        ),
        (
            "add a risk flag",
            Role::GridWorker,
            |d| {
                let f = obj(d, "risk_flags");
                d.put(&f, "REPEAT", true).unwrap()
            },
            Expect::Ok,
        ),
        (
            "correct a party's phone",
            Role::GridWorker,
            |d| {
                let p = item(d, "parties", 0);
                d.put(&p, "phone", "13800000000").unwrap()
            },
            Expect::Ok,
        ),
        (
            "append a party",
            Role::DepartmentHandler,
            |d| {
                let n = d.length(obj(d, "parties"));
                append_map(
                    d,
                    "parties",
                    n,
                    &[
                        ("id", "p-x".into()),
                        ("name", "李四".into()),
                        ("role", "RESPONDENT".into()),
                    ],
                )
            },
            Expect::Ok,
        ),
        (
            "a new location",
            Role::GridWorker,
            |d| {
                let l = d.put_object(ROOT, "location", ObjType::Map).unwrap();
                d.put(&l, "lat", 30.1).unwrap();
                d.put(&l, "lon", 119.9).unwrap();
            },
            Expect::Ok,
        ),
        (
            "delete the acceptance",
            Role::GridWorker,
            |d| {
                let e = obj(d, "events");
                d.delete(&e, 1).unwrap()
            },
            Expect::Event,
        ),
        (
            "backdate an event",
            Role::GridWorker,
            |d| {
                let e = item(d, "events", 0);
                d.put(&e, "at", 0).unwrap()
            },
            Expect::Event,
        ),
        (
            "insert an event before the acceptance",
            Role::GridWorker,
            |d| append_map(d, "events", 1, &event("RESOLVE_ON_SITE")),
            Expect::Event,
        ),
        (
            "insert an event at the head",
            Role::GridWorker,
            |d| append_map(d, "events", 0, &event("RESOLVE_ON_SITE")),
            Expect::Event,
        ),
        (
            "overwrite an event with a scalar",
            Role::GridWorker,
            |d| {
                let e = obj(d, "events");
                d.put(&e, 0, "gone").unwrap()
            },
            Expect::Event,
        ),
        (
            "an event with an unknown key",
            Role::GridWorker,
            |d| {
                let n = d.length(obj(d, "events"));
                let mut fields = event("SUBMIT");
                fields.push(("admin", true.into()));
                append_map(d, "events", n, &fields)
            },
            Expect::Event,
        ),
        (
            "rewrite a note",
            Role::GridWorker,
            |d| {
                let n = item(d, "notes", 0);
                d.put(&n, "text", "篡改").unwrap()
            },
            Expect::Operation,
        ),
        (
            "delete a note",
            Role::GridWorker,
            |d| {
                let n = obj(d, "notes");
                d.delete(&n, 0).unwrap()
            },
            Expect::Operation,
        ),
        (
            "delete a party",
            Role::GridWorker,
            |d| {
                let n = obj(d, "parties");
                d.delete(&n, 0).unwrap()
            },
            Expect::Operation,
        ),
        (
            "change a party's id",
            Role::GridWorker,
            |d| {
                let p = item(d, "parties", 0);
                d.put(&p, "id", "p-other").unwrap()
            },
            Expect::Operation,
        ),
        (
            "a note in another's name",
            Role::GridWorker,
            |d| {
                let n = d.length(obj(d, "notes"));
                let mut fields = note("冒名");
                fields[2] = ("author", "u-chen".into());
                append_map(d, "notes", n, &fields)
            },
            Expect::Operation,
        ),
        (
            "replace the event list",
            Role::GridWorker,
            |d| {
                d.put_object(ROOT, "events", ObjType::List).unwrap();
            },
            Expect::Operation,
        ),
        (
            "set time limits",
            Role::GridWorker,
            |d| {
                let t = d.put_object(ROOT, "time_limits", ObjType::Map).unwrap();
                d.put(&t, "accept", 1).unwrap();
            },
            Expect::Operation,
        ),
        (
            "delete the summary",
            Role::GridWorker,
            |d| d.delete(ROOT, "summary").unwrap(),
            Expect::Operation,
        ),
        (
            "rewrite the case id",
            Role::GridWorker,
            |d| d.put(ROOT, "id", "x").unwrap(),
            Expect::Operation,
        ),
        (
            "rewrite who recorded it",
            Role::GridWorker,
            |d| d.put(ROOT, "recorded_by", "u-x").unwrap(),
            Expect::Operation,
        ),
        (
            "an unknown key",
            Role::GridWorker,
            |d| d.put(ROOT, "owner", "me").unwrap(),
            Expect::Operation,
        ),
        (
            "a Text title (a JavaScript string)",
            Role::GridWorker,
            |d| {
                let t = d.put_object(ROOT, "title", ObjType::Text).unwrap();
                d.splice_text(&t, 0, 0, "文本").unwrap();
            },
            Expect::Operation,
        ),
        (
            "an integer title",
            Role::GridWorker,
            |d| d.put(ROOT, "title", 7).unwrap(),
            Expect::Operation,
        ),
        (
            "a counter",
            Role::GridWorker,
            |d| {
                d.put(ROOT, "people_involved", ScalarValue::counter(1))
                    .unwrap()
            },
            Expect::Operation,
        ),
        (
            "a 2,000,000-character title",
            Role::GridWorker,
            |d| d.put(ROOT, "title", "长".repeat(2_000_000)).unwrap(),
            Expect::Value,
        ),
        (
            "an unknown category",
            Role::GridWorker,
            |d| d.put(ROOT, "category", "BRIBERY").unwrap(),
            Expect::Value,
        ),
        (
            "a bad area code",
            Role::GridWorker,
            |d| d.put(ROOT, "area_code", "33").unwrap(),
            Expect::Value,
        ),
        (
            "a negative amount",
            Role::GridWorker,
            |d| d.put(ROOT, "amount_involved", -5).unwrap(),
            Expect::Value,
        ),
        (
            "an unknown risk flag",
            Role::GridWorker,
            |d| {
                let f = obj(d, "risk_flags");
                d.put(&f, "VIP", true).unwrap()
            },
            Expect::Value,
        ),
        (
            "a note too long",
            Role::GridWorker,
            |d| {
                let n = d.length(obj(d, "notes"));
                let long = "字".repeat(10_001);
                let mut fields = note("");
                fields[4] = ("text", long.as_str().into());
                append_map(d, "notes", n, &fields)
            },
            Expect::Value,
        ),
        (
            "a supervisor edits the title",
            Role::Supervisor,
            |d| d.put(ROOT, "title", "改").unwrap(),
            Expect::Operation,
        ),
        (
            "append a back-to-back session held with a party",
            Role::VillageMediator,
            |d| {
                let n = d.length(obj(d, "notes"));
                let mut fields = note("背靠背：申请人同意分两期");
                fields[1] = ("kind", "MEDIATION_BACK_TO_BACK".into());
                fields.push(("party", "p-1".into()));
                append_map(d, "notes", n, &fields)
            },
            Expect::Ok,
        ),
        (
            "a note's party that is not a string",
            Role::VillageMediator,
            |d| {
                let n = d.length(obj(d, "notes"));
                let mut fields = note("背靠背");
                fields.push(("party", ScalarValue::Int(1)));
                append_map(d, "notes", n, &fields)
            },
            Expect::Operation,
        ),
        (
            "tie an existing note to a party afterwards",
            Role::VillageMediator,
            |d| {
                let n = item(d, "notes", 0);
                d.put(&n, "party", "p-1").unwrap()
            },
            Expect::Operation,
        ),
        (
            "a mediation record (调解笔录) of an unknown kind code",
            Role::VillageMediator,
            |d| {
                let n = d.length(obj(d, "notes"));
                let mut fields = note("笔录");
                fields[1] = ("kind", "MEDIATION_MINUTES".into());
                append_map(d, "notes", n, &fields)
            },
            Expect::Value,
        ),
        (
            "a mediation record (调解笔录)",
            Role::DepartmentHandler,
            |d| {
                let n = d.length(obj(d, "notes"));
                let mut fields = note("笔录");
                fields[1] = ("kind", "MEDIATION_RECORD".into());
                append_map(d, "notes", n, &fields)
            },
            Expect::Ok,
        ),
        (
            "settle a conflicting category by writing it again",
            Role::Dispatcher,
            |d| d.put(ROOT, "category", "LABOUR_WAGES").unwrap(),
            Expect::Ok,
        ),
        (
            "a department handler overwrites the category (fields are not theirs)",
            Role::DepartmentHandler,
            |d| d.put(ROOT, "category", "LABOUR_WAGES").unwrap(),
            Expect::Operation,
        ),
        (
            "a department handler records a payment",
            Role::DepartmentHandler,
            |d| {
                let p = obj(d, "payments");
                d.put(&p, "i-1", ScalarValue::Int(7)).unwrap()
            },
            Expect::Ok,
        ),
        (
            "a supervisor records a payment",
            Role::Supervisor,
            |d| {
                let p = obj(d, "payments");
                d.put(&p, "i-1", ScalarValue::Int(7)).unwrap()
            },
            Expect::Operation,
        ),
        (
            "a supervisor appends a note",
            Role::Supervisor,
            |d| {
                let n = d.length(obj(d, "notes"));
                append_map(d, "notes", n, &note("督办意见"))
            },
            Expect::Ok,
        ),
    ]
}

fn judged(saved: &[u8], role: Role, edit: Edit) -> Result<(), Refusal> {
    let mut raw = AutoCommit::load(saved)
        .unwrap()
        .with_actor(ActorId::random());
    edit(&mut raw);
    let change: Change = raw.get_last_local_change().expect("a change").clone();
    let mut center = CaseDoc::load(saved, ActorId::random()).unwrap();
    center.judge(&change, &Writer::new("u-wang", role))
}

#[test]
fn each_operation_is_judged_as_the_table_says() {
    let saved = center_case();
    let mut wrong = Vec::new();
    for (what, role, edit, expect) in rows() {
        let got = match judged(&saved, role, edit) {
            Ok(()) => Expect::Ok,
            Err(Refusal::Operation(_)) => Expect::Operation,
            Err(Refusal::Event(_)) => Expect::Event,
            Err(Refusal::Value(_)) => Expect::Value,
            Err(Refusal::Malformed(m)) => panic!("{what}: malformed: {m}"),
        };
        if got != expect {
            wrong.push(format!(
                "{what}: expected {expect:?}, got {got:?} ({:?})",
                judged(&saved, role, edit).err()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_append_after_what_the_author_saw_stands_beside_a_concurrent_one() {
    let saved = center_case();
    // The phone appends a note without having seen the center's newer note.
    let mut phone = AutoCommit::load(&saved)
        .unwrap()
        .with_actor(ActorId::random());
    let n = phone.length(obj(&phone, "notes"));
    append_map(&mut phone, "notes", n, &note("手机上的记录"));
    let change = phone.get_last_local_change().unwrap().clone();

    let mut center = CaseDoc::load(&saved, ActorId::random()).unwrap();
    let center_author = Author::new("u-chen", Role::Dispatcher, "330182-center");
    center
        .add_note(
            NoteKind::MediationFaceToFace,
            "中心的记录",
            &center_author,
            Timestamp(9),
        )
        .unwrap();
    // Judged at the change's deps: the last note it had seen is the right predecessor.
    assert_eq!(
        center.judge(&change, &Writer::new("u-wang", Role::GridWorker)),
        Ok(())
    );
    center.apply_parsed(vec![change]).unwrap();
    let texts: Vec<String> = center.case().notes.into_iter().map(|n| n.text).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts.contains(&"手机上的记录".to_owned()));
    assert!(texts.contains(&"中心的记录".to_owned()));
}

#[test]
fn an_append_after_an_element_that_is_no_longer_last_is_refused() {
    // The author had seen two notes and inserts between them.
    let mut doc = AutoCommit::load(&center_case())
        .unwrap()
        .with_actor(ActorId::random());
    let n = doc.length(obj(&doc, "notes"));
    append_map(&mut doc, "notes", n, &note("第二条"));
    let saved = doc.save();
    let change = {
        let mut d = AutoCommit::load(&saved)
            .unwrap()
            .with_actor(ActorId::random());
        append_map(&mut d, "notes", 1, &note("插队"));
        d.get_last_local_change().unwrap().clone()
    };
    let mut center = CaseDoc::load(&saved, ActorId::random()).unwrap();
    assert!(matches!(
        center.judge(&change, &Writer::new("u-wang", Role::GridWorker)),
        Err(Refusal::Operation(_))
    ));
}

#[test]
fn a_case_is_recorded_only_by_its_signed_in_author() {
    let new = NewCase {
        title: "邻里纠纷".into(),
        area_code: "330182101201".into(),
        ..NewCase::default()
    };
    let mut phone =
        CaseDoc::record(&new, &worker(), "phone-1", Timestamp(0), ActorId::random()).unwrap();
    let first = Change::from_bytes(phone.changes_since(&[]).remove(0)).unwrap();
    let mut center = CaseDoc::empty(phone.id(), ActorId::random());
    assert_eq!(
        center.judge(&first, &Writer::new("u-wang", Role::GridWorker)),
        Ok(())
    );
    assert!(matches!(
        center.judge(&first, &Writer::new("u-zhao", Role::GridWorker)),
        Err(Refusal::Operation(_))
    ));
    // Under another case's id: refused.
    let mut other = CaseDoc::empty(gridsync_core::case::CaseId::new_random(), ActorId::random());
    assert!(matches!(
        other.judge(&first, &Writer::new("u-wang", Role::GridWorker)),
        Err(Refusal::Operation(_))
    ));
}

/// Two changes made one after the other on a phone, judged as a chain without applying the
/// first: the second sees what the first made.
fn chain(saved: &[u8], first: Edit, second: Edit) -> Result<(), Refusal> {
    let mut raw = AutoCommit::load(saved)
        .unwrap()
        .with_actor(ActorId::random());
    first(&mut raw);
    let a = raw.get_last_local_change().unwrap().clone();
    second(&mut raw);
    let b = raw.get_last_local_change().unwrap().clone();
    let mut center = CaseDoc::load(saved, ActorId::random()).unwrap();
    let changes = vec![a, b];
    assert!(center.is_chain_from_heads(&changes));
    center.judge_chain(&changes, &Writer::new("u-wang", Role::GridWorker))
}

#[test]
fn a_chain_is_judged_as_its_author_saw_each_change() {
    let saved = center_case();
    let add_note: Edit = |d| {
        let n = d.length(obj(d, "notes"));
        append_map(d, "notes", n, &note("一"))
    };
    // A second note after the first one's: fine.
    assert_eq!(chain(&saved, add_note, add_note), Ok(()));
    // A second note after the note the center had last, not after the first one: refused.
    let before_it: Edit = |d| {
        let n = d.length(obj(d, "notes"));
        append_map(d, "notes", n - 1, &note("插队"))
    };
    assert!(matches!(
        chain(&saved, add_note, before_it),
        Err(Refusal::Operation(_))
    ));
    // Rewriting the note the first change wrote: refused, as for any existing note.
    let rewrite_last: Edit = |d| {
        let n = d.length(obj(d, "notes"));
        let last = item(d, "notes", n - 1);
        d.put(&last, "text", "改").unwrap()
    };
    assert!(matches!(
        chain(&saved, add_note, rewrite_last),
        Err(Refusal::Operation(_))
    ));
    // A party the first change added is corrected by the second: fine.
    let add_party: Edit = |d| {
        let n = d.length(obj(d, "parties"));
        append_map(
            d,
            "parties",
            n,
            &[("id", "p-y".into()), ("name", "王五".into())],
        )
    };
    let fix_party: Edit = |d| {
        let n = d.length(obj(d, "parties"));
        let p = item(d, "parties", n - 1);
        d.put(&p, "phone", "13900000000").unwrap()
    };
    assert_eq!(chain(&saved, add_party, fix_party), Ok(()));
    // A case id rewritten by the second change of a new case's chain: refused.
    let retitle: Edit = |d| d.put(ROOT, "title", "新").unwrap();
    let re_id: Edit = |d| d.put(ROOT, "id", "x").unwrap();
    assert!(matches!(
        chain(&saved, retitle, re_id),
        Err(Refusal::Operation(_))
    ));
}
