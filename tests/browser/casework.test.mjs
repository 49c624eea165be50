// The case page complete (work notes, installments, the audited reveal), the printable
// 调解协议书, and the queue's filters, in chromium against `gridsync serve --demo` (see
// lib.mjs). Cases are made through the API with tokens (`/v1/auth/login`), each with a
// unique word in its title, so other suites' cases in the same server do not matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { base, shots, work, context, signIn } from './lib.mjs';

const run = `${process.pid}${Date.now() % 100000}`;
let devices = 0;

/** A bearer token for `user` (a device of its own per call). */
async function token(user) {
  const r = await fetch(`${base}/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password: 'gridsync-demo', device_id: `casework-${run}-${user}-${devices++}` }),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.access_token;
}

async function call(tok, method, p, body) {
  const r = await fetch(`${base}${p}`, {
    method,
    headers: { Authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => null);
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${JSON.stringify(data)}`);
  return data;
}

/** One-stop intake by the county dispatcher; returns the case id. */
async function intake(chen, { area = '330182101201', source = 'WALK_IN', title }) {
  const d = await call(chen, 'POST', '/v1/cases', {
    area_code: area, source, title, summary: '包工头拖欠12名工人工资共计8.6万元，多次讨要未果。',
    category: 'LABOUR_WAGES', risk_level: 'YELLOW', amount_involved: 8600000, people_involved: 12,
    parties: [
      { role: 'APPLICANT', name: '张建国', id_number: '330182197001011234', phone: '13900001111', sex: 'MALE', ethnicity: '汉族', address: '青溪镇东岭村3组12号' },
      { role: 'RESPONDENT', name: '李老板', id_number: '330182198002023456', phone: '13800002222', address: '青溪镇工业园区8号' },
    ],
  });
  return d.id;
}

const step = (tok, id, kind, payload = {}) => call(tok, 'POST', `/v1/cases/${id}/actions`, { kind, payload });

/** A case dispatched to 青溪司法所 and being handled there. */
async function inProgress(title) {
  const chen = await token('chen.dispatch');
  const zhou = await token('zhou.judicial');
  const id = await intake(chen, { title });
  const s = (await call(chen, 'GET', `/v1/cases/${id}`)).state.status;
  if (s === 'SUBMITTED') await step(chen, id, 'ACCEPT');
  await step(chen, id, 'DISPATCH', { to: [{ id: '330182101-judicial' }], note: '请司法所牵头调处' });
  await step(zhou, id, 'SIGN_FOR');
  await step(zhou, id, 'START_HANDLING');
  return { id, chen, zhou };
}

const RESOLVE = {
  success: true,
  outcome: '经背靠背调解，双方达成协议，欠薪分两期付清。',
  agreement: {
    form: 'WRITTEN',
    terms: '一、被申请人于2026年12月31日前支付申请人工资43,000元；\n二、被申请人于2027年1月31日前支付余款43,000元。',
    installments: [
      { due_at: '2026-12-31T17:00:00+08:00', amount: 4300000 },
      { due_at: '2027-01-31T17:00:00+08:00', amount: 4300000 },
    ],
  },
};

test('a work note joins the timeline with who and when; an installment is marked paid; the reveal is audited', async () => {
  const { id, zhou } = await inProgress(`欠薪纠纷 记录${run}`);
  const { page, done } = await context();
  await signIn(page, 'zhou.judicial');
  await page.goto(`/console/cases/${id}`);
  await page.waitForSelector('#note-form');
  assert.equal(await page.$$eval('#timeline li.work-note', (l) => l.length), 0);

  // The note: kind, the party it was held with, the text.
  await page.selectOption('#note-kind', 'MEDIATION_BACK_TO_BACK');
  await page.selectOption('#note-party', { label: '申请人 张建国' });
  await page.fill('#note-text', '与申请人单独沟通：同意分两期付清，第一期12月底前。');
  await page.click('#note-form button[type=submit]');
  await page.waitForSelector('#timeline li.work-note');
  await page.waitForSelector('#case-flash:not(:empty)');
  const note = await page.textContent('#timeline li.work-note');
  assert.match(note, /背靠背调解/);
  assert.match(note, /周承办/, 'who wrote it, by name');
  assert.match(note, /\d{4}-\d\d-\d\d \d\d:\d\d/, 'when');
  assert.match(note, /张建国/, 'with whom');
  // A masked read withholds what people said, and says so.
  assert.doesNotMatch(note, /同意分两期付清/);
  assert.match(note, /查看完整信息后显示/);
  // The note sits after the steps taken before it.
  const order = await page.$$eval('#timeline li', (l) => l.map((x) => (x.classList.contains('work-note') ? 'note' : 'event')));
  assert.equal(order.at(-1), 'note');

  // A back-to-back session names its party: the form does not send one without it.
  await page.selectOption('#note-kind', 'MEDIATION_BACK_TO_BACK');
  await page.selectOption('#note-party', '');
  await page.fill('#note-text', '再次沟通');
  await page.click('#note-form button[type=submit]');
  assert.equal(await page.$eval('#note-party', (el) => el.validity.valueMissing), true);
  await page.waitForTimeout(300);
  assert.equal(await page.$$eval('#timeline li.work-note', (l) => l.length), 1);
  await page.fill('#note-text', '');

  // Resolved with an agreement in two installments: the page shows them; the first is paid.
  await step(zhou, id, 'RESOLVE', RESOLVE);
  await page.reload();
  await page.waitForSelector('#installments');
  assert.equal(await page.$$eval('#installments tbody tr', (r) => r.length), 2);
  assert.match(await page.textContent('#installments'), /43,000\.00 元/);
  assert.match(await page.textContent('#agreement'), /被申请人于2026年12月31日前/);
  assert.ok(await page.$(`a[href="/console/cases/${id}/agreement"]`), 'a link to the printable agreement');
  await page.click('#installments tbody tr:first-child button.mark-paid');
  await page.waitForSelector('#installments tbody tr.paid:first-child');
  assert.match(await page.textContent('#installments tbody tr:first-child'), /已履行 \d{4}-\d\d-\d\d \d\d:\d\d/);
  assert.equal(await page.$$eval('#installments button.mark-paid', (b) => b.length), 1);
  assert.match(await page.textContent('#joint'), /牵头/);
  assert.match(await page.textContent('#joint'), /青溪司法所/);
  if (shots) await page.screenshot({ path: path.join(shots, 'case-full.png'), fullPage: true });

  // The full details on request: the note's text and the ID numbers; the read is audited.
  const before = new Date(Date.now() - 1000).toISOString();
  await page.click('#reveal');
  await page.waitForSelector('#revealed');
  assert.match(await page.textContent('#timeline li.work-note'), /同意分两期付清/);
  assert.match(await page.textContent('#parties'), /330182197001011234/);
  const wu = await token('wu.super');
  const audit = await call(wu, 'GET', `/v1/audit?case=${id}&from=${encodeURIComponent(before)}`);
  const read = audit.items.find((e) => e.action === 'PERSONAL_DATA_READ' && e.user_id === 'u-zhou.judicial');
  assert.ok(read, JSON.stringify(audit.items.map((e) => e.action)));
  assert.equal(read.case_id, id);
  const all = await call(wu, 'GET', `/v1/audit?case=${id}`);
  assert.ok(all.items.some((e) => e.action === 'CASE_NOTE_ADDED' && e.user_id === 'u-zhou.judicial'));
  assert.ok(all.items.some((e) => e.action === 'INSTALLMENT_PAID'));
  await done();
});

test('a resolved case prints its 人民调解协议书 on A4: parties in full, terms, installments, signature lines', async () => {
  const { id, zhou } = await inProgress(`欠薪纠纷 协议${run}`);
  await step(zhou, id, 'RESOLVE', RESOLVE);
  const caseNo = (await call(zhou, 'GET', `/v1/cases/${id}`)).state.case_no;

  const { page, done } = await context();
  await signIn(page, 'zhou.judicial');
  await page.goto(`/console/cases/${id}`);
  await page.click(`.case-head a[href="/console/cases/${id}/agreement"]`);
  await page.waitForSelector('#agreement');
  assert.equal(await page.textContent('#agreement h1'), '人民调解协议书');
  assert.equal(await page.textContent('#agreement-no'), caseNo);
  assert.ok(await page.$('#agreement-unmasked'), 'the handler reads the parties in full (audited)');
  const parties = await page.textContent('#agreement-parties');
  assert.match(parties, /申请人：张建国/);
  assert.match(parties, /330182197001011234/);
  assert.match(parties, /13900001111/);
  assert.match(parties, /1970年01月01日/, 'the date of birth from the ID number');
  assert.match(await page.textContent('#agreement-facts'), /拖欠12名工人工资/);
  assert.match(await page.textContent('#agreement-outcome'), /双方达成协议/);
  assert.match(await page.textContent('#agreement-terms'), /二、被申请人于2027年1月31日前/);
  assert.equal(await page.$$eval('#agreement-installments tbody tr', (r) => r.length), 2);
  assert.match(await page.textContent('#agreement-installments tfoot'), /86,000\.00 元/);
  assert.match(await page.textContent('#agreement'), /司法确认/);
  assert.match(await page.textContent('#agreement'), /青溪司法所/);
  assert.equal(await page.$$eval('#signatures .sign-party', (l) => l.length), 2);
  assert.match(await page.textContent('#signatures'), /申请人（签名\/盖章）/);
  assert.match(await page.textContent('#signatures'), /调解员（签名）/);
  assert.match(await page.textContent('#seal'), /人民调解委员会（印章）/);
  // The print button focused first (Enter prints).
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'print');
  if (shots) await page.screenshot({ path: path.join(shots, 'agreement.png'), fullPage: true });

  // Printed: the console's chrome is gone, the paper and its signature lines stay.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.isVisible('nav.side'), false);
  assert.equal(await page.isVisible('header.topbar'), false);
  assert.equal(await page.isVisible('#print'), false);
  assert.equal(await page.isVisible('#agreement'), true);
  assert.equal(await page.isVisible('#signatures'), true);
  assert.equal(await page.isVisible('#seal'), true);
  const inside = await page.$eval('#signatures', (el) => getComputedStyle(el).breakInside);
  assert.equal(inside, 'avoid');
  assert.equal(await page.$eval('#agreement', (el) => getComputedStyle(el).color), 'rgb(0, 0, 0)');
  // Chromium's own print to PDF, on A4 (kept in the scratch directory for a look).
  const pdf = await page.pdf({ path: path.join(work, 'agreement.pdf'), format: 'A4' });
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  await page.emulateMedia({ media: 'screen' });

  // The English version translates the same layout.
  await page.click('#lang-toggle');
  await page.waitForFunction(() => document.querySelector('#agreement h1')?.textContent === 'People\'s Mediation Agreement');
  assert.match(await page.textContent('#signatures'), /Mediator \(signature\)/);
  await page.click('#lang-toggle');
  await page.waitForFunction(() => document.querySelector('#agreement h1')?.textContent === '人民调解协议书');
  await done();

  // A supervisor may read the case but not the parties' particulars: masked, and told so.
  const sup = await context();
  await signIn(sup.page, 'wu.super');
  await sup.page.goto(`/console/cases/${id}/agreement`);
  await sup.page.waitForSelector('#agreement');
  assert.ok(await sup.page.$('#agreement-masked'));
  const masked = await sup.page.textContent('#agreement-parties');
  assert.match(masked, /330182\*+1234/);
  assert.doesNotMatch(masked, /330182197001011234/);
  await sup.done();
});

test('the source and village filters narrow the queue; the count of loaded rows shows', async () => {
  const chen = await token('chen.dispatch');
  const word = `筛选${run}`;
  const walkIn = await intake(chen, { title: `${word} 东岭村来访`, source: 'WALK_IN', area: '330182101201' });
  const hotline = await intake(chen, { title: `${word} 西坞村热线`, source: 'HOTLINE', area: '330182101202' });
  const { page, done } = await context();
  await signIn(page, 'chen.dispatch');
  await page.goto('/console/cases');
  await page.waitForSelector('#case-filters');
  const shown = async () => {
    await page.click('#case-filters button[type=submit]');
    await page.waitForSelector('#cases[aria-busy="false"]');
    return page.$$eval('#cases tbody tr[data-case]', (r) => r.map((x) => x.dataset.case).sort());
  };
  await page.fill('#f-text', word);
  assert.deepEqual(await shown(), [walkIn, hotline].sort());
  assert.match(await page.textContent('#loaded-count'), /已加载 2 条/);
  await page.selectOption('#f-source', 'WALK_IN');
  assert.deepEqual(await shown(), [walkIn]);
  assert.match(page.url(), /source=WALK_IN/);
  assert.match(await page.textContent(`#cases tr[data-case="${walkIn}"]`), /来访/);
  await page.selectOption('#f-source', 'PETITION');
  assert.deepEqual(await shown(), []);
  await page.waitForSelector('#cases td.empty');
  await page.selectOption('#f-source', '');
  // The village: from the directory's selects (township, then village).
  await page.selectOption('#f-township', { label: '青溪镇综治中心' });
  assert.deepEqual(await shown(), [walkIn, hotline].sort());
  await page.selectOption('#f-village', { label: '青溪镇西坞村' });
  assert.deepEqual(await shown(), [hotline]);
  assert.match(page.url(), /area=330182101202/);
  if (shots) await page.screenshot({ path: path.join(shots, 'cases-filtered.png') });
  // The filters survive a reload (they are in the URL).
  await page.reload();
  await page.waitForSelector(`#cases tr[data-case="${hotline}"]`);
  assert.equal(await page.inputValue('#f-village'), '330182101202');
  await done();
});
