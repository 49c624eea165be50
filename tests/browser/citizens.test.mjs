// Citizens (issue 16) on a phone-sized Chromium: the filing page opened from the poster's
// QR code address, a code read from the fake SMS gateway, the case number; the center
// dispatches (API), the department's phone gets a "sync now" signal; the status page
// shows it; resolution sends the survey link; answering it moves 满意度 in /v1/stats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { base, browser, context, field, shots, signIn, XSS } from './lib.mjs';

// The fake SMS gateway and push webhook .ci/browser pointed the server at.
const received = { sms: [], push: [] };
let fake;
before(async () => {
  fake = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try {
        const v = JSON.parse(body);
        (req.url === '/push' ? received.push : received.sms).push({ v, auth: req.headers.authorization });
      } catch { /* not JSON: ignored */ }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((ok) => fake.listen(Number(process.env.FAKE_PORT), '127.0.0.1', ok));
});
after(() => fake?.close());

async function waitFor(what, find, ms = 30000) {
  const until = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > until) throw new Error(`${what}: not received`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const codeFor = (mobile, after) => waitFor(`a code for ${mobile}`, () =>
  received.sms.slice(after).reverse().find((m) => m.v.kind === 'CODE' && m.v.phone_number === mobile))
  .then((m) => m.v.template_param.code);

async function api(method, url, token, body) {
  const r = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return [r.status, text ? JSON.parse(text) : null];
}

async function login(user) {
  const [s, v] = await api('POST', '/v1/auth/login', null, { username: user, password: 'gridsync-demo' });
  assert.equal(s, 200);
  return v.access_token;
}

test('a citizen files from the poster, follows the case and answers the survey', async () => {
  const mobile = `139${String(Date.now()).slice(-8)}`;
  const chen = await login('chen.dispatch');

  // The poster's QR code holds the filing page's address (the Rust suite decodes the PNG).
  const [s, poster] = await api('GET', '/v1/public/counties/330182/qr?format=json', chen);
  assert.equal(s, 200);
  assert.equal(poster.url, `${base}/public/330182`);

  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true, baseURL: base });
  const page = await ctx.newPage();
  const problems = [];
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(m.text()); });

  await page.goto(poster.url);
  await page.waitForSelector('#village optgroup', { state: 'attached' });
  assert.match(await page.textContent('#center'), /示范县社会治理综合服务中心/);
  await page.selectOption('#category', 'NEIGHBOUR');
  await page.fill('#description', '邻居装修噪音扰民，多次协商无果');
  await page.selectOption('#village', '330182101201');
  await page.fill('#name', '钱多多');
  await page.fill('#mobile', mobile);
  const before = received.sms.length;
  await page.click('#send');
  const code = await codeFor(mobile, before);
  assert.match(await page.textContent('#send'), /秒后重发/);
  await page.fill('#code', code);
  if (shots) await page.screenshot({ path: path.join(shots, 'public-file.png'), fullPage: true });
  // Markup from the public stays text everywhere it is shown (the staff console below).
  await page.fill('#description', `邻居装修噪音扰民，多次协商无果 ${XSS}`);
  await page.fill('#name', `钱多多${XSS}`.slice(0, 50));
  await page.click('#submit');
  await page.waitForSelector('#done:not([hidden])');
  const caseNo = (await page.textContent('#case-no')).trim();
  assert.match(caseNo, /^330182-\d{8}-\d{6}$/);
  if (shots) await page.screenshot({ path: path.join(shots, 'public-filed.png'), fullPage: true });

  // The center dispatches to labour inspection; its handler's phone is told to sync.
  field('citizens-liu', 'login', base, 'liu.labour', 'gridsync-demo');
  const pushesBefore = received.push.length;
  let [st, v] = await api('POST', `/v1/cases/${caseNo}/actions`, chen, { kind: 'DISPATCH', payload: { to: [{ id: '330182-labour' }] } });
  assert.equal(st, 200, JSON.stringify(v));
  const push = await waitFor('a sync signal', () => received.push.slice(pushesBefore).find((p) => p.v.signal === 'SYNC_NOW'));
  assert.deepEqual(Object.keys(push.v).sort(), ['device_id', 'message_id', 'signal']);
  field('citizens-liu', 'sync');
  await waitFor('the applicant told of the dispatch', () =>
    received.sms.find((m) => m.v.kind === 'DISPATCHED' && m.v.phone_number === mobile));

  // The status page: number, mobile, a code → dispatched, to whom.
  await page.goto('/public/track');
  await page.fill('#case-no', caseNo);
  await page.fill('#mobile', mobile);
  const beforeFollow = received.sms.length;
  await page.click('#send');
  await page.fill('#code', await codeFor(mobile, beforeFollow));
  await page.click('#submit');
  await page.waitForSelector('#result:not([hidden])');
  assert.equal(await page.textContent('#r-status'), '已分派');
  assert.match(await page.textContent('#r-orgs'), /劳动/);
  assert.match(await page.textContent('#r-steps'), /受理.*分派/s);
  assert.doesNotMatch(await page.content(), /钱多多|alert\(1\)/);
  if (shots) await page.screenshot({ path: path.join(shots, 'public-track.png'), fullPage: true });

  // Resolved by the department → the survey link by SMS.
  const liu = await login('liu.labour');
  for (const [kind, payload] of [['SIGN_FOR', {}], ['START_HANDLING', {}],
    ['RESOLVE', { success: true, outcome: '双方和解', agreement: { form: 'WRITTEN', terms: '装修限于每日9时至18时' } }]]) {
    [st, v] = await api('POST', `/v1/cases/${caseNo}/actions`, liu, { kind, payload });
    assert.equal(st, 200, `${kind}: ${JSON.stringify(v)}`);
  }
  const [, statsBefore] = await api('GET', '/v1/stats', chen);
  const survey = await waitFor('the survey link', () =>
    received.sms.find((m) => m.v.kind === 'SURVEY' && m.v.phone_number === mobile));
  const link = survey.v.template_param.link;
  assert.match(link, /\/public\/survey#/);

  await page.goto(link.startsWith('http') ? link : `${base}${link}`);
  await page.check('input[name=satisfaction][value="5"]');
  await page.check('input[name=kept][value="yes"]');
  if (shots) await page.screenshot({ path: path.join(shots, 'public-survey.png'), fullPage: true });
  await page.click('#submit');
  await page.waitForSelector('#done:not([hidden])');

  const [, statsAfter] = await api('GET', '/v1/stats', chen);
  const t0 = statsBefore.total.current;
  const t1 = statsAfter.total.current;
  assert.equal(t1.followed_up, t0.followed_up + 1);
  assert.equal(t1.satisfied, t0.satisfied + 1, '满意度 moved');

  // The staff console shows the public's text as text (a dialog would fail `done`).
  [st, v] = await api('GET', `/v1/cases/${caseNo}`, chen);
  assert.equal(v.case.source, 'ONLINE');
  const staff = await context();
  await signIn(staff.page, 'chen.dispatch');
  // The desk's poster: the server's QR code, fetched with the console's session.
  await staff.page.goto('/public/330182/poster');
  await staff.page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
  assert.match(await staff.page.textContent('#center'), /示范县/);
  if (shots) await staff.page.screenshot({ path: path.join(shots, 'public-poster.png'), fullPage: true });
  // Without a session the page says who prints it, and shows no code.
  await page.goto('/public/330182/poster');
  await page.waitForSelector('#qr-error:not([hidden])');
  await staff.page.goto(`/console/cases/${v.id}`);
  await staff.page.waitForFunction((x) => document.body.textContent.includes(x), XSS);
  await staff.done();
  await ctx.close();
  assert.deepEqual(problems, []);
});
