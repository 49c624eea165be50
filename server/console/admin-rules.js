// 分派规则 (GET/POST /v1/dispatch-rules, DELETE /v1/dispatch-rules/{id}) and 办理时限
// (GET /v1/time-limits, PUT /v1/time-limits/{id}: one form per rule). Reading and changing
// are separate permissions; the API keeps changes inside the caller's scope (out_of_scope).
import { api } from './api.js';
import { h, fill } from './dom.js';
import { t, label, codes } from './i18n.js';
import { may } from './app.js';
import {
  loadOrgs, orgOptions, dialog, confirmThen, field, input, codeSelect, alertLine, table, emptyRow, orgName, tf, span,
} from './admin-ui.js';

const TIERS = ['VILLAGE', 'TOWNSHIP', 'COUNTY'];

export async function rulesTab(body) {
  const manage = may('ManageDispatchRules');
  const error = alertLine('rules-error');
  const add = manage ? h('button', { type: 'button', class: 'primary', id: 'new-rule' }, t('adm_newRule')) : null;
  const [grid, tbody] = table('rules', [t('adm_priority'), t('adm_id'), t('adm_category'), t('adm_risk'), t('adm_areaPrefix'),
    t('adm_centerOrg'), t('adm_targetOrg'), t('adm_automatic'), manage ? t('adm_actions') : null].filter(Boolean));
  fill(body, h('div', { class: 'adm-toolbar' }, add, manage ? null : h('span', { class: 'empty' }, t('adm_readOnly'))), error, grid);

  // Organisation names and pickers for those who may read the tree; ids otherwise.
  const orgs = may('ManageOrgs') ? await loadOrgs().catch(() => []) : [];
  const load = async () => {
    fill(error);
    try {
      const rules = await api('GET', '/v1/dispatch-rules');
      fill(tbody);
      for (const r of rules) {
        tbody.append(h('tr', { 'data-rule': r.id },
          h('td', {}, String(r.priority)),
          h('td', { class: 'mono' }, r.id),
          h('td', {}, r.category ? label('category', r.category) : t('adm_any')),
          h('td', {}, r.risk_level ? h('span', { class: `tag risk-${r.risk_level}` }, label('risk', r.risk_level)) : t('adm_any')),
          h('td', { class: 'mono' }, r.area_prefix || t('adm_whole')),
          h('td', { title: r.center_org }, orgName(orgs, r.center_org)),
          h('td', { title: r.target_org }, orgName(orgs, r.target_org)),
          h('td', {}, r.automatic ? t('yes') : t('no')),
          manage ? h('td', { class: 'adm-row-actions' },
            h('button', { type: 'button', class: 'danger', 'data-act': 'remove', onclick: () => remove(r) }, t('adm_remove'))) : null));
      }
      emptyRow(tbody, manage ? 9 : 8);
    } catch (err) {
      fill(error, err.message);
    }
  };

  const remove = async (r) => {
    const done = await confirmThen(tf('adm_removeConfirm', r.id), t('adm_remove'), async () => {
      await api('DELETE', `/v1/dispatch-rules/${encodeURIComponent(r.id)}`);
      return true;
    });
    if (done) await load();
  };

  const orgField = (id, text, only) => (orgs.length
    ? field(id, text, h('select', { required: true }, orgOptions(orgs, { empty: '', only })))
    : field(id, text, input({ required: true, maxlength: 64 })));
  if (add) {
    add.addEventListener('click', async () => {
      const done = await dialog({
        title: t('adm_newRule'),
        submit: t('submit'),
        body: [
          field('nr-id', t('adm_id'), input({ required: true, maxlength: 64 })),
          field('nr-priority', t('adm_priority'), input({ type: 'number', required: true, value: '100', step: '1' })),
          field('nr-category', t('adm_category'), codeSelect('category', codes('category'), { empty: t('adm_any') })),
          field('nr-risk_level', t('adm_risk'), codeSelect('risk', codes('risk'), { empty: t('adm_any') })),
          field('nr-area_prefix', t('adm_areaPrefix') + t('adm_optional'), input({ inputmode: 'numeric', maxlength: 12 })),
          orgField('nr-center_org', t('adm_centerOrg'), (o) => o.kind === 'CENTER'),
          orgField('nr-target_org', t('adm_targetOrg'), () => true),
          h('div', { class: 'adm-field' }, h('span'), h('label', { class: 'check' },
            h('input', { type: 'checkbox', id: 'nr-automatic', name: 'automatic' }), ' ', t('adm_automatic'))),
        ],
        onSubmit: (form) => {
          const f = form.elements;
          const opt = (x) => (x.value.trim() === '' ? null : x.value.trim());
          return api('POST', '/v1/dispatch-rules', {
            id: f.id.value.trim(),
            priority: Number(f.priority.value),
            category: opt(f.category),
            risk_level: opt(f.risk_level),
            area_prefix: opt(f.area_prefix),
            center_org: f.center_org.value.trim(),
            target_org: f.target_org.value.trim(),
            automatic: f.automatic.checked,
          });
        },
      });
      if (done) await load();
    });
  }
  await load();
}

// The limits a rule carries, in milliseconds (the API's unit), edited in hours.
const LIMITS = ['accept', 'accept_high_risk', 'sign', 'handle_simple', 'handle_general', 'handle_complex', 'follow_up', 'co_handle'];
const HOUR = 3_600_000;

function hoursInput(id, ms, disabled) {
  const hint = h('small', { class: 'adm-hint', id: `${id}-span` }, span(ms));
  const el = input({
    id, type: 'number', min: '0', step: 'any', required: true, disabled, class: 'adm-hours',
    value: ms === undefined || ms === null ? '' : String(Number(ms) / HOUR),
  });
  el.addEventListener('input', () => fill(hint, span(Number(el.value) * HOUR)));
  return [el, hint];
}

/** The fields of a rule's limits (hours) and yellow percentage, ids prefixed by `p`. */
function limitFields(p, limits, disabled) {
  return h('div', { class: 'adm-limits' },
    LIMITS.map((k) => {
      const [el, hint] = hoursInput(`${p}-${k}`, limits && limits[k], disabled);
      el.name = k;
      return h('div', { class: 'adm-field' },
        h('label', { for: `${p}-${k}` }, t(`lim_${k}`)),
        h('div', {}, el, ' ', h('span', { class: 'adm-unit' }, t('adm_hours')), ' ', hint));
    }),
    h('div', { class: 'adm-field' },
      h('label', { for: `${p}-yellow_percent` }, t('adm_yellowPercent')),
      h('div', {}, input({
        type: 'number', id: `${p}-yellow_percent`, name: 'yellow_percent', min: '1', max: '100', step: '1', required: true, disabled,
        value: limits && limits.yellow_percent !== undefined ? String(limits.yellow_percent) : '',
      }))));
}

function limitsOf(form) {
  const limits = {};
  for (const k of LIMITS) limits[k] = Math.round(Number(form.elements[k].value) * HOUR);
  limits.yellow_percent = Number(form.elements.yellow_percent.value);
  return limits;
}

function scopeText(r) {
  return [
    r.tier ? label('tier', r.tier) : `${t('adm_tier')}：${t('adm_any')}`,
    r.category ? label('category', r.category) : `${t('adm_category')}：${t('adm_any')}`,
    r.area_prefix ? `${t('adm_areaPrefix')} ${r.area_prefix}` : t('adm_whole'),
  ].join(' · ');
}

export async function limitsTab(body) {
  const manage = may('ManageTimeLimits');
  const error = alertLine('limits-error');
  const add = manage ? h('button', { type: 'button', class: 'primary', id: 'new-limits' }, t('adm_newLimits')) : null;
  const list = h('div', { id: 'limit-rules' });
  fill(body, h('div', { class: 'adm-toolbar' }, add, manage ? null : h('span', { class: 'empty' }, t('adm_readOnly'))),
    h('p', { class: 'note adm-intro' }, t('adm_limitsIntro')), error, list);

  const load = async () => {
    fill(error);
    let rules;
    try {
      rules = await api('GET', '/v1/time-limits');
    } catch (err) {
      return fill(error, err.message);
    }
    fill(list);
    if (!rules.length) list.append(h('p', { class: 'empty' }, t('adm_noLimits')));
    for (const r of rules) {
      const p = `lim-${r.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      const status = h('span', { class: 'adm-saved', role: 'status', id: `${p}-status` });
      const ruleError = alertLine(`${p}-error`);
      const form = h('form', { class: 'adm-limit-form', id: `${p}-form`, 'data-rule': r.id, novalidate: true },
        limitFields(p, r.limits, !manage),
        ruleError,
        manage ? h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('adm_save')), status) : null);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        fill(ruleError);
        fill(status);
        try {
          const saved = await api('PUT', `/v1/time-limits/${encodeURIComponent(r.id)}`, { ...r, limits: limitsOf(form) });
          Object.assign(r, saved);
          fill(status, t('adm_saved'));
        } catch (err) {
          fill(ruleError, err.message);
        }
      });
      list.append(h('section', { class: 'adm-limit', 'data-rule': r.id },
        h('h2', {}, h('span', { class: 'mono' }, r.id), h('span', { class: 'note' }, scopeText(r))),
        form));
    }
  };

  if (add) {
    add.addEventListener('click', async () => {
      const done = await dialog({
        title: t('adm_newLimits'),
        submit: t('adm_save'),
        body: [
          field('nl-id', t('adm_id'), input({ required: true, maxlength: 64 })),
          field('nl-tier', t('adm_tier'), codeSelect('tier', TIERS, { empty: t('adm_any') })),
          field('nl-category', t('adm_category'), codeSelect('category', codes('category'), { empty: t('adm_any') })),
          field('nl-area_prefix', t('adm_areaPrefix') + t('adm_optional'), input({ inputmode: 'numeric', maxlength: 12 }), t('adm_whole')),
          limitFields('nl', null, false),
        ],
        onSubmit: (form) => {
          const f = form.elements;
          const opt = (x) => (x.value.trim() === '' ? null : x.value.trim());
          const id = f.id.value.trim();
          return api('PUT', `/v1/time-limits/${encodeURIComponent(id)}`, {
            id, tier: opt(f.tier), category: opt(f.category), area_prefix: opt(f.area_prefix), limits: limitsOf(form),
          });
        },
      });
      if (done) await load();
    });
  }
  await load();
}
