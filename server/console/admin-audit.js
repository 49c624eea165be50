// 审计日志: GET /v1/audit, newest first, filtered by actor (user id), action and a time
// range (RFC 3339 in the county's offset), paged with `next` (passed back as `before`);
// "verify the chain" (GET /v1/audit/verify) says plainly whether the chain holds, and from
// which entry it does not.
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, codes, when } from './i18n.js';
import { may } from './app.js';
import { alertLine, table, emptyRow, tf } from './admin-ui.js';

/** `2026-12-05T14:30` (a datetime-local value) → RFC 3339 in the offset `offset`. */
function stampOf(local, offset) {
  return local ? `${local.length === 16 ? `${local}:00` : local}${offset}` : '';
}

/** The offset of a stamp the API gave (`+08:00`), else this browser's. */
function offsetOf(stamp) {
  const m = stamp && stamp.match(/([+-]\d\d:\d\d|Z)$/);
  if (m) return m[1];
  const min = -new Date().getTimezoneOffset();
  const abs = Math.abs(min);
  return `${min < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  if (typeof detail !== 'object') return String(detail);
  return Object.entries(detail).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
}

export async function auditTab(body) {
  const q = new URLSearchParams(location.search);
  const users = h('datalist', { id: 'audit-users' });
  const form = h('form', { class: 'filters', id: 'audit-filters' },
    h('label', {}, t('adm_actor'), h('input', { id: 'f-user', name: 'user', list: 'audit-users', value: q.get('user') || '', placeholder: t('adm_actorHint'), autocomplete: 'off' })),
    h('label', {}, t('adm_action'), h('select', { id: 'f-action', name: 'action' },
      h('option', { value: '' }, t('adm_all')),
      codes('auditAction').map((c) => h('option', { value: c, selected: c === q.get('action') }, label('auditAction', c))))),
    h('label', {}, t('adm_from'), h('input', { type: 'datetime-local', id: 'f-from', name: 'from', value: q.get('from') || '' })),
    h('label', {}, t('adm_to'), h('input', { type: 'datetime-local', id: 'f-to', name: 'to', value: q.get('to') || '' })),
    h('button', { type: 'submit', class: 'primary' }, t('adm_query')),
    users);
  const verify = h('button', { type: 'button', id: 'verify-chain' }, t('adm_verify'));
  const verdict = h('div', { id: 'verify-result', class: 'adm-verdict', role: 'status', hidden: true });
  const error = alertLine('audit-error');
  const [grid, tbody] = table('audit', [t('adm_seq'), t('adm_time'), t('adm_actor'), t('adm_role'), t('adm_org'), t('adm_action'), t('adm_case'), t('adm_detail')]);
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true }, t('more'));
  fill(body, form, h('div', { class: 'adm-toolbar' }, verify), verdict, error, grid, more);

  if (may('ManageUsers')) {
    api('GET', '/v1/users').then(({ users: list }) => fill(users, list.map((u) => h('option', { value: u.id }, `${u.display_name}（${u.username}）`))))
      .catch(() => {});
  }

  let offset = offsetOf(null);
  let next = null;
  const load = async (append) => {
    const f = form.elements;
    const p = new URLSearchParams();
    if (f.user.value.trim()) p.set('user', f.user.value.trim());
    if (f.action.value) p.set('action', f.action.value);
    if (f.from.value) p.set('from', stampOf(f.from.value, offset));
    if (f.to.value) p.set('to', stampOf(f.to.value, offset));
    p.set('limit', '50');
    if (append && next !== null) p.set('before', String(next));
    fill(error);
    try {
      const page = await api('GET', `/v1/audit?${p}`);
      if (!append) fill(tbody);
      for (const e of page.items) {
        offset = offsetOf(e.at);
        const detail = detailText(e.detail);
        tbody.append(h('tr', { 'data-seq': e.seq, 'data-action': e.action },
          h('td', { class: 'mono' }, String(e.seq)),
          h('td', {}, h('time', { datetime: e.at }, when(e.at))),
          h('td', { class: 'mono' }, e.user_id),
          h('td', {}, label('userRole', e.role)),
          h('td', { class: 'mono adm-nowrap' }, e.org_id),
          h('td', {}, h('span', { class: 'tag' }, label('auditAction', e.action))),
          h('td', {}, e.case_id ? link(`/console/cases/${encodeURIComponent(e.case_id)}`, h('span', { class: 'mono' }, e.case_id.slice(0, 8))) : ''),
          h('td', { title: detail }, h('span', { class: 'adm-detail' }, detail))));
      }
      emptyRow(tbody, 8);
      next = page.next ?? null;
      more.hidden = next === null;
    } catch (err) {
      fill(error, err.message);
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const keep = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) keep.set(k, v);
    history.replaceState(null, '', `/console/admin/audit${keep.toString() ? `?${keep}` : ''}`);
    load(false);
  });
  more.addEventListener('click', () => load(true));
  verify.addEventListener('click', async () => {
    verdict.hidden = true;
    fill(error);
    verify.disabled = true;
    try {
      const r = await api('GET', '/v1/audit/verify');
      verdict.className = `adm-verdict ${r.ok ? 'ok' : 'bad'}`;
      verdict.setAttribute('role', r.ok ? 'status' : 'alert');
      fill(verdict, r.ok ? tf('adm_verifyOk', r.entries) : tf('adm_verifyBad', r.first_bad ?? '?', r.entries));
      verdict.hidden = false;
    } catch (err) {
      fill(error, err.message);
    } finally {
      verify.disabled = false;
    }
  });
  await load(false);
}
