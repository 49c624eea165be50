// The four-step workflow end to end, each step by its own user in its own browser context,
// with a grid worker's phone (`gridsync field`) that sees every step after its sync:
//   1. wang.grid's phone records and submits a wage-arrears case in 东岭村;
//   2. chen.dispatch (county center) accepts it and dispatches it with the organisation
//      picker, which comes pre-filled with the rules' suggestion;
//   3. the target's handler signs for it, starts handling, resolves it with an agreement
//      paid in installments;
//   4. the follow-up by whoever the case's `allowed_actions` offer it to (the village's
//      mediator li.mediator), and the supervisor wu.super reads the whole timeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { shots, field, phoneRecords, context, signIn, act, pickOrgs } from './lib.mjs';

const PHONE = 'wang-workflow';

/** The phone syncs, then shows the case: its status and the timeline's step kinds. */
function phoneSees(id) {
  field(PHONE, 'sync');
  const shown = JSON.parse(field(PHONE, '--json', 'show', id));
  const text = JSON.stringify(shown);
  return { status: shown.state?.status ?? shown.status, text };
}

async function waitStatus(page, zh) {
  await page.waitForFunction((s) => document.querySelector('#case-status')?.textContent === s, zh);
}

/** The kinds of `allowed_actions` the signed-in user of `page` has on the case. */
async function allowed(page, id) {
  return page.evaluate(async (caseId) => {
    const r = await fetch(`/v1/cases/${caseId}`, { headers: { Accept: 'application/json' } });
    return (await r.json()).allowed_actions.map((a) => a.kind);
  }, id);
}

test('record on the phone, dispatch with the picker, handle, resolve, follow up: four users, the phone sees each step', async () => {
  // 1. The phone.
  const id = phoneRecords(PHONE, 'wang.grid', '东岭村工地拖欠工资（流程测试）');
  assert.equal(phoneSees(id).status, 'SUBMITTED');

  // 2. The county dispatcher: accept, then dispatch with the picker.
  const dispatcher = await context();
  const d = dispatcher.page;
  await signIn(d, 'chen.dispatch');
  await d.goto(`/console/cases/${id}`);
  await d.waitForSelector('#case-title');
  await act(d, 'ACCEPT');
  await waitStatus(d, '已受理');
  const caseNo = await d.textContent('#case-no');
  assert.match(caseNo, /^330182-\d{8}-\d{6}$/);
  assert.match(phoneSees(id).text, new RegExp(caseNo));
  assert.equal(phoneSees(id).status, 'ACCEPTED');

  await d.click('#actions button[data-action="DISPATCH"]');
  await d.waitForSelector('#p-DISPATCH-to-filter');
  // Pre-filled with the suggestion, shown as the lead.
  assert.deepEqual(await d.$$eval('#p-DISPATCH-to-chosen [data-chosen]', (n) => n.map((x) => x.dataset.chosen)), ['330182-labour']);
  assert.match(await d.textContent('#p-DISPATCH-to-chosen .op-lead'), /牵头/);
  // Only what the dispatcher may dispatch to can be picked: a center is a branch.
  assert.equal(await d.getAttribute('#p-DISPATCH-to-tree [data-org="330182101-center"]', 'aria-disabled'), 'true');
  assert.equal(await d.getAttribute('#p-DISPATCH-to-tree [data-org="330182101-judicial"]', 'aria-disabled'), null);
  // A second organisation co-handles; then back to the suggestion alone, chosen by keyboard.
  await d.fill('#p-DISPATCH-to-filter', '司法所');
  await d.press('#p-DISPATCH-to-filter', 'Enter');
  assert.deepEqual(await d.$$eval('#p-DISPATCH-to-chosen [data-chosen]', (n) => n.map((x) => x.dataset.chosen)),
    ['330182-labour', '330182101-judicial']);
  await d.click('#p-DISPATCH-to-chosen [data-lead="330182101-judicial"]');
  assert.equal(await d.getAttribute('#p-DISPATCH-to-chosen .op-chip.lead', 'data-chosen'), '330182101-judicial');
  await pickOrgs(d, 'p-DISPATCH-to', ['330182-labour']);
  await d.fill('#p-DISPATCH-note', '请劳动监察大队牵头处理欠薪');
  await d.press('#p-DISPATCH-to-filter', 'ArrowDown');
  if (shots) await d.screenshot({ path: path.join(shots, 'dispatch.png'), fullPage: true });
  await d.click('#form-DISPATCH button[type=submit]');
  await waitStatus(d, '已分派');
  assert.equal(phoneSees(id).status, 'DISPATCHED');

  // 3. The handler the case went to: sign for, start handling, resolve with installments.
  const handler = await context();
  const hp = handler.page;
  await signIn(hp, 'liu.labour');
  await hp.goto(`/console/cases/${id}`);
  await hp.waitForSelector('#actions button[data-action="SIGN_FOR"]');
  await act(hp, 'SIGN_FOR');
  await waitStatus(hp, '已签收');
  assert.equal(phoneSees(id).status, 'SIGNED');
  await act(hp, 'START_HANDLING');
  await waitStatus(hp, '调处中');
  assert.equal(phoneSees(id).status, 'IN_PROGRESS');
  const year = new Date().getFullYear() + 1;
  await act(hp, 'RESOLVE', async (p) => {
    await p.selectOption('#p-RESOLVE-success', 'true');
    await p.fill('#p-RESOLVE-outcome', '双方达成调解协议，欠薪分两期付清');
    await p.selectOption('#p-RESOLVE-agreement-form', 'WRITTEN');
    await p.fill('#p-RESOLVE-agreement-terms', '李老板于两期内付清拖欠工资共计8.6万元');
    // Two installments, one row each, the amounts in 元.
    const rows = '#p-RESOLVE-agreement-installments';
    for (const [n, due] of [[0, `${year}-01-31T00:00`], [1, `${year}-02-28T00:00`]]) {
      await p.click(`${rows}-add`);
      await p.fill(`${rows}-${n}-due_at`, due);
      await p.fill(`${rows}-${n}-amount`, '43000');
    }
    // A third row added by mistake and removed again sends nothing.
    await p.click(`${rows}-add`);
    await p.click(`${rows}-2-remove`);
  });
  await waitStatus(hp, '已办结');
  const resolved = phoneSees(id);
  assert.equal(resolved.status, 'RESOLVED');
  assert.match(resolved.text, /4300000/, 'the phone has the installments');

  // 4. The follow-up, by whoever the API offers it to: the village's mediator.
  const mediator = await context();
  const mp = mediator.page;
  await signIn(mp, 'li.mediator');
  await mp.goto(`/console/cases/${id}`);
  await mp.waitForSelector('#case-title');
  assert.ok((await allowed(mp, id)).includes('FOLLOW_UP'), 'the village mediator may follow up');
  assert.ok(!(await allowed(hp, id)).includes('FOLLOW_UP'), 'the handler does not follow up his own case');
  await act(mp, 'FOLLOW_UP', async (p) => {
    await p.selectOption('#p-FOLLOW_UP-method', 'VISIT');
    await p.fill('#p-FOLLOW_UP-satisfaction', '5');
    await p.selectOption('#p-FOLLOW_UP-agreement_performed', 'true');
    await p.fill('#p-FOLLOW_UP-note', '入户回访，当事人满意，第一期已付');
  });
  await waitStatus(mp, '已回访');
  assert.equal(phoneSees(id).status, 'FOLLOWED_UP');

  // The supervisor reads the whole story, each step by its own user.
  const supervisor = await context();
  const sp = supervisor.page;
  await signIn(sp, 'wu.super');
  await sp.goto(`/console/cases/${id}`);
  await sp.waitForSelector('#timeline li');
  const timeline = await sp.textContent('#timeline');
  for (const step of ['上报', '受理', '分派', '签收', '开始调处', '办结', '回访']) assert.match(timeline, new RegExp(step));
  // By their names (the case detail's `people`), not their ids.
  for (const who of ['王网格', '陈受理', '刘承办', '李调解']) assert.match(timeline, new RegExp(who));
  assert.doesNotMatch(timeline, /u-chen\.dispatch/);

  await supervisor.done();
  await mediator.done();
  await handler.done();
  await dispatcher.done();
});
