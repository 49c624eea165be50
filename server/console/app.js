// The console: sign-in, the layout (top bar, left navigation), and a router over
// /console/... paths. Pages take what the API gives; the workflow's rules stay on the server.
import { api, setCsrf, whenSignedOut } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, lang, setLang, useUser, setCountyZone } from './i18n.js';
import { tasksPage } from './tasks.js';
import { casesPage } from './cases.js';
import { casePage } from './case.js';
import { intakePage } from './intake.js';
import { warningsPage } from './warnings.js';
import { statsPage } from './stats.js';
import { adminPage } from './admin.js';
import { agreementPage } from './agreement.js';
import { startLive, stopLive } from './live.js';

// The left navigation: a page shows for a user whose permissions (from the session, the
// server's policy table) open its API; the server still judges every request.
const NAV = [
  { href: '/console/tasks', key: 'navTasks', needs: 'ReadTasks' },
  { href: '/console/intake', key: 'navIntake', needs: 'Intake' },
  { href: '/console/cases', key: 'navCases', needs: 'ReadCases' },
  { href: '/console/warnings', key: 'navWarnings', needs: 'ReadWarnings' },
  { href: '/console/stats', key: 'navStats', needs: 'ReadStatistics' },
  { href: '/console/admin', key: 'navAdmin', needs: ['ManageOrgs', 'ReadAudit', 'ManageDispatchRules', 'ManageTimeLimits'] },
];

// Pages by path, first match wins; `m` is the match (case id and the like).
const ROUTES = [
  [/^\/console\/cases\/([^/]+)\/agreement$/, (main, m) => agreementPage(main, decodeURIComponent(m[1]), session)],
  [/^\/console\/cases\/([^/]+)$/, (main, m) => casePage(main, decodeURIComponent(m[1]), session)],
  [/^\/console\/cases$/, (main) => casesPage(main, session)],
  [/^\/console\/intake$/, (main) => intakePage(main, session)],
  [/^\/console\/warnings$/, (main) => warningsPage(main, session)],
  [/^\/console\/stats$/, (main) => statsPage(main, session)],
  [/^\/console\/admin(?:\/([a-z-]+))?$/, (main, m) => adminPage(main, m[1] || '', session)],
  [/^\/console\/tasks$/, (main) => tasksPage(main, session)],
];

/** Whether the signed-in user holds `needs` (a permission name, or any of a list). */
export function may(needs) {
  const held = (session && session.user.permissions) || [];
  return [].concat(needs).some((p) => held.includes(p));
}

/** The first page the user may open. */
function home() {
  const first = NAV.find((n) => may(n.needs));
  return first ? first.href : '/console/tasks';
}

const root = document.getElementById('app');
let session = null;

whenSignedOut(() => { session = null; setCsrf(null); stopLive(); go('/console/signin'); });

document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', () => route());

export function go(path) {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  route();
}

async function boot() {
  try {
    session = await api('GET', '/v1/auth/session');
    setCsrf(session.csrf_token);
    useUser(session.user.id);
    setCountyZone(session.time_zone);
  } catch {
    session = null;
  }
  route();
}

function route() {
  const path = location.pathname;
  if (!session) {
    if (path !== '/console/signin') history.replaceState(null, '', '/console/signin');
    return signIn();
  }
  if (path === '/console/signin' || path === '/console/' || path === '/console') {
    history.replaceState(null, '', home());
    return route();
  }
  startLive(session);
  const main = layout(path);
  for (const [pattern, page] of ROUTES) {
    const m = path.match(pattern);
    if (m) return page(main, m);
  }
  history.replaceState(null, '', home());
  return route();
}

function langButton() {
  return h('button', {
    type: 'button', class: 'lang', id: 'lang-toggle',
    onclick: () => { setLang(lang() === 'en' ? 'zh' : 'en'); route(); },
  }, t('language'));
}

function layout(path) {
  const u = session.user;
  const main = h('main', { id: 'main', tabindex: '-1' });
  document.title = t('system');
  fill(root,
    h('header', { class: 'topbar' },
      h('span', { class: 'brand' }, t('system')),
      h('span', { class: 'who' },
        h('span', { class: 'org', id: 'org-name' }, u.org_name),
        h('span', { class: 'role tag' }, label('userRole', u.role)),
        h('span', { class: 'user' }, u.display_name)),
      langButton(),
      h('button', { type: 'button', id: 'sign-out', onclick: signOut }, t('signOut'))),
    h('nav', { class: 'side', 'aria-label': 'navigation' },
      NAV.filter((n) => may(n.needs)).map(({ href, key }) => {
        const a = link(href, t(key));
        if (path.startsWith(href)) a.setAttribute('aria-current', 'page');
        return a;
      })),
    h('div', { id: 'live-toasts', class: 'toasts', 'aria-live': 'polite' }),
    main);
  return main;
}

async function signOut() {
  try { await api('DELETE', '/v1/auth/session'); } catch { /* ended already */ }
  session = null;
  setCsrf(null);
  stopLive();
  go('/console/signin');
}

function signIn() {
  document.title = `${t('signIn')} · ${t('system')}`;
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'signin', id: 'signin-form' },
    h('h1', {}, t('system')),
    h('h2', {}, t('signInTitle')),
    h('label', { for: 'username' }, t('username')), user,
    h('label', { for: 'password' }, t('password')), pass,
    h('button', { type: 'submit', class: 'primary' }, t('signIn')),
    error,
    langButton());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(error);
    try {
      session = await api('POST', '/v1/auth/session', { username: user.value, password: pass.value });
      setCsrf(session.csrf_token);
      useUser(session.user.id);
      setCountyZone(session.time_zone);
      go(home());
    } catch (err) {
      fill(error, err.message);
      if (err.code === 'use_the_app') error.append(h('br'), t('useTheApp'));
      pass.value = '';
    }
  });
  fill(root, h('div', { class: 'signin-page' }, form));
  user.focus();
}

boot();
