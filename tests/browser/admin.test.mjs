// 系统管理 in a real browser: organisations, users, devices (a phone's last sync, revoked),
// audit log with its chain, time limits. The tests run in order and share what they made
// (a township administrator, a phone); names carry a stamp so the suite can run again on the
// same server, beside the other suites' cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { bin, shots, work, field, context, signIn } from './lib.mjs';

const stamp = Date.now().toString(36);
const TOWN_ADMIN = `qx.admin.${stamp}`;
const TOWN_USER = `qx.dispatch.${stamp}`;
const PASSWORD = 'Qingxi-2026-admin';
const PHONE = `admin-phone-${stamp}`;
const TOWNSHIP = ['330182101-center', '330182101201', '330182101202', '330182101-judicial', '330182101-police'];
const OUTSIDE = ['330182-center', '330182102-center', '330182-labour', '330182201205'];

async function signInAs(page, user, password) {
  await page.goto('/console/');
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('header.topbar');
}

/** A phone command that must fail: its error output. */
function fieldFails(phone, ...args) {
  try {
    execFileSync(bin, ['field', '--db', path.join(work, `${phone}.db`), ...args], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    return `${e.stderr}`;
  }
  return assert.fail(`gridsync field ${args.join(' ')} succeeded`);
}

const rows = (page, table, attr) => page.$$eval(`#${table} tbody tr[${attr}]`, (trs, a) => trs.map((tr) => tr.getAttribute(a)), attr);

test('the administrator creates a township administrator and a user; the user signs in', async () => {
  const { page, done } = await context();
  await signIn(page, 'admin');
  await page.click('nav a[href="/console/admin"]');
  // The county administrator's tree: the county at the top, the township and its villages.
  await page.waitForSelector('#orgs tr[data-org="330182101201"]');
  assert.equal(await page.textContent('.adm-tabs a[aria-current=page]'), '组织机构');
  const orgs = await rows(page, 'orgs', 'data-org');
  assert.equal(orgs[0], '330182-center');
  for (const id of [...TOWNSHIP, ...OUTSIDE]) assert.ok(orgs.includes(id), id);
  assert.match(await page.textContent('#orgs tr[data-org="330182101-center"]'), /青溪镇/);
  if (shots) await page.screenshot({ path: path.join(shots, 'admin-orgs.png') });

  // A refusal of the API shows in the dialog, which stays open: a new village may not take
  // an area outside its parent's.
  await page.click('#new-org');
  await page.selectOption('#no-parent_id', '330182101-center');
  await page.fill('#no-name', '越界村');
  await page.fill('#no-area_code', '330182102299');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#dialog-error:not(:empty)');
  assert.match(await page.textContent('#dialog-error'), /[\u4e00-\u9fff]/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });

  // A village of 青溪镇: created, renamed, moved to 河口镇 with an area inside it.
  const village = `qx-village-${stamp}`;
  await page.click('#new-org');
  await page.selectOption('#no-parent_id', '330182101-center');
  await page.fill('#no-name', '青溪镇新村');
  await page.fill('#no-area_code', '330182101299');
  await page.fill('#no-id', village);
  await page.click('#dialog-ok');
  const vrow = `#orgs tr[data-org="${village}"]`;
  await page.waitForSelector(vrow);
  assert.match(await page.textContent(vrow), /青溪镇新村.*村\(社区\).*330182101299/);
  await page.click(`${vrow} button[data-act=rename]`);
  await page.fill('#ro-name', '青溪镇新村（更名）');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${vrow}:has-text("青溪镇新村（更名）")`);
  await page.click(`${vrow} button[data-act=move]`);
  await page.selectOption('#mo-parent_id', '330182102-center');
  await page.click('#dialog-ok');
  // Its area is still 青溪镇's: refused until it gets one inside 河口镇.
  await page.waitForSelector('#dialog-error:not(:empty)');
  await page.fill('#mo-area_code', '330182102299');
  await page.fill('#mo-scope_prefix', '330182102299');
  await page.click('#dialog-ok');
  await page.waitForSelector(`${vrow}:has-text("330182102299")`);
  const order = await rows(page, 'orgs', 'data-org');
  assert.ok(order.indexOf(village) > order.indexOf('330182102-center'), order.join());

  // A township administrator for 青溪镇.
  await page.click('.adm-tabs a[data-tab=users]');
  await page.waitForSelector('#users tr[data-user="u-admin"]');
  await page.click('#new-user');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'nu-username');
  await page.fill('#nu-username', TOWN_ADMIN);
  await page.fill('#nu-display_name', '青溪镇系统管理员');
  await page.selectOption('#nu-role', 'ADMIN');
  await page.selectOption('#nu-org_id', '330182101-center');
  await page.fill('#nu-password', PASSWORD);
  await page.click('#dialog-ok');
  await page.waitForSelector(`#users tr[data-user="u-${TOWN_ADMIN}"]`);
  assert.match(await page.textContent(`#users tr[data-user="u-${TOWN_ADMIN}"]`), /系统管理员.*青溪镇/);

  // A user: a dispatcher does not belong in a village (the API's refusal is shown), then in
  // the township's center.
  await page.click('#new-user');
  await page.fill('#nu-username', TOWN_USER);
  await page.selectOption('#nu-role', 'DISPATCHER');
  await page.selectOption('#nu-org_id', '330182101201');
  await page.fill('#nu-password', PASSWORD);
  await page.click('#dialog-ok');
  await page.waitForSelector('#dialog-error:not(:empty)');
  assert.match(await page.textContent('#dialog-error'), /角色/);
  await page.selectOption('#nu-org_id', '330182101-center');
  await page.click('#dialog-ok');
  await page.waitForSelector(`#users tr[data-user="u-${TOWN_USER}"]`);
  if (shots) await page.screenshot({ path: path.join(shots, 'admin-users.png') });
  await done();

  const user = await context();
  await signInAs(user.page, TOWN_USER, PASSWORD);
  assert.match(await user.page.textContent('#org-name'), /青溪镇/);
  assert.match(await user.page.textContent('header .role'), /受理派遣员/);
  await user.done();
});

test('the township administrator sees only the township, and is refused the county', async () => {
  const { page, done } = await context();
  await signInAs(page, TOWN_ADMIN, PASSWORD);
  await page.click('nav a[href="/console/admin"]');
  await page.waitForSelector('#orgs tr[data-org="330182101201"]');
  const orgs = await rows(page, 'orgs', 'data-org');
  assert.equal(orgs[0], '330182101-center');
  for (const id of TOWNSHIP) assert.ok(orgs.includes(id), id);
  for (const id of OUTSIDE) assert.ok(!orgs.includes(id), id);

  await page.click('.adm-tabs a[data-tab=users]');
  await page.waitForSelector('#users tr[data-user="u-sun.town"]');
  const users = await rows(page, 'users', 'data-user');
  for (const id of ['u-wang.grid', 'u-li.mediator', 'u-zhou.judicial', `u-${TOWN_USER}`]) assert.ok(users.includes(id), id);
  for (const id of ['u-admin', 'u-chen.dispatch', 'u-zhao.grid', 'u-liu.labour']) assert.ok(!users.includes(id), id);

  await page.click('.adm-tabs a[data-tab=devices]');
  await page.waitForSelector('#devices tbody tr');
  const owners = await page.$$eval('#devices tbody tr[data-device] td:first-child', (tds) => tds.map((td) => td.textContent));
  assert.ok(owners.includes(TOWN_ADMIN), owners.join());
  for (const u of ['admin', 'chen.dispatch', 'zhao.grid']) assert.ok(!owners.includes(u), u);

  // The county center's page: the API refuses it, and the page says so.
  await page.goto('/console/admin/orgs?org=330182-center');
  await page.waitForSelector('#org-error:not(:empty)');
  assert.match(await page.textContent('#org-error'), /管辖范围/);
  assert.equal(await page.isVisible('#org-users'), false);
  const status = await page.evaluate(async () => (await fetch('/v1/users?org_id=330182-center')).status);
  assert.equal(status, 403);
  // Its own township opens.
  await page.goto('/console/admin/orgs?org=330182101-center');
  await page.waitForSelector('#org-users tr[data-user="u-sun.town"]');
  await done();
});

test('a phone shows in the devices with its last sync; revoked, its next sync fails', async () => {
  field(PHONE, 'login', process.env.GRIDSYNC_URL, 'wang.grid', 'gridsync-demo');
  field(PHONE, 'sync');
  const device = fs.readFileSync(path.join(work, `${PHONE}.db.device-id`), 'utf8').trim();
  const { page, done } = await context();
  await signIn(page, 'admin');
  await page.goto('/console/admin/devices');
  const row = `#devices tr[data-device="${device}"]`;
  await page.waitForSelector(row);
  assert.match(await page.textContent(`${row} .last-sync`), /(刚刚|分钟前)\s*\d{4}-\d\d-\d\d \d\d:\d\d/);
  assert.match(await page.textContent(row), /wang\.grid/);
  assert.match(await page.textContent(row), /正常/);
  if (shots) await page.screenshot({ path: path.join(shots, 'admin-devices.png') });

  // Asked first; cancelling changes nothing.
  await page.click(`${row} button[data-act=revoke]`);
  await page.waitForSelector('dialog #confirm-text');
  assert.match(await page.textContent('#confirm-text'), new RegExp(device));
  await page.click('#dialog-cancel');
  await page.waitForSelector('dialog', { state: 'detached' });
  assert.match(await page.textContent(`${row} .device-state`), /正常/);
  field(PHONE, 'sync');

  await page.click(`${row} button[data-act=revoke]`);
  await page.click('#dialog-ok');
  await page.waitForFunction((sel) => /已吊销/.test(document.querySelector(sel)?.textContent || ''), `${row} .device-state`);
  assert.equal(await page.$(`${row} button[data-act=revoke]`), null);
  assert.match(fieldFails(PHONE, 'sync'), /device_revoked/);
  await done();
});

test('the audit log lists the sign-ins and the revoke; the chain verifies', async () => {
  const device = fs.readFileSync(path.join(work, `${PHONE}.db.device-id`), 'utf8').trim();
  const { page, done } = await context();
  await signIn(page, 'admin');
  await page.goto('/console/admin/audit');
  await page.waitForSelector('#audit tbody tr[data-seq]');

  await page.selectOption('#f-action', 'SIGN_IN');
  await page.click('#audit-filters button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit tbody tr')].every((tr) => tr.dataset.action === 'SIGN_IN'));
  assert.match(page.url(), /action=SIGN_IN/);
  const actors = await page.$$eval('#audit tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
  for (const u of [`u-${TOWN_ADMIN}`, `u-${TOWN_USER}`, 'u-admin', 'u-wang.grid']) assert.ok(actors.includes(u), u);

  // One actor.
  await page.fill('#f-user', `u-${TOWN_USER}`);
  await page.click('#audit-filters button[type=submit]');
  await page.waitForFunction((u) => {
    const cells = [...document.querySelectorAll('#audit tbody tr td:nth-child(3)')];
    return cells.length > 0 && cells.every((td) => td.textContent === u);
  }, `u-${TOWN_USER}`);

  await page.fill('#f-user', '');
  await page.selectOption('#f-action', 'DEVICE_REVOKED');
  await page.click('#audit-filters button[type=submit]');
  await page.waitForSelector(`#audit tbody tr[data-action=DEVICE_REVOKED] .adm-detail:has-text("${device}")`);
  // A time range after now holds nothing.
  await page.fill('#f-from', '2099-01-01T00:00');
  await page.click('#audit-filters button[type=submit]');
  await page.waitForSelector('#audit td.empty');
  await page.fill('#f-from', '');
  await page.selectOption('#f-action', '');
  await page.click('#audit-filters button[type=submit]');
  await page.waitForSelector('#audit tbody tr[data-seq]');

  await page.click('#verify-chain');
  await page.waitForSelector('#verify-result.ok');
  assert.match(await page.textContent('#verify-result'), /审计链完整：共 \d+ 条记录/);
  if (shots) await page.screenshot({ path: path.join(shots, 'admin-audit.png') });
  await done();
});

test('dispatch rules: added, refused outside the scope, removed after a confirmation', async () => {
  const id = `rule-${stamp}`;
  // The township administrator may not make a county-wide rule: the API refuses, in the dialog.
  const town = await context();
  await signInAs(town.page, TOWN_ADMIN, PASSWORD);
  await town.page.goto('/console/admin/rules');
  await town.page.waitForSelector('#rules tr[data-rule="wages-labour"]');
  await town.page.click('#new-rule');
  await town.page.fill('#nr-id', `${id}-county`);
  await town.page.fill('#nr-area_prefix', '330182');
  await town.page.selectOption('#nr-center_org', '330182101-center');
  await town.page.selectOption('#nr-target_org', '330182101-judicial');
  await town.page.click('#dialog-ok');
  await town.page.waitForSelector('#dialog-error:not(:empty)');
  assert.match(await town.page.textContent('#dialog-error'), /管辖范围/);
  await town.page.click('#dialog-cancel');
  assert.equal(await town.page.$(`#rules tr[data-rule="${id}-county"]`), null);
  await town.done();

  const { page, done } = await context();
  await signIn(page, 'admin');
  await page.goto('/console/admin/rules');
  await page.waitForSelector('#new-rule');
  await page.click('#new-rule');
  await page.fill('#nr-id', id);
  await page.fill('#nr-priority', '900');
  await page.selectOption('#nr-category', 'ENVIRONMENT');
  await page.fill('#nr-area_prefix', '330182201206');
  await page.selectOption('#nr-center_org', '330182201-center');
  await page.selectOption('#nr-target_org', '330182-natres');
  await page.click('#dialog-ok');
  const row = `#rules tr[data-rule="${id}"]`;
  await page.waitForSelector(row);
  assert.match(await page.textContent(row), /环境生态.*330182201206.*县自然资源和规划局/);
  await page.click(`${row} button[data-act=remove]`);
  await page.waitForSelector('#confirm-text');
  assert.match(await page.textContent('#confirm-text'), new RegExp(id));
  await page.click('#dialog-ok');
  await page.waitForSelector(row, { state: 'detached' });
  await page.reload();
  await page.waitForSelector('#rules tr[data-rule="wages-labour"]');
  assert.equal(await page.$(row), null);
  await done();
});

test('time limits: a change is saved and shown after a reload, in English too', async () => {
  const id = `limits-${stamp}`;
  const { page, done } = await context();
  await signIn(page, 'admin');
  await page.goto('/console/admin/limits');
  await page.waitForSelector('#new-limits');
  // A rule of its own (one village, one category), so other suites' deadlines stay as they are.
  await page.click('#new-limits');
  await page.fill('#nl-id', id);
  await page.selectOption('#nl-category', 'ENVIRONMENT');
  await page.fill('#nl-area_prefix', '330182201206');
  const hours = { accept: 24, accept_high_risk: 2, sign: 24, handle_simple: 72, handle_general: 168, handle_complex: 360, follow_up: 72, co_handle: 72 };
  for (const [k, v] of Object.entries(hours)) await page.fill(`#nl-${k}`, String(v));
  await page.fill('#nl-yellow_percent', '70');
  await page.click('#dialog-ok');
  const p = `#lim-${id}`;
  await page.waitForSelector(`${p}-form`);
  assert.equal(await page.inputValue(`${p}-handle_complex`), '360');
  assert.equal(await page.textContent(`${p}-handle_complex-span`), '15天');

  // A refused value shows the API's message; a good one is saved.
  await page.fill(`${p}-yellow_percent`, '0');
  await page.click(`${p}-form button[type=submit]`);
  await page.waitForSelector(`${p}-error:not(:empty)`);
  await page.fill(`${p}-yellow_percent`, '80');
  await page.fill(`${p}-accept`, '36');
  await page.click(`${p}-form button[type=submit]`);
  await page.waitForSelector(`${p}-status:text("已保存")`);
  assert.equal(await page.textContent(`${p}-error`), '');

  await page.reload();
  await page.waitForSelector(`${p}-form`);
  assert.equal(await page.inputValue(`${p}-accept`), '36');
  assert.equal(await page.inputValue(`${p}-yellow_percent`), '80');
  assert.equal(await page.textContent(`${p}-accept-span`), '1天12小时');

  await page.click('#lang-toggle');
  await page.waitForSelector('.adm-tabs a:text("Time limits")');
  await page.waitForSelector(`${p}-form`);
  assert.equal(await page.inputValue(`${p}-accept`), '36');
  assert.equal(await page.textContent(`label[for="lim-${id}-accept"]`), 'Accept');
  assert.equal(await page.textContent(`${p}-accept-span`), '1 d 12 h');
  await page.fill(`${p}-sign`, '12');
  await page.click(`${p}-form button[type=submit]`);
  await page.waitForSelector(`${p}-status:text("Saved")`);
  await page.reload();
  await page.waitForSelector(`${p}-form`);
  assert.equal(await page.inputValue(`${p}-sign`), '12');
  await page.click('#lang-toggle');
  await done();
});

test('a password reset lets the user in with it; a disabled user is refused', async () => {
  const NEW = 'Qingxi-2026-reset';
  const { page, done } = await context();
  await signIn(page, 'admin');
  await page.goto('/console/admin/users?org=330182101-center');
  const row = `#users tr[data-user="u-${TOWN_USER}"]`;
  await page.waitForSelector(row);
  assert.equal(await page.$('#users tr[data-user="u-chen.dispatch"]'), null);
  await page.click(`${row} button[data-act=password]`);
  await page.fill('#pw-new_password', 'short');
  await page.click('#dialog-ok');
  await page.waitForSelector('#dialog-error:not(:empty)');
  await page.fill('#pw-new_password', NEW);
  await page.click('#dialog-ok');
  await page.waitForSelector('#users-notice:not(:empty)');

  const user = await context();
  await signInAs(user.page, TOWN_USER, NEW);
  await user.done();

  await page.click(`${row} button[data-act=disable]`);
  await page.waitForSelector('#confirm-text');
  assert.match(await page.textContent('#confirm-text'), new RegExp(TOWN_USER.replace(/\./g, '\\.')));
  await page.click('#dialog-ok');
  await page.waitForSelector(`${row}:has-text("已停用")`);
  assert.equal(await page.$(`${row} button`), null);
  await done();

  const refused = await context();
  await refused.page.goto('/console/');
  await refused.page.fill('#username', TOWN_USER);
  await refused.page.fill('#password', NEW);
  await refused.page.click('#signin-form button[type=submit]');
  await refused.page.waitForSelector('#signin-error:not(:empty)');
  await refused.done();
});

test('a supervisor sees the audit log and time limits, not the accounts', async () => {
  const { page, done } = await context();
  await signIn(page, 'wu.super');
  await page.click('nav a[href="/console/admin"]');
  await page.waitForSelector('.adm-tabs');
  const tabs = await page.$$eval('.adm-tabs a', (as) => as.map((a) => a.dataset.tab));
  assert.ok(tabs.includes('audit') && tabs.includes('limits'), tabs.join());
  for (const tab of ['orgs', 'users', 'devices']) assert.ok(!tabs.includes(tab), tab);
  // The users page by its address: the API refuses, and the page says so.
  await page.goto('/console/admin/users');
  await page.waitForSelector('#users-error:not(:empty)');
  await done();
});
