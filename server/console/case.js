// 案件详情: fields, parties (masked; the full details on request, audited by the server),
// conflicting edits to settle, joint handling and supervision, the agreement and its
// installments, deadlines, the timeline with the work notes, and the actions from
// `allowed_actions` as generated forms. What a user may do comes from the API: the case's
// `allowed_actions` and the session's `permissions`; the server judges every request.
import { api, openapi } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, lang, when, countdown, yuan, addStrings, addCodes } from './i18n.js';
import { levelClass } from './tasks.js';
import { build, payloadSchema } from './form.js';

addStrings({
  zh: {
    evEvidence: '证据材料', evPending: '尚未上传完成', evOpen: '查看原件', evDownload: '下载',
    evPHOTO: '照片', evAUDIO: '录音', evDOCUMENT: '文书', evAGREEMENT: '调解协议书',
    cwNotes: '工作记录', cwAddNote: '添加工作记录', cwNoteKind: '记录类型', cwNoteText: '记录内容',
    cwNoteParty: '背靠背调解对象', cwNoteSave: '保存记录', cwNoteAdded: '工作记录已保存',
    cwNoteMasked: '（内容含个人信息，查看完整信息后显示）', cwNoteWith: '对象',
    cwConflicts: '数据冲突', cwConflictsHint: '以下字段在不同设备上被同时修改，请选择要保留的值。',
    cwChoose: '采用此值', cwCenter: '中心', cwUnknownWriter: '未知设备', cwCurrent: '当前值',
    cwWrittenBy: '填写人', cwDevice: '设备',
    cwJoint: '承办与督办', cwLead: '牵头', cwCo: '协办', cwAssignee: '承办人', cwNoOrgs: '尚未分派',
    cwCoFeedback: '协办意见', cwNoFeedback: '尚无协办意见', cwSupervisionNone: '未督办',
    cwAgreement: '调解协议', cwForm: '协议形式', cwTerms: '协议内容', cwSignedAt: '签订时间',
    cwInstallments: '分期履行', cwNo: '期次', cwAmount: '金额', cwDueAt: '履行期限', cwPaid: '履行情况',
    cwPaidAt: '已履行', cwUnpaid: '未履行', cwMarkPaid: '标记已履行', cwPrint: '打印调解协议书',
    cwOutcome: '调处结果', cwSuccess: '化解成功', cwFailed: '未化解', cwOnTime: '按期办结', cwLate: '超期办结',
    cwFollowUps: '回访记录', cwSatisfaction: '满意度', cwPerformed: '协议履行',
    cwEvent: '办理', cwSuperseded: '未生效', cwPartyField: '当事人',
  },
  en: {
    evEvidence: 'Evidence', evPending: 'Not fully received yet', evOpen: 'Open the original', evDownload: 'Download',
    evPHOTO: 'Photo', evAUDIO: 'Recording', evDOCUMENT: 'Document', evAGREEMENT: 'Signed agreement',
    cwNotes: 'Work notes', cwAddNote: 'Add a work note', cwNoteKind: 'Kind', cwNoteText: 'Text',
    cwNoteParty: 'Held with (back to back)', cwNoteSave: 'Save note', cwNoteAdded: 'Work note saved',
    cwNoteMasked: '(holds personal data: shown with the full details)', cwNoteWith: 'with',
    cwConflicts: 'Conflicting edits', cwConflictsHint: 'These fields were changed on different devices at once: choose the value to keep.',
    cwChoose: 'Keep this value', cwCenter: 'Center', cwUnknownWriter: 'Unknown device', cwCurrent: 'Current',
    cwWrittenBy: 'Written by', cwDevice: 'device',
    cwJoint: 'Handling and supervision', cwLead: 'Lead', cwCo: 'Co-handler', cwAssignee: 'Handler', cwNoOrgs: 'Not dispatched yet',
    cwCoFeedback: 'Co-handlers\' feedback', cwNoFeedback: 'No feedback yet', cwSupervisionNone: 'Not supervised',
    cwAgreement: 'Mediation agreement', cwForm: 'Form', cwTerms: 'Terms', cwSignedAt: 'Signed',
    cwInstallments: 'Installments', cwNo: 'No.', cwAmount: 'Amount', cwDueAt: 'Due', cwPaid: 'Paid',
    cwPaidAt: 'Paid', cwUnpaid: 'Not paid', cwMarkPaid: 'Mark paid', cwPrint: 'Print the agreement',
    cwOutcome: 'Outcome', cwSuccess: 'Resolved', cwFailed: 'Not resolved', cwOnTime: 'on time', cwLate: 'late',
    cwFollowUps: 'Follow-ups', cwSatisfaction: 'Satisfaction', cwPerformed: 'Agreement performed',
    cwEvent: 'Step', cwSuperseded: 'did not apply', cwPartyField: 'Party',
  },
});

addCodes({
  noteKind: {
    MEDIATION_RECORD: ['调解笔录', 'Mediation record'], VISIT_RECORD: ['走访记录', 'Visit record'],
    MEDIATION_BACK_TO_BACK: ['背靠背调解', 'Mediation, back to back'], MEDIATION_FACE_TO_FACE: ['面对面调解', 'Mediation, face to face'],
    MEDIATION_REMOTE: ['远程视频调解', 'Mediation, remote'], HOME_VISIT: ['入户走访', 'Home visit'],
    PHONE_CALL: ['电话沟通', 'Phone call'], LEGAL_EXPLANATION: ['释法明理', 'Legal explanation'], OTHER: ['其他', 'Other'],
  },
  sex: { UNSPECIFIED: ['未说明', 'Not stated'], MALE: ['男', 'Male'], FEMALE: ['女', 'Female'] },
  idType: {
    ID_CARD: ['居民身份证', 'Resident ID card'], PASSPORT: ['护照', 'Passport'],
    HK_MACAU_PERMIT: ['港澳居民来往内地通行证', 'Home-return permit (HK/Macau)'],
    TAIWAN_PERMIT: ['台湾居民来往大陆通行证', 'Mainland travel permit (Taiwan)'],
    BUSINESS_LICENCE: ['统一社会信用代码', 'Unified social credit code'], NONE: ['无', 'None'],
  },
  agreementForm: { WRITTEN: ['书面协议', 'Written agreement'], ORAL: ['口头协议', 'Oral agreement'] },
  supervision: { NONE: ['未督办', 'Not supervised'], NORMAL: ['一般督办', 'Supervised'], YELLOW: ['黄牌督办', 'Yellow card'], RED: ['红牌督办', 'Red card'] },
  followUpMethod: { PHONE: ['电话回访', 'Phone'], VISIT: ['上门回访', 'Visit'], SMS: ['短信回访', 'Text message'] },
  step: { INSTALLMENT: ['分期履行', 'Installment'] },
  conflictField: {
    title: ['标题', 'Title'], summary: ['事由', 'Summary'], category: ['类别', 'Category'], risk_level: ['风险等级', 'Risk'],
    risk_flags: ['风险标记', 'Risk flags'], difficulty: ['难易程度', 'Difficulty'], amount_involved: ['涉及金额', 'Amount'],
    people_involved: ['涉及人数', 'People involved'], address: ['地址', 'Address'], location: ['位置', 'Location'],
    name: ['姓名', 'Name'], role: ['身份', 'Role'], id_type: ['证件类型', 'ID type'], id_number: ['证件号码', 'ID number'],
    sex: ['性别', 'Sex'], ethnicity: ['民族', 'Ethnicity'], phone: ['电话', 'Phone'], minor: ['未成年', 'Minor'],
  },
});

/** The session's permissions (from the server's policy table) include `p`. */
export function holds(session, p) {
  return ((session && session.user && session.user.permissions) || []).includes(p);
}

// Organisation names by id from GET /v1/directory (what the caller may see), fetched once;
// without it an organisation shows by the name its dispatch gave, else by its id.
let directory = null;
async function loadDirectory() {
  if (!directory) {
    directory = api('GET', '/v1/directory')
      .then((r) => new Map((r.items || []).map((o) => [o.id, o.name])))
      .catch(() => new Map());
  }
  return directory;
}
let names = new Map();
/** Loads the directory's names for `orgName` (once; none without the directory). */
export async function useDirectory() { names = await loadDirectory(); }

/** The name of an organisation the case names (its dispatch, the directory), else its id. */
export function orgName(state, id) {
  if (!id) return '';
  const o = (state.assigned_orgs || []).find((x) => x.id === id);
  return o ? o.name : names.get(id) || id;
}

/** A staff member's display name as the case detail's `people` gives it, else the id. */
const person = (d, id) => (d.people && d.people[id]) || id;

function row(name, value, cls) {
  return h('tr', {}, h('th', { scope: 'row' }, name), h('td', { class: cls }, value));
}

const byTime = (a, b) => Date.parse(a.at) - Date.parse(b.at);

export async function casePage(main, id, session, unmasked = false, flash = null) {
  fill(main, h('p', {}, t('loading')));
  let d;
  try {
    d = await api('GET', `/v1/cases/${encodeURIComponent(id)}${unmasked ? '?unmasked=true' : ''}`);
  } catch (err) {
    return fill(main, link('/console/cases', t('back')), h('p', { class: 'error', role: 'alert', id: 'case-error' }, err.message));
  }
  await useDirectory();
  return render(main, id, session, unmasked, d, flash);
}

async function render(main, id, session, unmasked, d, flash = null) {
  const c = d.case;
  const s = d.state;
  const offset = (c.recorded_at || '').match(/[+-]\d\d:\d\d$|Z$/)?.[0] || '+08:00';
  const reload = (msg) => casePage(main, id, session, unmasked, msg);
  const reveal = holds(session, 'ReadPersonalData') && !unmasked
    ? h('button', { type: 'button', id: 'reveal', onclick: () => casePage(main, id, session, true) }, t('reveal'))
    : null;
  const supervised = s.supervision && s.supervision !== 'NONE';
  fill(main,
    link('/console/cases', t('back')),
    h('h1', { id: 'case-title' }, c.title),
    h('p', { class: 'case-head' },
      h('span', { class: 'caseno', id: 'case-no' }, s.case_no || '—'), ' ',
      h('span', { class: 'tag', id: 'case-status' }, label('status', s.status)), ' ',
      h('span', { class: `tag risk-${c.risk_level}` }, label('risk', c.risk_level)),
      supervised ? h('span', { class: `tag supervision-${s.supervision}`, id: 'case-supervision' }, label('supervision', s.supervision)) : null,
      s.agreement ? link(`/console/cases/${encodeURIComponent(id)}/agreement`, t('cwPrint')) : null),
    h('p', { class: 'flash', id: 'case-flash', role: 'status' }, flash),
    h('section', { class: 'actions', id: 'actions' }, h('h2', {}, t('actions')), await actions(d, id, offset, main, session)),
    conflictsSection(d, id, session, main, unmasked),
    h('section', {}, h('h2', {}, t('fields')),
      h('table', { class: 'fields' }, h('tbody', {},
        row(t('category'), label('category', c.category)),
        row(t('source'), label('source', c.source)),
        row(t('area'), c.area_code),
        row(t('address'), c.address),
        row(t('summary'), c.summary, 'pre'),
        row(t('amount'), yuan(c.amount_involved)),
        row(t('people'), String(c.people_involved)),
        row(t('recordedAt'), when(c.recorded_at)),
        row(t('tier'), label('tier', s.tier)),
        row(t('handlingOrg'), orgName(s, s.handling_org) || '—')))),
    h('section', {}, h('h2', {}, t('parties'), ' ', reveal,
      unmasked ? h('span', { class: 'note', id: 'revealed' }, t('revealed')) : null),
      h('table', { class: 'grid', id: 'parties' },
        h('thead', {}, h('tr', {}, [t('role'), t('name'), t('idNumber'), t('phone'), t('address')].map((x) => h('th', {}, x)))),
        h('tbody', {}, c.parties.map((p) => h('tr', { 'data-party': p.id },
          h('td', {}, label('partyRole', p.role)), h('td', {}, p.name), h('td', { class: 'mono' }, p.id_number),
          h('td', { class: 'mono' }, p.phone), h('td', {}, p.address)))))),
    evidenceSection(d, id),
    jointSection(d),
    agreementSection(d, id, session, main, reload),
    h('section', {}, h('h2', {}, t('deadlines')),
      h('table', { class: 'grid', id: 'deadlines' },
        h('thead', {}, h('tr', {}, [t('kind'), t('due'), t('level'), t('timeLeft')].map((x) => h('th', {}, x)))),
        h('tbody', {}, (s.deadlines || []).map((dl) => h('tr', {},
          h('td', {}, label('step', dl.kind)), h('td', {}, when(dl.due_at)),
          h('td', {}, label('level', dl.level)),
          h('td', {}, h('span', { class: `countdown ${levelClass(dl.level, Date.parse(dl.due_at) < Date.now())}` }, countdown(dl.due_at)))))))),
    timelineSection(d, id, session, reload));
}

// ---- evidence: photos as the center's thumbnails, recordings playable, the rest to download.
// The bytes come from the API with the session's cookie; the original is never altered. ----

function evidenceSection(d, id) {
  const list = d.case.attachments || [];
  if (!list.length) return null;
  const src = (a) => `/v1/cases/${encodeURIComponent(id)}/attachments/${encodeURIComponent(a.sha256)}`;
  const kb = (n) => `${Math.max(1, Math.round(n / 1024))} KB`;
  const body = (a) => {
    if (!a.stored) return h('span', { class: 'note evidence-pending' }, t('evPending'));
    if (a.kind === 'PHOTO') {
      return h('a', { href: src(a), target: '_blank', rel: 'noopener', title: t('evOpen') },
        h('img', { class: 'evidence-thumb', src: `${src(a)}/thumbnail`, alt: a.caption || t('evPHOTO'), loading: 'lazy' }));
    }
    if (a.kind === 'AUDIO') {
      return [h('audio', { class: 'evidence-audio', controls: true, preload: 'none', src: src(a) }), ' ',
        h('a', { href: src(a), download: '' }, t('evDownload'))];
    }
    return h('a', { href: src(a), download: '' }, t('evDownload'));
  };
  return h('section', { id: 'evidence' }, h('h2', {}, t('evEvidence')),
    h('ul', { class: 'evidence' }, list.map((a) => h('li', { class: 'evidence-item', 'data-sha256': a.sha256 },
      h('div', { class: 'evidence-head' }, h('span', { class: 'tag' }, t(`ev${a.kind}`)), ' ',
        a.caption, ' ', h('span', { class: 'note' }, kb(a.size))),
      body(a)))));
}

// ---- timeline: the workflow's events and the work notes, oldest first ----

function timelineSection(d, id, session, reload) {
  const c = d.case;
  const s = d.state;
  const partyName = (pid) => (c.parties.find((p) => p.id === pid) || {}).name || pid;
  const items = [
    ...(s.timeline || []).map((e) => ({ at: e.at, el: h('li', { class: `event${e.superseded ? ' superseded' : ''}`, 'data-event': e.event_id },
      h('time', { datetime: e.at }, when(e.at)), ' ', h('strong', {}, label('step', e.kind)), ' · ',
      h('span', { class: 'who' }, label('userRole', e.by_role), ' ', person(d, e.by_user)), ' · ', orgName(s, e.org), ' → ', label('status', e.status_after),
      e.superseded ? h('span', { class: 'tag' }, `${t('cwSuperseded')}: ${e.superseded}`) : null) })),
    ...(c.notes || []).map((n) => ({ at: n.at, el: h('li', { class: 'work-note', 'data-note': n.id },
      h('time', { datetime: n.at }, when(n.at)), ' ', h('span', { class: 'tag note-kind' }, label('noteKind', n.kind)), ' ',
      h('span', { class: 'who' }, person(d, n.author)),
      n.party ? [' · ', t('cwNoteWith'), ' ', partyName(n.party)] : null,
      h('div', { class: n.text ? 'note-text pre' : 'note-text masked' }, n.text || t('cwNoteMasked'))) })),
  ].sort(byTime);
  return h('section', { id: 'timeline-section' }, h('h2', {}, t('timeline')),
    h('ol', { class: 'timeline', id: 'timeline' }, items.map((i) => i.el)),
    holds(session, 'WriteNotes') ? noteForm(d, id, reload) : null);
}

function noteForm(d, id, reload) {
  const kinds = ['MEDIATION_RECORD', 'VISIT_RECORD', 'MEDIATION_BACK_TO_BACK', 'MEDIATION_FACE_TO_FACE',
    'MEDIATION_REMOTE', 'HOME_VISIT', 'PHONE_CALL', 'LEGAL_EXPLANATION', 'OTHER'];
  const kind = h('select', { id: 'note-kind', name: 'kind', required: true },
    kinds.map((k) => h('option', { value: k }, label('noteKind', k))));
  const party = h('select', { id: 'note-party', name: 'party' },
    h('option', { value: '' }, '—'),
    d.case.parties.map((p) => h('option', { value: p.id }, `${label('partyRole', p.role)} ${p.name}`)));
  const text = h('textarea', { id: 'note-text', name: 'text', rows: 4, required: true, maxlength: 10000 });
  const error = h('p', { class: 'error', role: 'alert', id: 'note-error' });
  const form = h('form', { id: 'note-form', class: 'note-form' },
    h('h3', {}, t('cwAddNote')),
    h('div', { class: 'field' }, h('label', { for: 'note-kind' }, t('cwNoteKind')), kind),
    h('div', { class: 'field' }, h('label', { for: 'note-party' }, t('cwNoteParty')), party),
    h('div', { class: 'field' }, h('label', { for: 'note-text' }, t('cwNoteText'), ' *'), text),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('cwNoteSave'))),
    error);
  const syncParty = () => { party.required = kind.value === 'MEDIATION_BACK_TO_BACK'; };
  kind.addEventListener('change', syncParty);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(error);
    const body = { kind: kind.value, text: text.value.trim() };
    if (party.value) body.party = party.value;
    try {
      await api('POST', `/v1/cases/${encodeURIComponent(id)}/notes`, body);
      await reload(t('cwNoteAdded'));
    } catch (err) {
      fill(error, err.message);
    }
  });
  return form;
}

// ---- conflicts: each value with who wrote it; a dispatcher keeps one ----

function conflictsSection(d, id, session, main, unmasked) {
  const list = d.conflicts || [];
  if (!list.length) return null;
  const may = holds(session, 'ResolveConflicts');
  const error = h('p', { class: 'error', role: 'alert', id: 'conflict-error' });
  const fieldName = (f) => {
    const m = f.match(/^parties\.([^.]+)\.(.+)$/);
    if (!m) return label('conflictField', f);
    const p = d.case.parties.find((x) => x.id === m[1]);
    return `${t('cwPartyField')} ${p ? p.name : m[1]} · ${label('conflictField', m[2])}`;
  };
  const shown = (f, v) => {
    if (f === 'category') return label('category', v);
    if (f === 'risk_level') return label('risk', v);
    if (f.endsWith('.role')) return label('partyRole', v);
    if (f.endsWith('.sex')) return label('sex', v);
    if (f === 'amount_involved') return yuan(v);
    return v === '' ? '—' : v;
  };
  const writer = (v) => (v.center ? t('cwCenter') : v.user_id
    ? `${v.user_id} (${t('cwDevice')} ${v.device_id})` : t('cwUnknownWriter'));
  return h('section', { id: 'conflicts', class: 'conflicts' },
    h('h2', {}, t('cwConflicts')), h('p', { class: 'note' }, t('cwConflictsHint')), error,
    list.map((cf) => h('div', { class: 'conflict', 'data-field': cf.field },
      h('h3', {}, fieldName(cf.field)),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, [t('cwCurrent'), t('cwWrittenBy'), t('at'), ''].map((x) => h('th', {}, x)))),
        h('tbody', {}, cf.values.map((v, i) => h('tr', { 'data-value': v.value },
          h('td', {}, shown(cf.field, v.value), i === 0 ? h('span', { class: 'tag' }, t('cwCurrent')) : null),
          h('td', {}, writer(v)),
          h('td', {}, when(v.at)),
          h('td', {}, may ? h('button', {
            type: 'button', class: 'choose',
            onclick: async () => {
              fill(error);
              try {
                await api('POST', `/v1/cases/${encodeURIComponent(id)}/conflicts/${encodeURIComponent(cf.field)}`, { value: v.value });
                casePage(main, id, session, unmasked);
              } catch (err) { fill(error, err.message); }
            },
          }, t('cwChoose')) : null))))))));
}

// ---- joint handling and supervision ----

function jointSection(d) {
  const s = d.state;
  const orgs = s.assigned_orgs || [];
  const supervised = s.supervision && s.supervision !== 'NONE';
  if (!orgs.length && !supervised && !(s.co_feedback || []).length) return null;
  return h('section', { id: 'joint' }, h('h2', {}, t('cwJoint')),
    h('table', { class: 'fields' }, h('tbody', {},
      row(t('supervision'), supervised ? h('span', { class: `tag supervision-${s.supervision}` }, label('supervision', s.supervision)) : t('cwSupervisionNone')),
      row(t('handlingOrg'), orgs.length ? h('ul', { class: 'orgs', id: 'assigned-orgs' }, orgs.map((o, i) => h('li', { 'data-org': o.id },
        h('span', { class: i === 0 ? 'tag lead' : 'tag' }, i === 0 ? t('cwLead') : t('cwCo')), ' ', o.name))) : t('cwNoOrgs')),
      s.assignee ? row(t('cwAssignee'), person(d, s.assignee)) : null)),
    orgs.length > 1 || (s.co_feedback || []).length ? [
      h('h3', {}, t('cwCoFeedback')),
      (s.co_feedback || []).length
        ? h('ul', { class: 'feedback', id: 'co-feedback' }, s.co_feedback.map((f) => h('li', {},
          h('strong', {}, f.org.name), ' · ', person(d, f.by_user), ' · ', h('time', { datetime: f.at }, when(f.at)),
          h('div', { class: 'pre' }, f.opinion))))
        : h('p', { class: 'empty' }, t('cwNoFeedback'))] : null);
}

// ---- the agreement, its installments, the outcome and follow-ups ----

function agreementSection(d, id, session, main, reload) {
  const s = d.state;
  const a = s.agreement;
  if (!a && !s.outcome) return null;
  const error = h('p', { class: 'error', role: 'alert', id: 'installment-error' });
  const may = holds(session, 'RecordPayments');
  const o = s.outcome;
  return h('section', { id: 'agreement' }, h('h2', {}, a ? t('cwAgreement') : t('cwOutcome')),
    o ? h('p', { id: 'outcome' }, h('span', { class: o.success ? 'tag risk-GREEN' : 'tag risk-RED' }, o.success ? t('cwSuccess') : t('cwFailed')),
      ' ', o.on_time ? t('cwOnTime') : t('cwLate'), ' · ', when(o.at), ' · ', orgName(s, o.by_org),
      h('div', { class: 'pre' }, o.text)) : null,
    a ? [
      h('table', { class: 'fields' }, h('tbody', {},
        row(t('cwForm'), label('agreementForm', a.form)),
        row(t('cwTerms'), a.terms, 'pre'),
        a.signed_at ? row(t('cwSignedAt'), when(a.signed_at)) : null)),
      (a.installments || []).length ? [
        h('h3', {}, t('cwInstallments')), error,
        h('table', { class: 'grid', id: 'installments' },
          h('thead', {}, h('tr', {}, [t('cwNo'), t('cwAmount'), t('cwDueAt'), t('cwPaid'), ''].map((x) => h('th', {}, x)))),
          h('tbody', {}, a.installments.map((i, n) => {
            const late = !i.paid_at && Date.parse(i.due_at) < Date.now();
            return h('tr', { 'data-installment': i.id, class: i.paid_at ? 'paid' : '' },
              h('td', {}, String(n + 1)),
              h('td', { class: 'num' }, yuan(i.amount)),
              h('td', {}, when(i.due_at)),
              h('td', {}, i.paid_at
                ? h('span', { class: 'tag risk-GREEN' }, `${t('cwPaidAt')} ${when(i.paid_at)}`)
                : h('span', { class: `countdown ${levelClass(null, late)}` }, `${t('cwUnpaid')} · ${countdown(i.due_at)}`)),
              h('td', {}, may && !i.paid_at ? h('button', {
                type: 'button', class: 'mark-paid',
                onclick: async () => {
                  fill(error);
                  try {
                    await api('POST', `/v1/cases/${encodeURIComponent(id)}/installments/${encodeURIComponent(i.id)}/paid`);
                    await reload();
                  } catch (err) { fill(error, err.message); }
                },
              }, t('cwMarkPaid')) : null));
          })))] : null,
      h('p', {}, link(`/console/cases/${encodeURIComponent(id)}/agreement`, t('cwPrint')))] : null,
    (s.follow_ups || []).length ? [h('h3', {}, t('cwFollowUps')), h('ul', { id: 'follow-ups' }, s.follow_ups.map((f) => h('li', {},
      label('followUpMethod', f.method), ' · ', `${t('cwSatisfaction')} ${f.satisfaction}/5`,
      f.agreement_performed === null || f.agreement_performed === undefined ? null : ` · ${t('cwPerformed')}: ${f.agreement_performed ? t('yes') : t('no')}`,
      f.note ? h('div', { class: 'pre' }, f.note) : null)))] : null);
}

// ---- the steps the caller may take now ----

async function actions(d, id, offset, main, session) {
  const list = d.allowed_actions || [];
  if (!list.length) return h('p', { class: 'empty' }, t('noActions'));
  const spec = await openapi();
  const panel = h('div', { class: 'action-form' });
  const suggestion = d.suggestion
    ? h('p', { class: 'suggestion', id: 'suggestion' }, `${t('suggestion')}: `, d.suggestion.target_org_name,
      ` (${d.suggestion.target_org_id}; ${t('rule')} ${d.suggestion.rule_id})`)
    : null;
  const open = (a) => {
    const form = h('form', { id: `form-${a.kind}`, 'data-kind': a.kind });
    const initial = { offset };
    if (a.kind === 'DISPATCH' && d.suggestion) initial.to = d.suggestion.target_org_id;
    const read = build(spec, payloadSchema(spec, a.schema), form, `p-${a.kind}`, initial);
    const error = h('p', { class: 'error', role: 'alert', id: 'action-error' });
    form.append(h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary' }, `${t('submit')}: ${lang() === 'en' ? a.label_en : a.label_zh}`),
      h('button', { type: 'button', onclick: () => fill(panel) }, t('cancel'))), error);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      fill(error);
      let payload;
      try { payload = read() || {}; } catch (msg) { return fill(error, String(msg)); }
      try {
        await api('POST', `/v1/cases/${encodeURIComponent(id)}/actions`, { kind: a.kind, payload });
        casePage(main, id, session);
      } catch (err) {
        fill(error, err.message);
      }
    });
    form.addEventListener('keydown', (e) => { if (e.key === 'Escape') fill(panel); });
    fill(panel, h('h3', {}, lang() === 'en' ? a.label_en : a.label_zh), form);
    const first = form.querySelector('input, select, textarea, button');
    if (first) first.focus();
  };
  return h('div', {}, suggestion,
    h('div', { class: 'buttons' }, list.map((a) => h('button', {
      type: 'button', class: 'action', 'data-action': a.kind, onclick: () => open(a),
    }, lang() === 'en' ? a.label_en : a.label_zh))),
    panel);
}
