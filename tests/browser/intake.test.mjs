// 一站式受理 at the county center's window: chen.dispatch records a walk-in; the suggested
// dispatch shows before saving and follows the category and the place; the saved case
// shows its number at once and opens. Also: errors name the field, the form is keyboard
// usable, data stays text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { shots, XSS, context, signIn, pickOrgs } from './lib.mjs';

test('a walk-in at the window: suggestion before saving, the case number at once, the case opens', async () => {
  const { page, done } = await context();
  await signIn(page, 'chen.dispatch');
  await page.click('nav a[href="/console/intake"]');
  await page.waitForSelector('#intake-form');
  // Keyboard first: the first field has the focus.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'in-source');
  assert.equal(await page.inputValue('#in-source'), 'WALK_IN');

  // Nothing to suggest yet; then the place from the tree (by keyboard: filter, ↓, Enter).
  assert.match(await page.textContent('#in-suggestion'), /选择类别和地点/);
  await page.fill('#in-title', `${XSS} 工地拖欠工资`);
  await page.selectOption('#in-category', 'LABOUR_WAGES');
  await page.fill('#in-location-filter', '东岭');
  await page.press('#in-location-filter', 'ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.org), '330182101201');
  await page.keyboard.press('Enter');
  assert.equal(await page.textContent('#in-area-code'), '330182101201');
  assert.equal(await page.getAttribute('#in-location-tree [data-org="330182101201"]', 'aria-selected'), 'true');
  // Another township's department is no place: centers and villages only.
  assert.equal(await page.$('#in-location-tree [data-org="330182-labour"]'), null);
  await page.waitForSelector('#in-suggestion-target');
  assert.equal(await page.getAttribute('#in-suggestion-target', 'data-org'), '330182-labour');
  assert.match(await page.textContent('#in-suggestion'), /规则建议分派至/);

  // It follows the category: traffic accidents go automatically to their room; no rule for neighbours.
  await page.selectOption('#in-category', 'TRAFFIC_ACCIDENT');
  await page.waitForFunction(() => document.querySelector('#in-suggestion-target')?.dataset.org === '330182-room-traffic');
  assert.match(await page.textContent('#in-suggestion'), /自动分派/);
  await page.selectOption('#in-category', 'NEIGHBOUR');
  await page.waitForFunction(() => /没有匹配的分派规则/.test(document.querySelector('#in-suggestion').textContent));
  await page.selectOption('#in-category', 'LABOUR_WAGES');
  await page.waitForSelector('#in-suggestion-target');

  // Errors name the field: a bad amount, then a party without a name.
  await page.fill('#in-amount', '8.6万');
  await page.click('#in-save');
  await page.waitForSelector('#intake-error:not(:empty)');
  assert.match(await page.textContent('#intake-error'), /金额/);
  assert.equal(await page.getAttribute('#in-amount', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'in-amount');
  await page.fill('#in-amount', '86000.50');
  await page.fill('#in-summary', '包工头拖欠12名工人工资');
  await page.fill('#in-people', '12');
  await page.fill('#in-address', '东岭村村口工地');
  await page.fill('[data-party="1"] [id$="-name"]', '张建国');
  await page.fill('[data-party="1"] [id$="-id"]', '330182197001011234');
  await page.fill('[data-party="1"] [id$="-phone"]', '13800005678');
  await page.click('#in-add-party');
  await page.click('#in-add-party');
  assert.equal(await page.$$eval('#in-parties fieldset', (f) => f.length), 3);
  await page.click('[data-party="3"] [data-remove-party]');
  assert.equal(await page.$$eval('#in-parties fieldset', (f) => f.length), 2);
  await page.fill('[data-party="2"] [id$="-phone"]', '13900001111');
  await page.click('#in-save');
  await page.waitForSelector('#intake-error:not(:empty)');
  assert.match(await page.textContent('#intake-error'), /姓名/);
  await page.fill('[data-party="2"] [id$="-name"]', '李老板');
  if (shots) await page.screenshot({ path: path.join(shots, 'intake.png'), fullPage: true });

  await page.click('#in-save');
  await page.waitForSelector('#in-case-no');
  const no = await page.textContent('#in-case-no');
  assert.match(no, /^330182-\d{8}-\d{6}$/);
  // The form is cleared for the next person, focus on it again.
  assert.equal(await page.inputValue('#in-title'), '');
  assert.equal(await page.textContent('#in-area-code'), '—');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'in-title');
  // The suggestion can be confirmed from here; first the case opens.
  assert.match(await page.textContent('#in-confirm'), /劳动/);
  await page.click('#in-open');
  await page.waitForSelector('#case-title');
  assert.equal(await page.textContent('#case-title'), `${XSS} 工地拖欠工资`);
  assert.equal(await page.textContent('#case-no'), no);
  assert.equal(await page.textContent('#case-status'), '已受理');
  const fields = await page.textContent('table.fields');
  assert.match(fields, /86,000\.50/);
  assert.match(fields, /来访/);
  const parties = await page.textContent('#parties');
  assert.match(parties, /张建国/);
  assert.doesNotMatch(parties, /330182197001011234/, 'masked until revealed');
  await done();
});

test('a township dispatcher: only the township\'s places, an automatic rule dispatches on saving', async () => {
  const { page, done } = await context();
  await signIn(page, 'sun.town');
  await page.goto('/console/intake');
  await page.waitForSelector('#intake-form');
  const places = await page.$$eval('#in-location-tree [role=treeitem]:not([aria-disabled])', (n) => n.map((x) => x.dataset.org));
  // The county center shows as the branch above, not as a place.
  assert.equal(await page.getAttribute('#in-location-tree [data-org="330182-center"]', 'aria-disabled'), 'true');
  assert.deepEqual(places, ['330182101-center', '330182101201', '330182101202']);
  // An automatic rule: saved and dispatched in one go, the number at once.
  await page.fill('#in-title', '两车刮擦');
  await page.selectOption('#in-category', 'TRAFFIC_ACCIDENT');
  await pickOrgs(page, 'in-location', ['330182101202']);
  await page.waitForSelector('#in-suggestion-target');
  await page.click('#in-save');
  await page.waitForSelector('#in-case-no');
  assert.match(await page.textContent('#in-case-no'), /^330182-\d{8}-\d{6}$/);
  assert.match(await page.textContent('#in-handled'), /道路交通事故/);
  assert.equal(await page.$('#in-confirm'), null);
  await done();
});
