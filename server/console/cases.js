// 案件: GET /v1/cases with filters (status, category, risk, source, township and village,
// overdue) and a search (case number, party name or text), paging with `next` (passed back
// as `before`) and a count of the rows loaded. Townships and villages come from
// GET /v1/directory (the organisations the caller may see); either becomes the list's
// `area` prefix. Without the directory the area code is typed in.
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, codes, when, countdown, addStrings } from './i18n.js';
import { levelClass } from './tasks.js';
import { onLive } from './live.js'; // live updates (supervisor branch)

addStrings({
  zh: { cqTownship: '乡镇(街道)', cqVillage: '村(社区)', cqLoaded: '已加载 {n} 条', cqAll: '（已全部加载）', cqMoreHint: '继续加载后 {n} 条' },
  en: { cqTownship: 'Township', cqVillage: 'Village', cqLoaded: '{n} loaded', cqAll: '(all)', cqMoreHint: 'load {n} more' },
});

const PAGE = 50;

function select(name, table, value) {
  return h('select', { name, id: `f-${name}` },
    h('option', { value: '' }, t('any')),
    codes(table).map((c) => h('option', { value: c, selected: c === value }, label(table, c))));
}

/** The townships and villages the caller may see, from GET /v1/directory; null without it. */
async function places() {
  try {
    const items = (await api('GET', '/v1/directory')).items || [];
    // `in_scope`: a place inside the caller's area (the directory also names the centers
    // and departments the caller dispatches to, which are no filter).
    const place = (o) => o.area_code && o.in_scope !== false;
    const townships = items.filter((o) => o.tier === 'TOWNSHIP' && o.kind === 'CENTER' && place(o));
    const villages = items.filter((o) => o.kind === 'VILLAGE' && place(o));
    return { townships, villages };
  } catch {
    return null;
  }
}

// Area codes: 6 digits of county, 3 of township, 3 of village (`330182101201`).
const townshipPrefix = (o) => o.area_code.slice(0, 9);

export async function casesPage(main, session) {
  const q = new URLSearchParams(location.search);
  const dir = await places();
  const area = q.get('area') || '';
  let areaFields;
  let areaValue;
  if (dir) {
    const township = h('select', { id: 'f-township', name: 'township' },
      h('option', { value: '' }, t('any')),
      dir.townships.map((o) => h('option', { value: townshipPrefix(o), 'data-org': o.id }, o.name)));
    const village = h('select', { id: 'f-village', name: 'village' });
    const fillVillages = () => {
      const chosen = dir.townships.find((o) => townshipPrefix(o) === township.value);
      const shown = dir.villages.filter((v) => !chosen || v.parent_id === chosen.id || v.area_code.startsWith(township.value));
      const keep = village.value;
      fill(village, h('option', { value: '' }, t('any')), shown.map((v) => h('option', { value: v.area_code }, v.name)));
      if (shown.some((v) => v.area_code === keep)) village.value = keep;
    };
    // The URL's `area` back into the selects.
    if (area.length >= 9) township.value = area.slice(0, 9);
    fillVillages();
    if (area.length === 12) village.value = area;
    township.addEventListener('change', () => { village.value = ''; fillVillages(); });
    areaFields = [
      h('label', { for: 'f-township' }, t('cqTownship'), township),
      h('label', { for: 'f-village' }, t('cqVillage'), village),
    ];
    areaValue = () => village.value || township.value;
  } else {
    const input = h('input', { name: 'area', id: 'f-area', value: area, size: 12, inputmode: 'numeric' });
    areaFields = [h('label', { for: 'f-area' }, t('area'), input)];
    areaValue = () => input.value.trim();
  }
  const form = h('form', { class: 'filters', id: 'case-filters' },
    h('label', { for: 'f-status' }, t('status'), select('status', 'status', q.get('status'))),
    h('label', { for: 'f-category' }, t('category'), select('category', 'category', q.get('category'))),
    h('label', { for: 'f-risk' }, t('risk'), select('risk', 'risk', q.get('risk'))),
    h('label', { for: 'f-source' }, t('source'), select('source', 'source', q.get('source'))),
    areaFields,
    h('label', { class: 'check', for: 'f-overdue' }, h('input', { type: 'checkbox', name: 'overdue', id: 'f-overdue', checked: q.get('overdue') === 'true' }), t('overdue')),
    h('label', { for: 'f-text' }, t('search'), h('input', { type: 'search', name: 'text', id: 'f-text', value: q.get('text') || '', placeholder: t('searchHint') })),
    h('button', { type: 'submit', class: 'primary' }, t('filter')));
  const tbody = h('tbody');
  const table = h('table', { class: 'grid', id: 'cases' },
    h('thead', {}, h('tr', {}, [t('caseNo'), t('title'), t('status'), t('category'), t('risk'), t('source'), t('deadline'), t('timeLeft')].map((c) => h('th', {}, c)))),
    tbody);
  const status = h('p', { class: 'error', role: 'alert' });
  const loaded = h('p', { class: 'loaded', id: 'loaded-count', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', id: 'more', hidden: true }, t('more'));
  fill(main, h('h1', {}, t('navCases')), form, status, loaded, table, more);

  const params = () => {
    const p = new URLSearchParams();
    for (const k of ['status', 'category', 'risk', 'source']) {
      const v = form.elements[k].value;
      if (v) p.set(k, v);
    }
    const a = areaValue();
    if (a) p.set('area', a);
    if (form.elements.overdue.checked) p.set('overdue', 'true');
    const text = form.elements.text.value.trim();
    if (text) p.set('text', text);
    return p;
  };
  let next = null;
  let rows = 0;
  const load = async (append) => {
    const p = params();
    p.set('limit', String(PAGE));
    if (append && next !== null) p.set('before', String(next));
    fill(status);
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await api('GET', `/v1/cases?${p}`);
      if (!append) { fill(tbody); rows = 0; }
      tbody.querySelector('td.empty')?.parentElement.remove();
      for (const c of page.items) {
        const overdue = c.due_at && Date.parse(c.due_at) < Date.now();
        tbody.append(h('tr', { 'data-case': c.id },
          h('td', { class: 'caseno' }, c.case_no || '—'),
          h('td', {}, link(`/console/cases/${encodeURIComponent(c.id)}`, c.title || '—')),
          h('td', {}, h('span', { class: 'tag' }, label('status', c.status))),
          h('td', {}, label('category', c.category)),
          h('td', {}, h('span', { class: `tag risk-${c.risk_level}` }, label('risk', c.risk_level))),
          h('td', {}, c.source ? label('source', c.source) : ''),
          h('td', {}, when(c.due_at)),
          h('td', {}, c.due_at ? h('span', { class: `countdown ${levelClass(null, overdue)}` }, countdown(c.due_at)) : '')));
      }
      rows += page.items.length;
      if (!rows) tbody.append(h('tr', {}, h('td', { colspan: 8, class: 'empty' }, t('noCases'))));
      next = page.next ?? null;
      more.hidden = next === null;
      fill(loaded, t('cqLoaded').replace('{n}', String(rows)), next === null && rows ? ` ${t('cqAll')}` : '');
      fill(more, t('more'), next === null ? '' : ` (${t('cqMoreHint').replace('{n}', String(PAGE))})`);
    } catch (err) {
      fill(status, err.message);
    } finally {
      more.disabled = false;
      table.setAttribute('aria-busy', 'false');
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
