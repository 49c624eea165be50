// 我的待办: GET /v1/me/tasks, by kind, overdue first (the API's order), countdowns coloured
// by warning level.
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, countdown, when } from './i18n.js';
import { onLive } from './live.js'; // live updates (supervisor branch)

const TABS = ['all', 'ACCEPT', 'SIGN', 'HANDLE', 'FOLLOW_UP', 'CO_HANDLE', 'OTHER_TASKS'];
const tabOf = (kind) => (TABS.includes(kind) ? kind : 'OTHER_TASKS');

export function levelClass(level, overdue) {
  if (overdue || level === 'RED') return 'lvl-red';
  if (level === 'YELLOW') return 'lvl-yellow';
  return 'lvl-green';
}

/** The list; `quiet` (a live refresh) keeps the page as it is until the new list is in. */
export async function tasksPage(main, session, quiet = false) {
  if (!quiet) fill(main, h('h1', {}, t('navTasks')), h('p', {}, t('loading')));
  let items;
  try {
    items = (await api('GET', '/v1/me/tasks')).items;
  } catch (err) {
    return fill(main, h('h1', {}, t('navTasks')), h('p', { class: 'error', role: 'alert' }, err.message));
  }
  // The tab is in the address, so a reload or a live refresh keeps it.
  const asked = new URLSearchParams(location.search).get('tab');
  let shown = TABS.includes(asked) ? asked : 'all';
  const body = h('div');
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  const draw = () => {
    fill(bar, TABS.map((k) => {
      const n = k === 'all' ? items.length : items.filter((i) => tabOf(i.kind) === k).length;
      return h('button', {
        type: 'button', role: 'tab', 'aria-selected': String(k === shown), 'data-tab': k,
        onclick: () => {
          shown = k;
          history.replaceState(null, '', `/console/tasks${k === 'all' ? '' : `?tab=${k}`}`);
          draw();
        },
      }, `${t(k)} ${n}`);
    }));
    const rows = items.filter((i) => shown === 'all' || tabOf(i.kind) === shown);
    if (!rows.length) return fill(body, h('p', { class: 'empty' }, t('noTasks')));
    fill(body, h('table', { class: 'grid', id: 'tasks' },
      h('thead', {}, h('tr', {}, [t('caseNo'), t('title'), t('status'), t('task'), t('deadline'), t('timeLeft')].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows.map((i) => h('tr', { 'data-case': i.case_id },
        h('td', { class: 'caseno' }, i.case_no || '—'),
        h('td', {}, link(`/console/cases/${encodeURIComponent(i.case_id)}`, i.title || '—')),
        h('td', {}, h('span', { class: 'tag' }, label('status', i.status))),
        h('td', {}, session && document.documentElement.lang === 'en' ? i.label_en : i.label_zh),
        h('td', {}, when(i.due_at)),
        h('td', {}, h('span', { class: `countdown ${levelClass(i.level, i.overdue)}` }, countdown(i.due_at))))))));
  };
  draw();
  fill(main, h('h1', {}, t('navTasks')), bar, body);
  // ---- live updates (supervisor branch): a new case or warning reloads the list ----
  onLive(main, () => tasksPage(main, session, true));
}
