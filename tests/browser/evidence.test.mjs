// Evidence in the console (issue 15): a grid worker's phone (`gridsync field`) attaches a
// photo, a recording and a document, syncs and uploads them, and attaches one more it has
// not uploaded yet. The county dispatcher's case page shows the photo as the center's
// thumbnail, plays the recording, offers the document for download and says which one is
// still on its way; the original bytes it fetches hash to their names. A department outside
// the case's scope gets nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { shots, work, field, phoneRecords, context, signIn } from './lib.mjs';

/** A WAV of `seconds` of a 440 Hz tone: a recording the browser can play. */
function wav(seconds) {
  const rate = 8000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return b;
}

test('the case page shows thumbnails, plays recordings and says what is still uploading', async () => {
  const id = phoneRecords('evidence-wang', 'wang.grid', '毁坏庄稼 证据');
  const dispatcher = await context();
  const page = dispatcher.page;
  await signIn(page, 'chen.dispatch');

  // A real JPEG, 1200×900, drawn by the browser itself.
  const jpeg = Buffer.from(await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 1200; c.height = 900;
    const g = c.getContext('2d');
    g.fillStyle = '#3a7d44'; g.fillRect(0, 0, 1200, 900);
    g.fillStyle = '#c0392b'; g.fillRect(300, 200, 600, 500);
    return c.toDataURL('image/jpeg', 0.9).split(',')[1];
  }), 'base64');
  const files = {
    photo: path.join(work, 'field.jpg'),
    audio: path.join(work, 'mediation.wav'),
    doc: path.join(work, 'iou.pdf'),
    later: path.join(work, 'later.pdf'),
  };
  fs.writeFileSync(files.photo, jpeg);
  fs.writeFileSync(files.audio, wav(2));
  fs.writeFileSync(files.doc, '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  fs.writeFileSync(files.later, '%PDF-1.4\n% not uploaded yet\n%%EOF\n');
  const attach = (file, kind, caption) =>
    JSON.parse(field('evidence-wang', '--json', 'attach', id, file, '--kind', kind, '--caption', caption));
  const photo = attach(files.photo, 'PHOTO', '被毁的麦田');
  const audio = attach(files.audio, 'AUDIO', '调解录音');
  const doc = attach(files.doc, 'DOCUMENT', '欠条');
  field('evidence-wang', 'sync');
  field('evidence-wang', 'upload');
  const later = attach(files.later, 'DOCUMENT', '补充材料');
  field('evidence-wang', 'sync');

  await page.goto(`/console/cases/${id}`);
  await page.waitForSelector('#evidence');
  assert.equal(await page.$$eval('#evidence .evidence-item', (l) => l.length), 4);
  const item = (a) => `#evidence .evidence-item[data-sha256="${a.sha256}"]`;

  // The photo: the center's thumbnail (at most 320 px), decoded by the browser.
  const thumb = `${item(photo)} img.evidence-thumb`;
  await page.waitForFunction((sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }, thumb);
  const size = await page.$eval(thumb, (i) => [i.naturalWidth, i.naturalHeight]);
  assert.ok(size[0] <= 320 && size[1] <= 320 && size[0] > 0, `thumbnail ${size}`);
  assert.equal(await page.$eval(thumb, (i) => i.alt), '被毁的麦田');

  // The recording plays: the browser reads its length from the center's bytes.
  const player = `${item(audio)} audio.evidence-audio`;
  const duration = await page.$eval(player, (a) => new Promise((ok, fail) => {
    a.preload = 'metadata';
    a.addEventListener('loadedmetadata', () => ok(a.duration), { once: true });
    a.addEventListener('error', () => fail(new Error(`audio error ${a.error && a.error.code}`)), { once: true });
    a.load();
  }));
  assert.ok(Math.abs(duration - 2) < 0.1, `duration ${duration}`);

  // The document is offered for download; the one not uploaded says so.
  assert.equal(await page.$eval(`${item(doc)} a[download]`, (a) => a.getAttribute('href')),
    `/v1/cases/${id}/attachments/${doc.sha256}`);
  assert.match(await page.textContent(`${item(later)} .evidence-pending`), /尚未上传完成/);
  assert.equal(await page.$(`${item(later)} a[download]`), null);

  // The originals, fetched with the session's cookie, hash to their names: never altered.
  for (const a of [photo, audio, doc]) {
    const hex = await page.evaluate(async (url) => {
      const r = await fetch(url);
      const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());
      return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join('');
    }, `/v1/cases/${id}/attachments/${a.sha256}`);
    assert.equal(hex, a.sha256);
  }
  if (shots) {
    await page.$eval('#evidence', (e) => e.scrollIntoView());
    await page.screenshot({ path: path.join(shots, 'case-evidence.png') });
  }
  await dispatcher.done();

  // The labour department's handler is outside this case's scope: no page, no bytes.
  const outsider = await context();
  await signIn(outsider.page, 'liu.labour');
  const status = await outsider.page.evaluate(async (url) => (await fetch(url)).status,
    `/v1/cases/${id}/attachments/${photo.sha256}/thumbnail`);
  assert.equal(status, 404);
  await outsider.page.goto(`/console/cases/${id}`);
  await outsider.page.waitForSelector('#case-error');
  assert.equal(await outsider.page.$('#evidence'), null);
  await outsider.done();
});
