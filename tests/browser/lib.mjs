// Shared by the browser suites (tests/browser/*.test.mjs): the browser, phones
// (`gridsync field`), contexts and sign-in. .ci/browser sets the variables:
//
//   GRIDSYNC_URL      the server's base URL (one `gridsync serve --demo` for all suites;
//                     suites run one after another and must tolerate each other's cases)
//   GRIDSYNC_BIN      the gridsync binary (for `gridsync field`)
//   PLAYWRIGHT_DIR    a directory whose node_modules holds playwright-core
//   SCREENSHOTS       where the main pages' PNGs go (docs/console)
//   WORK              a scratch directory (the phones' stores)
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const { chromium } = createRequire(path.join(process.env.PLAYWRIGHT_DIR, 'x.js'))('playwright-core');
export const base = process.env.GRIDSYNC_URL;
export const bin = process.env.GRIDSYNC_BIN;
export const shots = process.env.SCREENSHOTS;
export const work = process.env.WORK;
export const XSS = '<script>alert(1)</script>';

export let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => { await browser?.close(); });

/** A phone: `gridsync field` with its own store. */
export function field(phone, ...args) {
  return execFileSync(bin, ['field', '--db', path.join(work, `${phone}.db`), ...args], { encoding: 'utf8' });
}

export function phoneRecords(phone, user, title) {
  field(phone, 'login', base, user, 'gridsync-demo');
  const rec = JSON.parse(field(phone, '--json', 'record', '--title', title, '--category', 'LABOUR_WAGES',
    '--summary', '包工头拖欠工资共计8.6万元', '--party', '张建国:APPLICANT', '--party', '李老板:RESPONDENT', '--submit'));
  field(phone, 'sync');
  return rec.id;
}

/** A fresh browser context (its own cookies), 1366×768 like the centers' screens. */
export async function context(locale = 'zh-CN') {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale, baseURL: base });
  const page = await ctx.newPage();
  // A dialog (an injected alert) or a script error fails the test at `done`.
  const problems = [];
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  const done = async () => {
    await ctx.close();
    assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), []);
  };
  return { ctx, page, done };
}

export async function signIn(page, user) {
  await page.goto('/console/');
  await page.fill('#username', user);
  await page.fill('#password', 'gridsync-demo');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('header.topbar');
}

export async function act(page, kind, fill = async () => {}, shot = null) {
  await page.click(`#actions button[data-action="${kind}"]`);
  await page.waitForSelector(`#form-${kind}`);
  await fill(page);
  if (shots && shot) await page.screenshot({ path: path.join(shots, shot), fullPage: true });
  await page.click(`#form-${kind} button[type=submit]`);
}


/* ---- intake: the organisation picker (server/console/orgpicker.js) ---- */
/** Chooses exactly `ids` (in order: the first is the lead) in the picker `id`, by its filter box and tree. */
export async function pickOrgs(page, id, ids) {
  await page.waitForSelector(`#${id}-filter`);
  const remove = `#${id}-chosen [data-remove]`;
  while (await page.$(remove)) await page.click(remove);
  for (const x of ids) {
    await page.fill(`#${id}-filter`, x);
    await page.click(`#${id}-tree [data-org="${x}"] > .op-row`);
  }
  await page.fill(`#${id}-filter`, '');
}
