// 预警督办: the warnings board. GET /v1/warnings (the caller's scope) as red and yellow
// columns of cards, each with its case (number, title, step, organisation, supervision)
// read from GET /v1/cases/{id}; countdowns tick, a card turns red by itself when its
// deadline passes, the board reloads on live events, and a card offers 督办 only when the
// case's `allowed_actions` does.
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label, when, countdown, addStrings, addCodes, lang } from './i18n.js';
import { onLive } from './live.js';

addStrings({
  zh: {
    wb_red: '红色预警', wb_yellow: '黄色预警', wb_none: '暂无预警', wb_total: '共 {n} 条预警',
    wb_updated: '更新于', wb_refresh: '刷新', wb_supervise: '督办', wb_level: '督办级别', wb_note: '督办意见',
    wb_send: '提交督办', wb_done: '已督办', wb_raised: '预警时间', wb_org: '承办单位', wb_area: '区域',
    wb_more: '另有 {n} 条预警未展开详情', wb_noSupervision: '未督办',
  },
  en: {
    wb_red: 'Red warnings', wb_yellow: 'Yellow warnings', wb_none: 'No warnings', wb_total: '{n} warnings',
    wb_updated: 'Updated', wb_refresh: 'Refresh', wb_supervise: 'Supervise', wb_level: 'Level', wb_note: 'Instruction',
    wb_send: 'Supervise', wb_done: 'Supervised', wb_raised: 'Raised', wb_org: 'Handled by', wb_area: 'Area',
    wb_more: '{n} more warnings shown without details', wb_noSupervision: 'Not supervised',
  },
});

addCodes({
  supervision: { NONE: ['未督办', 'Not supervised'], NORMAL: ['一般督办', 'Supervised'], YELLOW: ['黄牌督办', 'Yellow card'], RED: ['红牌督办', 'Red card'] },
});

// Cards whose case details are read (one request each); the rest show what the warning says.
const DETAILS_MAX = 60;
const TICK_MS = 5000;

const fmt = (key, n) => t(key).replace('{n}', String(n));

export async function warningsPage(main) {
  const status = h('p', { class: 'error', role: 'alert', id: 'board-error' });
  const stamp = h('span', { class: 'muted', id: 'board-updated' });
  const total = h('span', { id: 'board-total' });
  const red = h('div', { class: 'board-col-body', id: 'board-red' });
  const yellow = h('div', { class: 'board-col-body', id: 'board-yellow' });
  const redCount = h('span', { class: 'count' });
  const yellowCount = h('span', { class: 'count' });
  const more = h('p', { class: 'muted', id: 'board-more' });
  const refresh = h('button', { type: 'button', id: 'board-refresh' }, t('wb_refresh'));
  fill(main,
    h('div', { class: 'board-head' }, h('h1', {}, t('navWarnings')), total, stamp, refresh),
    status,
    h('div', { class: 'board' },
      h('section', { class: 'board-col board-red', 'aria-labelledby': 'board-red-h' },
        h('h2', { id: 'board-red-h' }, t('wb_red'), ' ', redCount), red),
      h('section', { class: 'board-col board-yellow', 'aria-labelledby': 'board-yellow-h' },
        h('h2', { id: 'board-yellow-h' }, t('wb_yellow'), ' ', yellowCount), yellow)),
    more);

  const details = new Map(); // case id → GET /v1/cases/{id} (or an error)
  let cards = [];

  const load = async (changed) => {
    fill(status);
    let rows;
    try {
      rows = await api('GET', '/v1/warnings');
    } catch (err) {
      return fill(status, err.message);
    }
    for (const id of changed || []) details.delete(id);
    const ids = [...new Set(rows.map((w) => w.case_id))];
    const wanted = ids.slice(0, DETAILS_MAX).filter((id) => !details.has(id));
    // A few at a time: the board must not flood the server.
    for (let i = 0; i < wanted.length; i += 6) {
      await Promise.all(wanted.slice(i, i + 6).map((id) => api('GET', `/v1/cases/${encodeURIComponent(id)}`)
        .then((d) => details.set(id, d))
        .catch((err) => details.set(id, { error: err.message }))));
    }
    for (const id of details.keys()) if (!ids.includes(id)) details.delete(id);
    cards = rows.map((w) => card(w, details.get(w.case_id), () => load([w.case_id])));
    draw();
    fill(total, fmt('wb_total', rows.length));
    fill(stamp, `${t('wb_updated')} ${new Date().toLocaleTimeString(lang() === 'en' ? 'en-GB' : 'zh-CN', { hour12: false })}`);
    fill(more, ids.length > DETAILS_MAX ? fmt('wb_more', ids.length - DETAILS_MAX) : '');
  };

  // Red first by how overdue, then yellow by what falls due first (the API's order).
  const draw = () => {
    const now = Date.now();
    for (const c of cards) c.tick(now);
    const reds = cards.filter((c) => c.red);
    const yellows = cards.filter((c) => !c.red);
    fill(red, reds.length ? reds.map((c) => c.el) : h('p', { class: 'empty' }, t('wb_none')));
    fill(yellow, yellows.length ? yellows.map((c) => c.el) : h('p', { class: 'empty' }, t('wb_none')));
    fill(redCount, String(reds.length));
    fill(yellowCount, String(yellows.length));
  };

  refresh.addEventListener('click', () => load());
  // Countdowns tick; a yellow card whose deadline passes moves to the red column.
  const ticker = setInterval(() => {
    if (!main.isConnected) return clearInterval(ticker);
    const before = cards.map((c) => c.red).join();
    const now = Date.now();
    for (const c of cards) c.tick(now);
    if (cards.map((c) => c.red).join() !== before) draw();
  }, TICK_MS);
  onLive(main, (events) => load(events.map((e) => e.case_id)));
  await load();
}

/** One warning's card: `el`, whether it is `red` now, and `tick(now)`. */
function card(w, d, reload) {
  const c = d && !d.error ? d : null;
  const s = c ? c.state : {};
  const due = w.due_at ? Date.parse(w.due_at) : null;
  const clock = h('span', { class: 'countdown' });
  const el = h('article', { class: 'wcard', 'data-case': w.case_id, 'data-kind': w.kind, 'data-level': w.level },
    h('header', {},
      h('span', { class: 'caseno' }, (s && s.case_no) || '—'),
      h('span', { class: 'tag wkind' }, label('warnKind', w.kind)),
      h('span', { class: `tag lvl-tag` })),
    h('p', { class: 'wtitle' }, link(`/console/cases/${encodeURIComponent(w.case_id)}`, (c && c.case.title) || w.case_id)),
    h('dl', {},
      h('dt', {}, t('status')), h('dd', {}, c ? label('status', s.status) : ''),
      h('dt', {}, t('wb_org')), h('dd', {}, c ? orgName(s) : ''),
      h('dt', {}, t('wb_area')), h('dd', {}, w.area_code),
      h('dt', {}, t('due')), h('dd', {}, w.due_at ? when(w.due_at) : '—'),
      h('dt', {}, t('supervision')), h('dd', { class: 'wsuper' }, c ? label('supervision', s.supervision) : '')),
    w.due_at ? h('p', { class: 'wclock' }, clock) : null,
    d && d.error ? h('p', { class: 'error', role: 'alert' }, d.error) : null,
    c ? superviseShortcut(w, c, reload) : null);
  const levelTag = el.querySelector('.lvl-tag');
  const out = {
    el,
    red: w.level === 'RED',
    tick(now) {
      const overdue = due !== null && due < now;
      this.red = w.level === 'RED' || overdue;
      el.classList.toggle('wcard-red', this.red);
      el.classList.toggle('wcard-yellow', !this.red);
      el.dataset.shown = this.red ? 'RED' : 'YELLOW';
      fill(levelTag, label('level', this.red ? 'RED' : 'YELLOW'));
      if (due !== null) {
        fill(clock, countdown(w.due_at, now));
        clock.className = `countdown ${overdue ? 'lvl-red' : this.red ? 'lvl-red' : 'lvl-yellow'}`;
      }
    },
  };
  return out;
}

function orgName(s) {
  const orgs = s.assigned_orgs || [];
  const handling = orgs.find((o) => o.id === s.handling_org) || orgs[0];
  return handling ? handling.name : (s.handling_org || '—');
}

/** 督办 on the card, only when the case's allowed actions offer SUPERVISE. */
function superviseShortcut(w, c, reload) {
  const a = (c.allowed_actions || []).find((x) => x.kind === 'SUPERVISE');
  if (!a) return null;
  const box = h('div', { class: 'wsupervise' });
  const id = `sv-${w.case_id}-${w.kind}`.replace(/[^A-Za-z0-9_-]/g, '');
  const open = () => {
    const levelSel = h('select', { id: `${id}-level`, name: 'level' },
      ['NORMAL', 'YELLOW', 'RED'].map((l) => h('option', { value: l, selected: l === (w.level === 'RED' ? 'RED' : 'YELLOW') }, label('supervision', l))));
    const note = h('input', { id: `${id}-note`, name: 'note', maxlength: 500 });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'wsupervise-form' },
      h('label', { for: `${id}-level` }, t('wb_level')), levelSel,
      h('label', { for: `${id}-note` }, t('wb_note')), note,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary' }, t('wb_send')),
        h('button', { type: 'button', onclick: () => fill(box, button) }, t('cancel'))),
      error);
    form.addEventListener('keydown', (e) => { if (e.key === 'Escape') { fill(box, button); button.focus(); } });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      fill(error);
      try {
        await api('POST', `/v1/cases/${encodeURIComponent(w.case_id)}/actions`,
          { kind: 'SUPERVISE', payload: { level: levelSel.value, note: note.value } });
        fill(box, h('p', { class: 'ok', role: 'status' }, t('wb_done')));
        reload();
      } catch (err) {
        fill(error, err.message);
      }
    });
    fill(box, form);
    levelSel.focus();
  };
  const button = h('button', { type: 'button', class: 'action', 'data-action': 'SUPERVISE', onclick: open },
    lang() === 'en' ? a.label_en : a.label_zh);
  fill(box, button);
  return box;
}
