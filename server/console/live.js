// 实时推送: the live feed (GET /v1/events, Server-Sent Events with the session cookie) for
// users who may read warnings. One EventSource per signed-in user, reconnected with backoff;
// each event becomes a small toast in #live-toasts (one per case, dismissable) and a
// `gridsync:live` CustomEvent on `window`, which open pages listen to (`onLive`).
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, addStrings, addCodes } from './i18n.js';

addStrings({
  zh: {
    live_warning: '新预警', live_high_risk: '高风险案件', live_supervised: '自动督办', live_case_new: '新案件',
    live_open: '查看案件', live_dismiss: '关闭提示', live_lost: '实时推送已断开，正在重连…',
  },
  en: {
    live_warning: 'New warning', live_high_risk: 'High-risk case', live_supervised: 'Automatic supervision',
    live_case_new: 'New case', live_open: 'Open the case', live_dismiss: 'Dismiss', live_lost: 'Live updates lost, reconnecting…',
  },
});

// What a warning is about (the deadline kinds of the fold, and the high-risk alert).
addCodes({
  warnKind: {
    ACCEPT: ['受理超时', 'Acceptance'], SIGN: ['签收超时', 'Sign-for'], HANDLE: ['办理超期', 'Handling'],
    FOLLOW_UP: ['回访超期', 'Follow-up'], INSTALLMENT: ['分期履行逾期', 'Installment'], CO_HANDLE: ['协办意见超期', 'Co-handling feedback'],
    HIGH_RISK: ['高风险即报', 'High risk'], CASE: ['新案件', 'New case'],
  },
});

// The feed's event names (server/src/live.rs). `cleared` makes no toast: pages just refresh.
const EVENTS = ['warning', 'cleared', 'high_risk', 'supervised', 'case_new'];
const TOASTS_MAX = 4;
const TOAST_MS = 60_000;

let source = null;
let user = null;
let readsCases = false;
let retry = 0;
let timer = null;

/** Opens the feed for this session (once; again only for another user). */
export function startLive(session) {
  const perms = (session && session.user && session.user.permissions) || [];
  if (!perms.includes('ReadWarnings')) return stopLive();
  if (user === session.user.id && (source || timer)) return undefined;
  stopLive();
  user = session.user.id;
  readsCases = perms.includes('ReadCases');
  connect();
  return undefined;
}

/** Closes the feed (sign-out) and forgets its toasts. */
export function stopLive() {
  if (source) source.close();
  source = null;
  clearTimeout(timer);
  timer = null;
  user = null;
  retry = 0;
  const box = document.getElementById('live-toasts');
  if (box) box.replaceChildren();
}

function connect() {
  timer = null;
  const es = new EventSource('/v1/events');
  source = es;
  es.addEventListener('open', () => { retry = 0; lost(false); });
  for (const name of EVENTS) {
    es.addEventListener(name, (m) => {
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      toast(event);
      window.dispatchEvent(new CustomEvent('gridsync:live', { detail: event }));
    });
  }
  es.addEventListener('error', () => {
    // The browser retries by itself only after a dropped stream, not after an error
    // status: reconnect ourselves, waiting 1, 2, 4 … 30 s.
    if (source !== es) return;
    es.close();
    source = null;
    lost(true);
    const wait = Math.min(30_000, 1000 * 2 ** retry);
    retry += 1;
    // A session that ended answers 401 here too: asking the API lets app.js sign out.
    if (retry > 1) api('GET', '/v1/auth/session').catch(() => {});
    timer = setTimeout(() => { if (user) connect(); }, wait);
  });
}

/** A note while the feed is down (pages still work; they just do not refresh). */
function lost(yes) {
  const box = document.getElementById('live-toasts');
  if (!box) return;
  const old = box.querySelector('.toast-lost');
  if (!yes) { if (old) old.remove(); return; }
  if (!old && retry > 0) box.prepend(h('div', { class: 'toast toast-lost', role: 'status' }, t('live_lost')));
}

function toast(e) {
  if (e.event === 'cleared') return undefined;
  const box = document.getElementById('live-toasts');
  if (!box) return undefined;
  const level = e.event === 'case_new' ? 'info' : e.level === 'RED' || e.event === 'high_risk' ? 'red' : e.level === 'YELLOW' ? 'yellow' : 'info';
  const title = h('span', { class: 'toast-case' });
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': t('live_dismiss'), title: t('live_dismiss') }, '×');
  const el = h('div', { class: `toast toast-${level}`, 'data-case': e.case_id, 'data-event': e.event },
    h('strong', {}, t(`live_${e.event}`) || e.event),
    h('span', { class: 'toast-what' }, [
      e.event === 'case_new' ? '' : label('warnKind', e.kind),
      e.level && e.level !== 'NONE' ? label('level', e.level) : '',
    ].filter(Boolean).join(' · ')),
    title,
    link(`/console/cases/${encodeURIComponent(e.case_id)}`, t('live_open')),
    close);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  el.addEventListener('click', (ev) => { if (ev.target.closest('a')) remove(); });
  setTimeout(remove, TOAST_MS);
  // One toast per case: a newer event about it replaces the older one.
  for (const old of box.querySelectorAll('.toast[data-case]')) if (old.dataset.case === e.case_id) old.remove();
  box.append(el);
  const all = box.querySelectorAll('.toast[data-case]');
  for (let i = 0; i < all.length - TOASTS_MAX; i += 1) all[i].remove();
  // The case's number and title, when the user may read cases (the event carries ids only).
  if (!readsCases) return fill(title, e.case_id.slice(0, 8));
  return api('GET', `/v1/cases/${encodeURIComponent(e.case_id)}`)
    .then((c) => fill(title, [c.state && c.state.case_no, c.case && c.case.title].filter(Boolean).join(' ')))
    .catch(() => fill(title, e.case_id.slice(0, 8)));
}

/**
 * Calls `fn(events)` on live events while `main` shows the page that asked (one listener
 * per element: a page re-rendered into it replaces its listener), after a short pause so
 * a burst of events makes one reload.
 */
export function onLive(main, fn, pause = 300) {
  if (main.__liveOff) main.__liveOff();
  let wait = null;
  let burst = [];
  const listener = (ev) => {
    if (!main.isConnected) return off();
    burst.push(ev.detail);
    clearTimeout(wait);
    wait = setTimeout(() => {
      const events = burst;
      burst = [];
      if (main.isConnected) fn(events);
    }, pause);
    return undefined;
  };
  const off = () => { window.removeEventListener('gridsync:live', listener); clearTimeout(wait); main.__liveOff = null; };
  window.addEventListener('gridsync:live', listener);
  main.__liveOff = off;
}
