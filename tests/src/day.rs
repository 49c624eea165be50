//! One grid worker's day, metered: the scenario behind `cargo bench -p gridsync-tests --bench
//! bandwidth` and the test that checks its counting.
//!
//! Before the day the phone holds 10 earlier cases of its village, 5 of them submitted and
//! auto-dispatched to the township's judicial office, all acknowledged. During the day the
//! office signs for and starts handling those 5 (10 center changes), while the phone,
//! offline, records 20 new cases and makes 40 edits: a home-visit note on each of the 10
//! earlier cases, a note on 10 new cases, a field edit (risk, people, amount, summary) on 10
//! new cases, and submits 10 new cases (which the center auto-dispatches when they arrive).
//! That is 60 changes over 30 cases up, and then one sync. Next to it the day is written down
//! as the calls a plain JSON REST client would make ([`RestCall`]).

use gridsync_core::case::{
    CaseEdit, CaseId, Category, Location, NewCase, NoteKind, PartyInput, PartyRole, RiskLevel, Sex,
    Source, Timestamp,
};
use gridsync_core::store::SyncReport;
use serde_json::{Value, json};

use crate::phone::{HttpError, agent, post_sync};
use crate::{Phone, Staff, TestServer};

/// New cases recorded in a day.
pub const NEW_CASES: usize = 20;
/// Edits made in a day (notes, field edits, workflow events).
pub const EDITS: usize = 40;
/// Cases the phone already held before the day.
pub const EARLIER_CASES: usize = 10;

/// One HTTP call a JSON REST client would make for the same work.
#[derive(Clone, Debug)]
pub struct RestCall {
    pub method: &'static str,
    pub path: String,
    pub body: Value,
}

/// The request and response bodies of one sync exchange, exactly as they crossed the link.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub request: Vec<u8>,
    pub response: Vec<u8>,
}

/// A sync with every exchange recorded.
#[derive(Clone, Debug)]
pub struct Metered {
    pub report: SyncReport,
    pub exchanges: Vec<Exchange>,
}

impl Metered {
    /// HTTP requests made (one request and its response is one round trip).
    pub fn round_trips(&self) -> usize {
        self.exchanges.len()
    }

    /// Bytes of the request bodies.
    pub fn up_bytes(&self) -> usize {
        self.exchanges.iter().map(|e| e.request.len()).sum()
    }

    /// Bytes of the response bodies.
    pub fn down_bytes(&self) -> usize {
        self.exchanges.iter().map(|e| e.response.len()).sum()
    }
}

/// Syncs `phone` like [`Phone::sync`] (the same `sync_via` loop), keeping a copy of every
/// body the transport sends and receives.
pub fn metered_sync(phone: &mut Phone) -> Result<Metered, HttpError> {
    let agent = agent();
    let (base, token) = (phone.base_url.clone(), phone.access_token.clone());
    let mut exchanges = Vec::new();
    let report = phone
        .store
        .sync_via(50, |body| {
            let request = body.clone();
            let response = post_sync(&agent, &base, &token, body)?;
            exchanges.push(Exchange {
                request,
                response: response.clone(),
            });
            Ok::<_, HttpError>(response)
        })
        .map_err(HttpError::from)?;
    Ok(Metered { report, exchanges })
}

/// The phone at the end of its offline day, before it syncs.
#[derive(Debug)]
pub struct Day {
    pub phone: Phone,
    /// Cases held since earlier days (the first 5 submitted and dispatched).
    pub earlier: Vec<CaseId>,
    /// Cases recorded today.
    pub new: Vec<CaseId>,
    /// Today's work as a JSON REST client would upload it, one call per record.
    pub rest: Vec<RestCall>,
}

/// A realistic record: 2 parties with ID numbers and phones, a two-language summary, a
/// location. About the size of the records in `cargo bench -p gridsync-core --bench core`.
pub fn typical_case(area_code: &str, i: usize) -> NewCase {
    let (category, title) = match i % 4 {
        0 => (Category::HomesteadHousing, "宅基地边界纠纷"),
        1 => (Category::LabourWages, "拖欠工资纠纷"),
        2 => (Category::Neighbour, "邻里排水纠纷"),
        _ => (Category::LandContract, "土地承包纠纷"),
    };
    NewCase {
        area_code: area_code.into(),
        grid_code: format!("{area_code}002"),
        source: Source::GridVisit,
        title: format!("{title}（{}组）#{i}", i % 9 + 1),
        summary: format!(
            "两户因新建围墙越界约0.{}米发生争执，双方多次口角，一方扬言要拆墙。\
             Two households dispute a new wall built over the line.",
            i % 9 + 1
        ),
        category,
        occurred_at: Some(Timestamp(1_795_000_000_000 + i as i64 * 3_600_000)),
        address: format!("某县某镇某村{}组{}号", i % 9 + 1, 10 + i % 30),
        location: Some(Location {
            lat: 30.05 + i as f64 * 1e-4,
            lon: 119.94 + i as f64 * 1e-4,
        }),
        people_involved: 2 + (i % 5) as u32,
        amount_involved: 100_000 * (1 + i as i64 % 20),
        risk_level: RiskLevel::Yellow,
        parties: vec![
            PartyInput {
                role: PartyRole::Applicant,
                name: format!("王建{}", ["国", "军", "华", "平"][i % 4]),
                id_number: format!("33018219680506{:04}", 1000 + i),
                sex: Sex::Male,
                ethnicity: "汉族".into(),
                phone: format!("138{:08}", 12_345_000 + i),
                address: format!("某县某镇某村{}组{}号", i % 9 + 1, 10 + i % 30),
                ..PartyInput::default()
            },
            PartyInput {
                role: PartyRole::Respondent,
                name: format!("李秀{}", ["英", "兰", "梅", "芳"][i % 4]),
                id_number: format!("33018219720315{:04}", 2000 + i),
                sex: Sex::Female,
                ethnicity: "汉族".into(),
                phone: format!("139{:08}", 87_654_000 + i),
                address: format!("某县某镇某村{}组{}号", i % 9 + 1, 12 + i % 30),
                ..PartyInput::default()
            },
        ],
        ..NewCase::default()
    }
}

fn note_text(i: usize) -> String {
    format!(
        "第{}次入户走访：双方情绪平稳，同意由村委会于下周重新测量边界，暂停施工。",
        i % 5 + 1
    )
}

fn now_ms() -> i64 {
    gridsync_core::clock::Clock::now(&gridsync_core::clock::SystemClock).0
}

/// A JSON object without its `null` members (what a serde client with
/// `skip_serializing_if = "Option::is_none"` sends).
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

impl Day {
    /// Sets up the county and the phone's earlier days on `server`, then plays the offline
    /// day. Nothing of the day has been synced when this returns.
    pub fn prepare(server: &TestServer, device_id: &str) -> Day {
        // The township's rule: whatever its villages submit goes to its judicial office.
        let rule = gridsync_server::center::rules::DispatchRule {
            id: format!("bandwidth-{device_id}"),
            priority: 5,
            category: None,
            risk_level: None,
            area_prefix: Some("330182101".into()),
            center_org: "330182101-center".into(),
            target_org: "330182101-judicial".into(),
            automatic: true,
        };
        server
            .block_on(gridsync_server::center::rules::add(
                &server.state.db,
                &rule,
                0,
            ))
            .expect("add dispatch rule");

        let mut phone = Phone::login(&server.base_url(), "wang.grid", device_id);
        let area = phone.area_code.clone();
        phone.sync().expect("first sync");
        let mut earlier = Vec::new();
        for i in 0..EARLIER_CASES {
            let id = phone
                .store
                .record(&typical_case(&area, 1000 + i))
                .expect("record");
            if i < EARLIER_CASES / 2 {
                phone.store.submit(id).expect("submit");
            }
            earlier.push(id);
        }
        phone.sync().expect("earlier sync");
        phone.sync().expect("quiet sync");

        // The center's part of the day: the judicial office takes up the dispatched cases.
        let zhou = Staff::login(server, "zhou.judicial");
        for id in &earlier[..EARLIER_CASES / 2] {
            for kind in ["SIGN_FOR", "START_HANDLING"] {
                let (status, body) = zhou.act(&id.to_string(), kind, json!({}));
                assert_eq!(status, 200, "{kind}: {body}");
            }
        }

        // The phone's offline day.
        let mut rest = Vec::new();
        let mut new = Vec::new();
        for i in 0..NEW_CASES {
            let case = typical_case(&area, i);
            let id = phone.store.record(&case).expect("record");
            let mut body = without_nulls(serde_json::to_value(&case).expect("json"));
            body["id"] = json!(id.to_string());
            body["recorded_at"] = json!(now_ms());
            rest.push(RestCall {
                method: "POST",
                path: "/v1/cases".into(),
                body,
            });
            new.push(id);
        }
        let note = |rest: &mut Vec<RestCall>, phone: &mut Phone, id: CaseId, i: usize| {
            let text = note_text(i);
            let note_id = phone
                .store
                .add_note(id, NoteKind::HomeVisit, &text)
                .expect("note");
            rest.push(RestCall {
                method: "POST",
                path: format!("/v1/cases/{id}/notes"),
                body: json!({ "id": note_id, "kind": "HOME_VISIT", "text": text, "at": now_ms() }),
            });
        };
        for (i, id) in earlier.iter().enumerate() {
            note(&mut rest, &mut phone, *id, i);
        }
        for (i, id) in new[..10].iter().enumerate() {
            note(&mut rest, &mut phone, *id, i);
        }
        for (i, id) in new[10..].iter().enumerate() {
            let edit = CaseEdit {
                summary: Some(format!(
                    "复核后补充：涉及{}户，另有一户在外务工，电话已联系。",
                    i % 3 + 2
                )),
                people_involved: Some(3 + i as u32 % 4),
                amount_involved: Some(150_000 * (1 + i as i64 % 10)),
                risk_level: Some(if i % 3 == 0 {
                    RiskLevel::Red
                } else {
                    RiskLevel::Yellow
                }),
                ..CaseEdit::default()
            };
            phone.store.edit(*id, &edit).expect("edit");
            let mut body = without_nulls(serde_json::to_value(&edit).expect("json"));
            body["at"] = json!(now_ms());
            rest.push(RestCall {
                method: "PATCH",
                path: format!("/v1/cases/{id}"),
                body,
            });
        }
        for id in &new[..10] {
            let event_id = phone.store.submit(*id).expect("submit");
            rest.push(RestCall {
                method: "POST",
                path: format!("/v1/cases/{id}/events"),
                body: json!({ "id": event_id, "kind": "SUBMIT", "payload": {}, "at": now_ms() }),
            });
        }
        assert_eq!(rest.len(), NEW_CASES + EDITS);
        Day {
            phone,
            earlier,
            new,
            rest,
        }
    }

    /// The day's sync, metered.
    pub fn sync(&mut self) -> Result<Metered, HttpError> {
        metered_sync(&mut self.phone)
    }
}
