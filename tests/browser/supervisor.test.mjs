// The supervisor's screens: the live feed (a warning and a new case appear without a
// reload), the warnings board (countdowns, red when overdue, 督办 when the API offers it) and
// the statistics screen (ECharts under the CSP, tables, CSV and Excel exports, zh and en).
//
// Warnings come from the server's scanner: .ci/browser starts the server with
// GRIDSYNC_SCAN_EVERY_SECONDS=2; against a server with the default (60 s) the first test
// still passes, in about a minute more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { shots, field, context, signIn } from './lib.mjs';

const RULE = 'browser-supervisor-environment';
const H = 3_600_000;
const D = 24 * H;
const LIMITS = { accept: D, accept_high_risk: 2 * H, sign: 24 * H, handle_simple: 3 * D, handle_general: 7 * D, handle_complex: 15 * D, follow_up: 7 * D, co_handle: 3 * D, yellow_percent: 70 };

/** The API from inside the page, with its cookie and CSRF token (as the console calls it). */
async function apiIn(page, method, url, body) {
  return page.evaluate(async ([method, url, body]) => {
    const s = await (await fetch('/v1/auth/session')).json();
    const r = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token, Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }, [method, url, body]);
}

function phoneCase(title, category) {
  field('sv-phone', 'login', process.env.GRIDSYNC_URL, 'wang.grid', 'gridsync-demo');
  const rec = JSON.parse(field('sv-phone', '--json', 'record', '--title', title, '--category', category,
    '--summary', '化工厂排污影响下游鱼塘', '--party', '王大海:APPLICANT', '--party', '某化工厂:RESPONDENT', '--submit'));
  field('sv-phone', 'sync');
  return rec.id;
}

test('a warning appears live on the supervisor\'s board, turns red and is supervised from its card', { timeout: 150_000 }, async () => {
  const wu = await context();
  const dispatcher = await context();
  await signIn(wu.page, 'wu.super');
  // Short limits for one category (no other suite uses it): sign for within 6 s, yellow at 50 %.
  const put = await apiIn(wu.page, 'PUT', `/v1/time-limits/${RULE}`,
    { id: RULE, tier: null, category: 'ENVIRONMENT', area_prefix: null, limits: { ...LIMITS, sign: 6000, yellow_percent: 50 } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  try {
    await wu.page.click('nav a[href="/console/warnings"]');
    await wu.page.waitForSelector('#board-total:not(:empty)');
    await wu.page.evaluate(() => { window.__noReload = true; });

    const id = phoneCase('化工厂排污纠纷（预警测试）', 'ENVIRONMENT');
    await signIn(dispatcher.page, 'chen.dispatch');
    const accept = await apiIn(dispatcher.page, 'POST', `/v1/cases/${id}/actions`, { kind: 'ACCEPT', payload: {} });
    assert.equal(accept.status, 200, JSON.stringify(accept.body));
    const dispatch = await apiIn(dispatcher.page, 'POST', `/v1/cases/${id}/actions`,
      { kind: 'DISPATCH', payload: { to: [{ id: '330182101-judicial' }], note: '预警测试' } });
    assert.equal(dispatch.status, 200, JSON.stringify(dispatch.body));
    const dispatched = Date.now();

    // The card arrives by the live feed: no navigation, no reload.
    const card = `.wcard[data-case="${id}"]`;
    await wu.page.waitForSelector(card, { timeout: 80_000 });
    const seen = Date.now() - dispatched;
    // Red by the limit (the client's clock or the scanner's, whichever first).
    await wu.page.waitForSelector(`#board-red ${card}`, { timeout: 80_000 });
    const red = Date.now() - dispatched;
    console.log(`warning card after ${seen} ms, red after ${red} ms`);
    assert.match(await wu.page.textContent(`${card} .wkind`), /签收超时/);
    assert.match(await wu.page.textContent(`${card} .countdown`), /已超期/);
    assert.match(await wu.page.textContent(`${card} .caseno`), /^330182-\d{8}-\d{6}$/);
    assert.match(await wu.page.textContent(`${card} .wtitle`), /化工厂排污纠纷/);
    // A toast for the case (warning, then the automatic supervision), with a link to it.
    await wu.page.waitForSelector(`#live-toasts .toast[data-case="${id}"] a[href="/console/cases/${id}"]`, { timeout: 80_000 });
    assert.equal(await wu.page.evaluate(() => window.__noReload), true);
    if (shots) await wu.page.screenshot({ path: path.join(shots, 'warnings.png') });

    // 督办 on the card exactly when the API offers it.
    const detail = await apiIn(wu.page, 'GET', `/v1/cases/${id}`);
    const offers = detail.body.allowed_actions.some((a) => a.kind === 'SUPERVISE');
    const button = `${card} button[data-action="SUPERVISE"]`;
    assert.equal(Boolean(await wu.page.$(button)), offers);
    if (offers) {
      await wu.page.click(button);
      await wu.page.selectOption(`${card} select[name=level]`, 'RED');
      await wu.page.fill(`${card} input[name=note]`, '请司法所今日内签收');
      await wu.page.click(`${card} .wsupervise-form button[type=submit]`);
      await wu.page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '红牌督办', `${card} .wsuper`);
    }
    // A dismissed toast goes.
    await wu.page.click(`#live-toasts .toast[data-case="${id}"] .toast-close`);
    assert.equal(await wu.page.$(`#live-toasts .toast[data-case="${id}"]`), null);
    assert.equal(await wu.page.evaluate(() => window.__noReload), true);
  } finally {
    await apiIn(wu.page, 'PUT', `/v1/time-limits/${RULE}`, { id: RULE, tier: null, category: 'ENVIRONMENT', area_prefix: null, limits: LIMITS });
  }
  await dispatcher.done();
  await wu.done();
});

test('a new case from a phone appears in the open case list without a reload', async () => {
  const { page, done } = await context();
  await signIn(page, 'chen.dispatch');
  await page.click('nav a[href="/console/cases"]');
  await page.waitForSelector('#cases tbody tr');
  await page.evaluate(() => { window.__noReload = true; });
  const id = phoneCase('邻里噪音纠纷（实时测试）', 'NEIGHBOUR');
  await page.waitForSelector(`#cases tr[data-case="${id}"]`, { timeout: 10_000 });
  await page.waitForSelector(`#live-toasts .toast[data-case="${id}"][data-event="case_new"]`);
  assert.equal(await page.evaluate(() => window.__noReload), true);
  await done();
});

test('statistics: charts, tables and exports, in Chinese and in English', async () => {
  const { page, done } = await context();
  await signIn(page, 'wu.super');
  await page.click('nav a[href="/console/stats"]');
  await page.waitForSelector('#kpis');
  // Five charts drawn (canvas), each with its table.
  await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 5);
  for (const t of ['month', 'category', 'area', 'tier', 'source']) assert.ok(await page.$(`#table-${t} tbody tr`), t);
  assert.ok(Number(await page.textContent('#kpi-received .kpi-value')) >= 1);
  assert.match(await page.textContent('#table-month thead'), /月份.*受理总数.*化解率/);
  assert.match(await page.textContent('#table-category'), /环境生态|邻里纠纷/);
  if (shots) {
    // The screenshot shows the charts drawn, not growing: the system asks for less motion.
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 5);
    await page.screenshot({ path: path.join(shots, 'stats.png') });
  }

  // The CSV export: a real download with a header row.
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  assert.match(csv.suggestedFilename(), /\.csv$/);
  const text = fs.readFileSync(await csv.path(), 'utf8');
  assert.match(text.split('\n')[0], /received 受理数/);
  assert.match(text, /TOTAL,合计/);
  // The monthly workbook (an xlsx is a zip: "PK").
  await page.fill('#st-xlsx-month', new Date().toISOString().slice(0, 7));
  await page.dispatchEvent('#st-xlsx-month', 'change');
  const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('#export-xlsx')]);
  assert.match(xlsx.suggestedFilename(), /^monthly-\d{4}-\d{2}\.xlsx$/);
  assert.equal(fs.readFileSync(await xlsx.path()).subarray(0, 2).toString(), 'PK');

  // A period picked: the URL keeps it, the API answers for it.
  await page.click('button[data-preset="st_thisMonth"]');
  await page.waitForFunction(() => /from=\d{4}-\d{2}-01/.test(location.search));
  await page.waitForFunction(() => document.querySelectorAll('#table-month tbody tr').length === 1);

  // English: the page and its charts again.
  await page.click('#lang-toggle');
  await page.waitForSelector('h1:text("Statistics")');
  await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 5);
  assert.match(await page.textContent('#table-month thead'), /Month.*Cases received.*Resolution rate/);
  assert.match(await page.textContent('#export-csv'), /Export CSV/);
  await page.click('#lang-toggle');
  await done();
});
