// The console where centers use it: at 1366×768 and on a tablet (768×1024, touch), no page
// scrolls sideways and the navigation stays reachable; and with the keyboard alone one signs
// in and moves between pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { browser, base, shots } from './lib.mjs';

const PAGES = ['/console/tasks', '/console/cases', '/console/intake', '/console/warnings', '/console/stats'];

async function open(viewport, extra = {}) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', baseURL: base, ...extra });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(m.text()); });
  return { ctx, page, problems };
}

async function signInByKeyboard(page, user) {
  await page.goto('/console/');
  await page.waitForSelector('#signin-form');
  // The user field has the focus on arrival; Tab moves on, Enter submits.
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type('gridsync-demo');
  await page.keyboard.press('Enter');
  await page.waitForSelector('header.topbar');
}

for (const [name, viewport, extra] of [
  ['1366×768', { width: 1366, height: 768 }, {}],
  ['a tablet (768×1024)', { width: 768, height: 1024 }, { hasTouch: true, isMobile: true }],
]) {
  test(`at ${name} no page scrolls sideways`, async () => {
    const { ctx, page, problems } = await open(viewport, extra);
    await signInByKeyboard(page, 'chen.dispatch');
    for (const p of PAGES) {
      await page.goto(p);
      await page.waitForSelector('main#main h1');
      await page.waitForLoadState('networkidle');
      const { scroll, width } = await page.evaluate(() => ({
        scroll: document.scrollingElement.scrollWidth, width: window.innerWidth,
      }));
      assert.ok(scroll <= width + 1, `${p} is ${scroll}px wide in a ${width}px window`);
      assert.ok(await page.isVisible('nav.side a[href="/console/cases"]'), `${p}: navigation hidden`);
    }
    if (shots && viewport.width < 1000) {
      await page.goto('/console/cases');
      await page.waitForSelector('#cases tbody tr');
      await page.screenshot({ path: path.join(shots, 'tablet-cases.png') });
    }
    await ctx.close();
    assert.deepEqual(problems, []);
  });
}

test('the keyboard alone signs in and moves between pages', async () => {
  const { ctx, page, problems } = await open({ width: 1366, height: 768 });
  await signInByKeyboard(page, 'wu.super');
  // Tab to the navigation's 案件 link and follow it with Enter.
  let reached = false;
  for (let i = 0; i < 30 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('href') === '/console/cases');
  }
  assert.ok(reached, 'Tab never reached the 案件 link');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/console/cases');
  await page.waitForSelector('#case-filters');
  // The focus is visible where it lands (an outline or a ring, not nothing).
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return `${s.outlineStyle} ${s.outlineWidth} ${s.boxShadow}`;
  });
  assert.ok(!/^none 0px none$/.test(outline), `no visible focus: ${outline}`);
  await ctx.close();
  assert.deepEqual(problems, []);
});
