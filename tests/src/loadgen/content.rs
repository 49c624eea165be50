//! What the simulated grid workers write: cases in Chinese and English with two parties,
//! field notes and edits, varied by a seed so documents differ as real ones do.

use gridsync_core::case::{
    CaseEdit, Category, Difficulty, Location, NewCase, NoteKind, PartyInput, PartyRole, RiskLevel,
    Sex,
};

/// Categories without an automatic dispatch rule in the demo county, so recorded cases
/// stay with the phone until a dispatcher acts (the `fanout` scenario needs that).
const CATEGORIES: [Category; 6] = [
    Category::Neighbour,
    Category::LabourWages,
    Category::LandContract,
    Category::ContractDebt,
    Category::HomesteadHousing,
    Category::VillageAffairs,
];

const TITLES: [&str; 6] = [
    "宅基地围墙越界，两户多次争吵 / boundary wall dispute between two households",
    "包工头拖欠三名工人工资共计一万二千元 / contractor owes three workers 12,000 yuan",
    "承包地流转合同到期后对方拒绝退地 / land lease expired, tenant refuses to return it",
    "借款到期未还，借条金额有争议 / overdue loan, amount on the IOU disputed",
    "翻建房屋遮挡邻居采光 / rebuilt house blocks the neighbour's light",
    "村集体分红名单有异议 / objection to the village dividend list",
];

const SURNAMES: [&str; 8] = ["张", "王", "李", "赵", "陈", "刘", "周", "吴"];
const GIVEN: [&str; 8] = [
    "建国", "秀英", "志强", "桂兰", "海涛", "丽华", "国庆", "春梅",
];

const NOTES: [&str; 5] = [
    "入户走访双方当事人，情绪基本稳定。Visited both parties at home; both calm.",
    "电话联系被申请人，约定周五上午到村委会面谈。Called the respondent; meeting Friday morning at the village office.",
    "背靠背调解：申请人同意分两期支付。Back-to-back mediation: applicant accepts payment in two installments.",
    "向双方释明《民法典》相邻关系相关条款。Explained the Civil Code's rules on neighbouring properties.",
    "现场查看围墙位置并拍照留存（照片另存）。Inspected the wall on site; photos kept separately.",
];

const NOTE_KINDS: [NoteKind; 5] = [
    NoteKind::HomeVisit,
    NoteKind::PhoneCall,
    NoteKind::MediationRecord,
    NoteKind::LegalExplanation,
    NoteKind::Other,
];

fn pick<T: Clone>(items: &[T], seed: u64) -> T {
    items[(seed % items.len() as u64) as usize].clone()
}

/// A synthetic but well-formed 18-character resident ID (valid check digit).
fn id_number(seed: u64) -> String {
    let body = format!(
        "330182{:04}{:02}{:02}{:03}",
        1950 + seed % 50,
        1 + seed % 12,
        1 + seed % 28,
        seed % 1000
    );
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{body}{}", C[(sum % 11) as usize] as char)
}

fn party(seed: u64, role: PartyRole) -> PartyInput {
    PartyInput {
        role,
        name: format!("{}{}", pick(&SURNAMES, seed), pick(&GIVEN, seed / 8)),
        id_number: id_number(seed),
        sex: if seed.is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        },
        ethnicity: "汉族".into(),
        phone: format!("138{:08}", seed % 100_000_000),
        address: format!("示范县青溪镇东岭村{}组{}号", 1 + seed % 9, 1 + seed % 80),
        ..PartyInput::default()
    }
}

/// A new case in `area_code`: zh + en title and summary, two parties, an amount and a place.
pub(crate) fn new_case(area_code: &str, seed: u64) -> NewCase {
    let title = pick(&TITLES, seed);
    NewCase {
        area_code: area_code.to_owned(),
        title: title.to_owned(),
        summary: format!(
            "{title}。当事人于{}月{}日到村委会反映，要求尽快调处。The parties came to the village \
             committee on day {} asking for mediation.",
            1 + seed % 12,
            1 + seed % 28,
            1 + seed % 28
        ),
        category: pick(&CATEGORIES, seed),
        address: format!("示范县第{}网格 / grid {}", seed % 50, seed % 50),
        location: Some(Location {
            lat: 30.0 + (seed % 1000) as f64 / 10_000.0,
            lon: 119.9 + (seed % 997) as f64 / 10_000.0,
        }),
        people_involved: 2 + (seed % 5) as u32,
        amount_involved: ((seed % 200) as i64 + 1) * 10_000,
        risk_level: if seed.is_multiple_of(10) {
            RiskLevel::Yellow
        } else {
            RiskLevel::Green
        },
        difficulty: Difficulty::default(),
        parties: vec![
            party(seed, PartyRole::Applicant),
            party(seed.wrapping_mul(31).wrapping_add(7), PartyRole::Respondent),
        ],
        ..NewCase::default()
    }
}

/// A field note (zh + en) and its kind.
pub(crate) fn note(seed: u64) -> (NoteKind, String) {
    (
        pick(&NOTE_KINDS, seed),
        format!("{} ({})", pick(&NOTES, seed), seed % 1000),
    )
}

/// The edits a worker makes when they learn more: summary, amount, people, risk.
pub(crate) fn edit(seed: u64) -> CaseEdit {
    CaseEdit {
        summary: Some(format!(
            "补充：经核实涉及金额调整，双方同意下周再谈。Update: amount corrected after checking; \
             both sides agree to talk again next week ({}).",
            seed % 1000
        )),
        amount_involved: Some(((seed % 300) as i64 + 1) * 10_000),
        people_involved: Some(2 + (seed % 7) as u32),
        ..CaseEdit::default()
    }
}
