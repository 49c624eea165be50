// The console in a real browser: Debian's chromium, headless, driven by playwright-core,
// against a real `gridsync serve --demo` (started by .ci/browser, which sets the variables
// in lib.mjs). Phones are `gridsync field`, the apps' own client on a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { base, shots, XSS, field, phoneRecords, context, signIn, act, pickOrgs } from './lib.mjs';

test('sign in in Chinese, then in English (kept per user)', async () => {
  const { page, done } = await context();
  await page.goto('/console/');
  await page.waitForSelector('#signin-form');
  assert.match(await page.textContent('#signin-form h2'), /工作人员登录/);
  if (shots) await page.screenshot({ path: path.join(shots, 'signin.png') });
  await signIn(page, 'chen.dispatch');
  assert.equal(await page.textContent('nav a[aria-current=page]'), '待办');
  assert.match(await page.textContent('#org-name'), /综治中心|中心/);
  assert.match(await page.textContent('header .role'), /受理派遣员/);
  // English, and the choice survives a reload.
  await page.click('#lang-toggle');
  await page.waitForSelector('nav a:text("My tasks")');
  await page.reload();
  await page.waitForSelector('nav a:text("My tasks")');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  // Errors come in the chosen language too.
  await page.click('#sign-out');
  await page.waitForSelector('#signin-form');
  await page.fill('#username', 'chen.dispatch');
  await page.fill('#password', 'wrong-password');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-error:not(:empty)');
  assert.match(await page.textContent('#signin-error'), /wrong username or password/);
  await done();
});

test('a grid worker is told to use the app', async () => {
  const { page, done } = await context();
  await page.goto('/console/');
  await page.fill('#username', 'wang.grid');
  await page.fill('#password', 'gridsync-demo');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-error:not(:empty)');
  assert.match(await page.textContent('#signin-error'), /手机应用/);
  assert.equal(await page.$('header.topbar'), null);
  await done();
});

test('a case from a phone: accepted and dispatched from the case page, signed for by the handler', async () => {
  const id = phoneRecords('wang', 'wang.grid', `${XSS} 拖欠12名工人工资`);
  const dispatcher = await context();
  const page = dispatcher.page;
  await signIn(page, 'sun.town');
  if (shots) await page.screenshot({ path: path.join(shots, 'tasks.png') });
  // The 待受理 tab holds the phone's case; the chosen tab survives a reload.
  await page.click('.tabs button[data-tab="ACCEPT"]');
  await page.waitForSelector(`#tasks tr[data-case="${id}"]`);
  assert.match(page.url(), /\/console\/tasks\?tab=ACCEPT$/);
  await page.reload();
  await page.waitForSelector('.tabs button[data-tab="ACCEPT"][aria-selected="true"]');
  await page.click('nav a[href="/console/cases"]');
  await page.waitForSelector(`#cases tr[data-case="${id}"]`);
  if (shots) await page.screenshot({ path: path.join(shots, 'cases.png') });
  // Filters and search go to the API (the URL keeps them).
  await page.fill('#f-text', '拖欠12名');
  await page.selectOption('#f-status', 'VOID');
  await page.click('#case-filters button[type=submit]');
  await page.waitForSelector('#cases td.empty');
  assert.match(page.url(), /status=VOID/);
  await page.selectOption('#f-status', 'SUBMITTED');
  await page.click('#case-filters button[type=submit]');
  await page.waitForSelector(`#cases tr[data-case="${id}"]`);
  await page.click(`#cases tr[data-case="${id}"] a`);
  await page.waitForSelector('#case-title');
  // The title is text, never markup: no script element, no dialog.
  assert.equal(await page.textContent('#case-title'), `${XSS} 拖欠12名工人工资`);
  assert.equal(await page.$$eval('#case-title script', (s) => s.length), 0);

  await act(page, 'ACCEPT');
  await page.waitForFunction(() => document.querySelector('#case-status')?.textContent === '已受理');
  assert.match(await page.textContent('#case-no'), /^330182-\d{8}-\d{6}$/);
  // A refusal shows the API's message (in the user's language), and the form stays.
  // (intake: the targets are a picker now) nothing chosen is refused by the server.
  await act(page, 'DISPATCH', (p) => pickOrgs(p, 'p-DISPATCH-to', []));
  await page.waitForSelector('#action-error:not(:empty)');
  assert.match(await page.textContent('#action-error'), /[\u4e00-\u9fff]/);
  assert.equal(await page.textContent('#case-status'), '已受理');
  await page.click('#form-DISPATCH button[type=button]');
  await act(page, 'DISPATCH', async (p) => {
    await pickOrgs(p, 'p-DISPATCH-to', ['330182101-judicial']);
    await p.fill('#p-DISPATCH-note', '请司法所牵头调处');
  }, 'case.png');
  await page.waitForFunction(() => document.querySelector('#case-status')?.textContent === '已分派');

  const handler = await context();
  await signIn(handler.page, 'zhou.judicial');
  await handler.page.goto(`/console/cases/${id}`);
  await handler.page.waitForSelector('#actions button[data-action="SIGN_FOR"]');
  await act(handler.page, 'SIGN_FOR');
  await handler.page.waitForFunction(() => document.querySelector('#case-status')?.textContent === '已签收');
  // The full personal details, on request (the server audits the read).
  await handler.page.click('#reveal');
  await handler.page.waitForSelector('#revealed');
  // The phone sees every step.
  field('wang', 'sync');
  const shown = JSON.parse(field('wang', '--json', 'show', id));
  assert.match(JSON.stringify(shown), /SIGNED/);
  await handler.done();
  await dispatcher.done();
});

test('a POST without the CSRF token is refused; a township cannot open another township\'s case', async () => {
  const other = phoneRecords('zhao', 'zhao.grid', '河口村邻里纠纷');
  const { page, done } = await context();
  await signIn(page, 'sun.town');
  const refused = await page.evaluate(async (caseId) => {
    const r = await fetch(`/v1/cases/${caseId}/actions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'ACCEPT', payload: {} }),
    });
    return [r.status, (await r.json()).code];
  }, other);
  assert.deepEqual(refused, [403, 'csrf_failed']);
  await page.goto(`/console/cases/${other}`);
  await page.waitForSelector('#case-error');
  assert.equal(await page.$('#case-title'), null);
  await done();
});
