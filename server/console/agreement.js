// 人民调解协议书: the printable mediation agreement of a case with an agreement. The parties'
// full particulars come from an unmasked read (`?unmasked=true`), which the server allows
// only to the roles that may see them, for a case they work, and audits; anyone else sees
// the masked particulars and a note saying so. On screen it looks like the paper; print.css
// (media="print") lays it out on A4 without the console's chrome. Chinese first; the English
// version translates the same layout.
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, lang, yuan, addStrings } from './i18n.js';
import { holds, orgName, useDirectory } from './case.js';

addStrings({
  zh: {
    agTitle: '人民调解协议书', agNo: '编号', agPrint: '打印', agBack: '返回案件',
    agMasked: '您无权查看当事人的完整信息，协议书中的个人信息已隐去；请由承办单位打印。',
    agUnmaskedNote: '本页显示当事人完整信息，查看已记入审计日志。',
    agNoAgreement: '本案尚无调解协议，不能打印协议书。',
    agName: '姓名', agSex: '性别', agEthnicity: '民族', agBirth: '出生日期', agIdType: '证件类型', agId: '证件号码',
    agAddress: '住址', agPhone: '联系电话',
    agFacts: '纠纷主要事实、争议事项', agOutcome: '调解结果', agTermsIntro: '经调解，双方当事人自愿达成如下协议：',
    agPerformance: '履行方式、时限', agPerformOnce: '按上述协议内容履行。',
    agInstNo: '期次', agInstAmount: '金额', agInstDue: '履行期限', agInstPaid: '履行情况', agInstOf: '第{n}期',
    agPaid: '已履行', agTotal: '合计',
    agBinding: '本协议经双方当事人签名（盖章）、调解员签名并加盖人民调解委员会印章后生效，具有法律约束力，当事人应当按照约定履行。双方当事人可以自本协议生效之日起三十日内共同向人民法院申请司法确认。',
    agCopies: '本协议一式{n}份，当事人各执一份，人民调解委员会留存一份。',
    agOrg: '调解组织', agCase: '案件编号',
    agSignParty: '（签名/盖章）', agSignMediator: '调解员（签名）', agSignRecorder: '记录人（签名）',
    agSeal: '人民调解委员会（印章）', agDate: '年　　月　　日',
  },
  en: {
    agTitle: 'People\'s Mediation Agreement', agNo: 'No.', agPrint: 'Print', agBack: 'Back to the case',
    agMasked: 'You may not see the parties\' full particulars: personal data is masked here. Let the handling organisation print it.',
    agUnmaskedNote: 'This page shows the parties\' full particulars; the read is recorded in the audit log.',
    agNoAgreement: 'This case has no mediation agreement to print.',
    agName: 'Name', agSex: 'Sex', agEthnicity: 'Ethnicity', agBirth: 'Date of birth', agIdType: 'ID type', agId: 'ID number',
    agAddress: 'Address', agPhone: 'Phone',
    agFacts: 'Main facts of the dispute and the issues', agOutcome: 'Outcome of the mediation',
    agTermsIntro: 'Through mediation, the parties have voluntarily agreed as follows:',
    agPerformance: 'Manner and time of performance', agPerformOnce: 'As set out in the terms above.',
    agInstNo: 'Installment', agInstAmount: 'Amount', agInstDue: 'Due by', agInstPaid: 'Performed', agInstOf: 'No. {n}',
    agPaid: 'Paid', agTotal: 'Total',
    agBinding: 'This agreement takes effect once signed (or sealed) by the parties, signed by the mediator and sealed by the people\'s mediation committee. It is legally binding and the parties shall perform it as agreed. Within thirty days of its taking effect the parties may jointly apply to the people\'s court for judicial confirmation.',
    agCopies: 'This agreement is made in {n} copies: one for each party and one kept by the people\'s mediation committee.',
    agOrg: 'Mediation organisation', agCase: 'Case no.',
    agSignParty: ' (signature/seal)', agSignMediator: 'Mediator (signature)', agSignRecorder: 'Recorder (signature)',
    agSeal: 'People\'s mediation committee (seal)', agDate: 'Date:',
  },
});

const ZH_NUM = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];
const count = (n) => (lang() === 'en' ? String(n) : (ZH_NUM[n] || String(n)));

/** `2026-12-05T...` → 2026年12月05日 / 2026-12-05. */
function dateOf(stamp) {
  if (!stamp) return '';
  const [y, m, d] = [stamp.slice(0, 4), stamp.slice(5, 7), stamp.slice(8, 10)];
  return lang() === 'en' ? `${y}-${m}-${d}` : `${y}年${m}月${d}日`;
}

/** The date of birth an 18-digit resident ID number carries; '' when masked or another document. */
function birthOf(p) {
  if (p.id_type !== 'ID_CARD' || !/^\d{17}[\dXx]$/.test(p.id_number || '')) return '';
  const s = p.id_number;
  return dateOf(`${s.slice(6, 10)}-${s.slice(10, 12)}-${s.slice(12, 14)}`);
}

const blank = (v) => (v === null || v === undefined || v === '' ? '　' : v);

function item(name, value, cls = '') {
  return h('span', { class: `ag-item ${cls}` }, h('span', { class: 'ag-label' }, `${name}：`), h('span', { class: 'ag-value' }, blank(value)));
}

export async function agreementPage(main, id, session) {
  fill(main, h('p', {}, t('loading')));
  const path = `/v1/cases/${encodeURIComponent(id)}`;
  let d;
  let unmasked = false;
  try {
    if (holds(session, 'ReadPersonalData')) {
      try {
        d = await api('GET', `${path}?unmasked=true`);
        unmasked = true;
      } catch (err) {
        // Only the refusal of the full read falls back to the masked one (a role that may
        // see personal data, on a case it does not work); anything else is shown.
        if (err.status !== 403) throw err;
      }
    }
    if (!d) d = await api('GET', path);
  } catch (err) {
    return fill(main, link(`/console/cases/${encodeURIComponent(id)}`, t('agBack')),
      h('p', { class: 'error', role: 'alert', id: 'agreement-error' }, err.message));
  }
  await useDirectory();
  const c = d.case;
  const s = d.state;
  const a = s.agreement;
  document.title = `${t('agTitle')} ${s.case_no || ''} · ${t('system')}`;
  const toolbar = h('div', { class: 'ag-toolbar no-print', id: 'agreement-toolbar' },
    link(`/console/cases/${encodeURIComponent(id)}`, t('agBack')),
    a ? h('button', { type: 'button', class: 'primary', id: 'print', onclick: () => window.print() }, t('agPrint')) : null,
    h('span', { class: unmasked ? 'note' : 'note warn', id: unmasked ? 'agreement-unmasked' : 'agreement-masked', role: unmasked ? null : 'note' },
      unmasked ? t('agUnmaskedNote') : t('agMasked')));
  if (!a) {
    return fill(main, toolbar, h('p', { class: 'error', role: 'alert', id: 'agreement-error' }, t('agNoAgreement')));
  }
  const org = orgName(s, (s.outcome && s.outcome.by_org) || s.handling_org);
  const signedOn = a.signed_at || (s.outcome && s.outcome.at) || s.resolved_at;
  const order = { APPLICANT: 0, RESPONDENT: 1, THIRD_PARTY: 2 };
  const parties = [...c.parties].sort((x, y) => (order[x.role] ?? 9) - (order[y.role] ?? 9));
  const installments = a.installments || [];
  const total = installments.reduce((sum, i) => sum + (Number(i.amount) || 0), 0);

  const paper = h('article', { class: 'paper', id: 'agreement', lang: lang() === 'en' ? 'en' : 'zh-CN' },
    h('h1', { class: 'ag-title' }, t('agTitle')),
    h('p', { class: 'ag-no' }, `${t('agNo')}：`, h('span', { class: 'caseno', id: 'agreement-no' }, s.case_no || '')),
    h('div', { class: 'ag-parties', id: 'agreement-parties' }, parties.map((p) => h('div', { class: 'party-block', 'data-party': p.id },
      h('p', { class: 'ag-party-head' }, h('strong', {}, `${label('partyRole', p.role)}：`), h('span', { class: 'ag-value' }, p.name)),
      h('p', { class: 'ag-line' }, item(t('agSex'), p.sex === 'UNSPECIFIED' ? '' : label('sex', p.sex)), item(t('agEthnicity'), p.ethnicity),
        item(t('agBirth'), birthOf(p))),
      h('p', { class: 'ag-line' }, item(t('agIdType'), label('idType', p.id_type)), item(t('agId'), p.id_number, 'mono')),
      h('p', { class: 'ag-line' }, item(t('agAddress'), p.address, 'wide')),
      h('p', { class: 'ag-line' }, item(t('agPhone'), p.phone, 'mono'))))),
    h('h2', {}, `${t('agFacts')}：`),
    h('p', { class: 'ag-body pre', id: 'agreement-facts' }, c.summary || c.title),
    s.outcome ? [h('h2', {}, `${t('agOutcome')}：`), h('p', { class: 'ag-body pre', id: 'agreement-outcome' }, s.outcome.text)] : null,
    h('h2', {}, t('agTermsIntro')),
    h('p', { class: 'ag-body pre ag-terms', id: 'agreement-terms' }, a.terms),
    h('h2', {}, `${t('agPerformance')}：`),
    installments.length
      ? h('table', { class: 'ag-installments', id: 'agreement-installments' },
        h('thead', {}, h('tr', {}, [t('agInstNo'), t('agInstAmount'), t('agInstDue')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, installments.map((i, n) => h('tr', {},
          h('td', {}, t('agInstOf').replace('{n}', count(n + 1))),
          h('td', { class: 'num' }, yuan(i.amount)),
          h('td', {}, dateOf(i.due_at))))),
        h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, t('agTotal')), h('td', { class: 'num' }, yuan(total)), h('td'))))
      : h('p', { class: 'ag-body' }, t('agPerformOnce')),
    h('p', { class: 'ag-body' }, t('agBinding')),
    h('p', { class: 'ag-body' }, t('agCopies').replace('{n}', count(parties.length + 1))),
    h('p', { class: 'ag-line ag-org' }, item(t('agOrg'), org), item(t('agCase'), s.case_no || '', 'mono')),
    h('div', { class: 'signatures', id: 'signatures' },
      parties.map((p) => h('p', { class: 'sign-line sign-party' },
        h('span', { class: 'sign-who' }, `${label('partyRole', p.role)}${t('agSignParty')}：`), h('span', { class: 'sign-blank' }),
        h('span', { class: 'sign-date' }, t('agDate')))),
      h('p', { class: 'sign-line sign-mediator' }, h('span', { class: 'sign-who' }, `${t('agSignMediator')}：`), h('span', { class: 'sign-blank' }),
        h('span', { class: 'sign-date' }, t('agDate'))),
      h('p', { class: 'sign-line sign-recorder' }, h('span', { class: 'sign-who' }, `${t('agSignRecorder')}：`), h('span', { class: 'sign-blank' })),
      h('div', { class: 'seal', id: 'seal' },
        h('p', {}, org),
        h('p', { class: 'sign-seal' }, t('agSeal')),
        h('p', { class: 'sign-on' }, dateOf(signedOn)))));
  fill(main, toolbar, paper);
  toolbar.querySelector('#print')?.focus();
}
