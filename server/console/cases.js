// 案件: GET /v1/cases with filters (status, category, risk, area, overdue) and a search,
// paging with `next` (passed back as `before`).
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, codes, when, countdown } from './i18n.js';
import { levelClass } from './tasks.js';
import { onLive } from './live.js'; // live updates (supervisor branch)

function select(name, table, value) {
  return h('select', { name, id: `f-${name}` },
    h('option', { value: '' }, t('any')),
    codes(table).map((c) => h('option', { value: c, selected: c === value }, label(table, c))));
}

export async function casesPage(main, session) {
  const q = new URLSearchParams(location.search);
  const form = h('form', { class: 'filters', id: 'case-filters' },
    h('label', {}, t('status'), select('status', 'status', q.get('status'))),
    h('label', {}, t('category'), select('category', 'category', q.get('category'))),
    h('label', {}, t('risk'), select('risk', 'risk', q.get('risk'))),
    h('label', {}, t('area'), h('input', { name: 'area', id: 'f-area', value: q.get('area') || '', size: 12, inputmode: 'numeric' })),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'overdue', id: 'f-overdue', checked: q.get('overdue') === 'true' }), t('overdue')),
    h('label', {}, t('search'), h('input', { type: 'search', name: 'text', id: 'f-text', value: q.get('text') || '', placeholder: t('searchHint') })),
    h('button', { type: 'submit', class: 'primary' }, t('filter')));
  const tbody = h('tbody');
  const table = h('table', { class: 'grid', id: 'cases' },
    h('thead', {}, h('tr', {}, [t('caseNo'), t('title'), t('status'), t('category'), t('risk'), t('deadline'), t('timeLeft')].map((c) => h('th', {}, c)))),
    tbody);
  const status = h('p', { class: 'error', role: 'alert' });
  const more = h('button', { type: 'button', id: 'more', hidden: true }, t('more'));
  fill(main, h('h1', {}, t('navCases')), form, status, table, more);

  const params = () => {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== '') p.set(k, k === 'overdue' ? 'true' : v);
    return p;
  };
  let next = null;
  const load = async (append) => {
    const p = params();
    p.set('limit', '50');
    if (append && next !== null) p.set('before', String(next));
    fill(status);
    try {
      const page = await api('GET', `/v1/cases?${p}`);
      if (!append) fill(tbody);
      for (const c of page.items) {
        const overdue = c.due_at && Date.parse(c.due_at) < Date.now();
        tbody.append(h('tr', { 'data-case': c.id },
          h('td', { class: 'caseno' }, c.case_no || '—'),
          h('td', {}, link(`/console/cases/${encodeURIComponent(c.id)}`, c.title || '—')),
          h('td', {}, h('span', { class: 'tag' }, label('status', c.status))),
          h('td', {}, label('category', c.category)),
          h('td', {}, h('span', { class: `tag risk-${c.risk_level}` }, label('risk', c.risk_level))),
          h('td', {}, when(c.due_at)),
          h('td', {}, c.due_at ? h('span', { class: `countdown ${levelClass(null, overdue)}` }, countdown(c.due_at)) : '')));
      }
      if (!tbody.children.length) tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, t('noCases'))));
      next = page.next ?? null;
      more.hidden = next === null;
    } catch (err) {
      fill(status, err.message);
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = params();
    history.replaceState(null, '', `/console/cases${p.toString() ? `?${p}` : ''}`);
    load(false);
  });
  more.addEventListener('click', () => load(true));
  // ---- live updates (supervisor branch): a new case or warning reloads the first page ----
  onLive(main, () => load(false));
  await load(false);
}
