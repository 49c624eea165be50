// 案件详情: fields, parties (masked; the full details on request, audited by the server),
// deadlines, timeline, and the actions from `allowed_actions` as generated forms.
import { api, openapi } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, lang, when, countdown, yuan } from './i18n.js';
import { levelClass } from './tasks.js';
import { build, payloadSchema } from './form.js';

// Who is offered the full details: the roles the server lets read them (it decides, and
// audits; anyone else would only be refused).
const MAY_UNMASK = ['VILLAGE_MEDIATOR', 'DISPATCHER', 'DEPARTMENT_HANDLER'];

function row(name, value, cls) {
  return h('tr', {}, h('th', { scope: 'row' }, name), h('td', { class: cls }, value));
}

export async function casePage(main, id, session, unmasked = false) {
  fill(main, h('p', {}, t('loading')));
  let d;
  try {
    d = await api('GET', `/v1/cases/${encodeURIComponent(id)}${unmasked ? '?unmasked=true' : ''}`);
  } catch (err) {
    return fill(main, link('/console/cases', t('back')), h('p', { class: 'error', role: 'alert', id: 'case-error' }, err.message));
  }
  const c = d.case;
  const s = d.state;
  const offset = (c.recorded_at || '').match(/[+-]\d\d:\d\d$|Z$/)?.[0] || '+08:00';
  const reveal = MAY_UNMASK.includes(session.user.role) && !unmasked
    ? h('button', { type: 'button', id: 'reveal', onclick: () => casePage(main, id, session, true) }, t('reveal'))
    : null;
  fill(main,
    link('/console/cases', t('back')),
    h('h1', { id: 'case-title' }, c.title),
    h('p', { class: 'case-head' },
      h('span', { class: 'caseno', id: 'case-no' }, s.case_no || '—'), ' ',
      h('span', { class: 'tag', id: 'case-status' }, label('status', s.status)), ' ',
      h('span', { class: `tag risk-${c.risk_level}` }, label('risk', c.risk_level))),
    h('section', { class: 'actions', id: 'actions' }, h('h2', {}, t('actions')), await actions(d, id, offset, main, session)),
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
        row(t('handlingOrg'), s.handling_org || '—')))),
    h('section', {}, h('h2', {}, t('parties'), ' ', reveal,
      unmasked ? h('span', { class: 'note', id: 'revealed' }, t('revealed')) : null),
      h('table', { class: 'grid', id: 'parties' },
        h('thead', {}, h('tr', {}, [t('role'), t('name'), t('idNumber'), t('phone'), t('address')].map((x) => h('th', {}, x)))),
        h('tbody', {}, c.parties.map((p) => h('tr', {},
          h('td', {}, label('partyRole', p.role)), h('td', {}, p.name), h('td', { class: 'mono' }, p.id_number),
          h('td', { class: 'mono' }, p.phone), h('td', {}, p.address)))))),
    h('section', {}, h('h2', {}, t('deadlines')),
      h('table', { class: 'grid', id: 'deadlines' },
        h('thead', {}, h('tr', {}, [t('kind'), t('due'), t('level'), t('timeLeft')].map((x) => h('th', {}, x)))),
        h('tbody', {}, (s.deadlines || []).map((dl) => h('tr', {},
          h('td', {}, label('step', dl.kind)), h('td', {}, when(dl.due_at)),
          h('td', {}, label('level', dl.level)),
          h('td', {}, h('span', { class: `countdown ${levelClass(dl.level, Date.parse(dl.due_at) < Date.now())}` }, countdown(dl.due_at)))))))),
    h('section', {}, h('h2', {}, t('timeline')),
      h('ol', { class: 'timeline', id: 'timeline' }, (s.timeline || []).map((e) => h('li', {},
        h('time', {}, when(e.at)), ' ', h('strong', {}, label('step', e.kind)), ' · ',
        label('userRole', e.by_role), ' ', e.by_user, ' · ', e.org, ' → ', label('status', e.status_after))))));
}

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
