// 组织选择: a picker over GET /v1/directory (the organisations the user works with, as the
// server decides: places in scope, handling organisations in reach, `dispatchable`). A tree
// (county → township centers → villages, each center's departments and mediation rooms
// grouped under it) with a filter box; single or multiple choice (multiple: ordered, the
// first is the lead); which entries may be picked is a predicate (e.g. `dispatchable`).
// Keyboard: type in the filter, ↓ into the tree, ↑/↓/Home/End to move, ← to the parent,
// Enter or Space to pick; Tab leaves the tree.
import { api } from './api.js';
import { h, fill } from './dom.js';
import { t, addStrings, addCodes, label } from './i18n.js';

addStrings({
  zh: {
    op_filter: '筛选组织', op_filterHint: '输入名称或区域代码', op_none: '没有符合条件的组织',
    op_lead: '牵头', op_remove: '移除', op_makeLead: '设为牵头', op_chosen: '已选', op_nothing: '未选择',
    op_handlers: '承办单位', op_tree: '组织树',
  },
  en: {
    op_filter: 'Filter organisations', op_filterHint: 'Name or area code', op_none: 'No organisation matches',
    op_lead: 'lead', op_remove: 'Remove', op_makeLead: 'Make lead', op_chosen: 'Chosen', op_nothing: 'None chosen',
    op_handlers: 'Handling organisations', op_tree: 'Organisation tree',
  },
});
addCodes({
  orgKind: {
    CENTER: ['综治中心', 'Center'], VILLAGE: ['村(社区)', 'Village'],
    DEPARTMENT: ['职能部门', 'Department'], MEDIATION_ROOM: ['调解室', 'Mediation room'],
  },
});

let cache = null;
/** The user's directory (fetched once per page load; the server decides what it holds). */
export function directory() {
  if (!cache) cache = api('GET', '/v1/directory').then((d) => d.items).catch((e) => { cache = null; throw e; });
  return cache;
}

/** Forget the cached directory (a user signed out). */
export function forgetDirectory() { cache = null; }

// Within a center: its own departments and mediation rooms first (grouped under it), then
// its villages, then the centers below it; each group in the server's order.
const GROUP = { DEPARTMENT: 0, MEDIATION_ROOM: 0, VILLAGE: 1, CENTER: 2 };

/**
 * A picker. Options:
 * - id: the element ids' prefix (the filter box is `${id}-filter`, the tree `${id}-tree`);
 * - items: the directory's entries (from `directory()`);
 * - pickable(item): which may be picked (others show as the tree's branches only);
 * - multiple: ordered multiple choice, the first the lead;
 * - value: the initially chosen ids;
 * - onChange(ids): after each change;
 * - labelText: the filter box's label; hideLabel: kept for screen readers only (the
 *   surrounding form shows its own caption).
 * Returns { el, value(), set(ids), focus() }.
 */
export function orgPicker({ id, items, pickable = () => true, multiple = false, value = [], onChange = () => {}, labelText, hideLabel = false }) {
  const byId = new Map(items.map((o) => [o.id, o]));
  const kids = new Map();
  const roots = [];
  for (const o of items) {
    if (o.parent_id && byId.has(o.parent_id)) {
      if (!kids.has(o.parent_id)) kids.set(o.parent_id, []);
      kids.get(o.parent_id).push(o);
    } else roots.push(o);
  }
  for (const list of kids.values()) list.sort((a, b) => (GROUP[a.kind] ?? 3) - (GROUP[b.kind] ?? 3));
  // A branch shows only if it or something below it may be picked.
  const useful = new Map();
  const isUseful = (o) => {
    if (!useful.has(o.id)) useful.set(o.id, pickable(o) || (kids.get(o.id) || []).some(isUseful));
    return useful.get(o.id);
  };
  let chosen = value.filter((x) => byId.has(x) && pickable(byId.get(x)));
  if (!multiple) chosen = chosen.slice(0, 1);

  const filterBox = h('input', {
    type: 'search', id: `${id}-filter`, class: 'op-filter', placeholder: t('op_filterHint'), autocomplete: 'off',
    'aria-controls': `${id}-tree`,
  });
  const tree = h('ul', { role: 'tree', id: `${id}-tree`, class: 'op-tree', 'aria-label': labelText || t('op_tree'), 'aria-multiselectable': multiple ? 'true' : null });
  const chosenBox = h('div', { class: 'op-chosen', id: `${id}-chosen`, 'aria-live': 'polite' });
  const el = h('div', { class: 'orgpicker', id },
    h('label', { for: `${id}-filter`, class: hideLabel ? 'sr' : null }, labelText || t('op_filter')), filterBox, chosenBox, tree);

  const changed = () => { drawChosen(); drawTree(); onChange(chosen.slice()); };
  const pick = (o) => {
    if (!pickable(o)) return;
    if (multiple) chosen = chosen.includes(o.id) ? chosen.filter((x) => x !== o.id) : [...chosen, o.id];
    else chosen = [o.id];
    changed();
  };

  function drawChosen() {
    if (!chosen.length) return fill(chosenBox, h('span', { class: 'empty' }, `${t('op_chosen')}: ${t('op_nothing')}`));
    fill(chosenBox, h('span', {}, `${t('op_chosen')}: `), h('ol', { class: 'op-chips' }, chosen.map((x, i) => {
      const o = byId.get(x);
      return h('li', { class: i === 0 && multiple ? 'op-chip lead' : 'op-chip', 'data-chosen': x },
        i === 0 && multiple ? h('span', { class: 'tag op-lead' }, t('op_lead')) : null,
        h('span', {}, o.name),
        multiple && i > 0 ? h('button', { type: 'button', class: 'op-small', 'data-lead': x, title: t('op_makeLead'),
          onclick: () => { chosen = [x, ...chosen.filter((y) => y !== x)]; changed(); } }, '↑', h('span', { class: 'sr' }, t('op_makeLead'))) : null,
        h('button', { type: 'button', class: 'op-small', 'data-remove': x, 'aria-label': `${t('op_remove')} ${o.name}`,
          onclick: () => { chosen = chosen.filter((y) => y !== x); changed(); } }, '×'));
    })));
  }

  // What the filter keeps: matching entries and the branches above them.
  const matches = (o, q) => !q || o.name.toLowerCase().includes(q) || o.area_code.startsWith(q) || o.id.toLowerCase().includes(q);
  let focusId = null;
  function drawTree() {
    const q = filterBox.value.trim().toLowerCase();
    const shown = (o) => isUseful(o) && ((pickable(o) && matches(o, q)) || (kids.get(o.id) || []).some(shown));
    const node = (o, level) => {
      const can = pickable(o);
      const sub = (kids.get(o.id) || []).filter(shown);
      const li = h('li', {
        role: 'treeitem', 'data-org': o.id, 'aria-level': level, tabindex: '-1',
        'aria-selected': can ? String(chosen.includes(o.id)) : null, 'aria-disabled': can ? null : 'true',
        'aria-expanded': sub.length ? 'true' : null, 'data-match': can && q && matches(o, q) ? 'true' : null,
        class: `op-node${can ? '' : ' op-branch'}${chosen.includes(o.id) ? ' chosen' : ''}`,
      }, h('span', { class: 'op-row' },
        h('span', { class: 'op-name' }, o.name),
        h('span', { class: 'op-kind' }, label('orgKind', o.kind))),
      sub.length ? h('ul', { role: 'group' }, sub.map((c) => node(c, level + 1))) : null);
      return li;
    };
    const top = roots.filter(shown);
    fill(tree, top.length ? top.map((o) => node(o, 1)) : h('li', { class: 'empty', role: 'none' }, t('op_none')));
    const nodes = visible();
    const keep = nodes.find((n) => n.dataset.org === focusId) || nodes.find((n) => n.getAttribute('aria-disabled') !== 'true') || nodes[0];
    if (keep) keep.tabIndex = 0;
  }
  const visible = () => [...tree.querySelectorAll('[role=treeitem]')];
  const moveTo = (n) => {
    if (!n) return;
    for (const x of visible()) x.tabIndex = -1;
    n.tabIndex = 0;
    focusId = n.dataset.org;
    n.focus();
  };

  tree.addEventListener('click', (e) => {
    const li = e.target.closest('[role=treeitem]');
    if (!li) return;
    e.stopPropagation();
    focusId = li.dataset.org;
    pick(byId.get(li.dataset.org));
    const again = tree.querySelector(`[data-org="${CSS.escape(focusId)}"]`);
    if (again) moveTo(again);
  });
  tree.addEventListener('keydown', (e) => {
    const li = e.target.closest('[role=treeitem]');
    if (!li) return;
    const nodes = visible();
    const i = nodes.indexOf(li);
    const k = e.key;
    if (k === 'ArrowDown') moveTo(nodes[i + 1]);
    else if (k === 'ArrowUp') { if (i === 0) filterBox.focus(); else moveTo(nodes[i - 1]); }
    else if (k === 'Home') moveTo(nodes[0]);
    else if (k === 'End') moveTo(nodes[nodes.length - 1]);
    else if (k === 'ArrowLeft') moveTo(li.parentElement.closest('[role=treeitem]'));
    else if (k === 'ArrowRight') moveTo(li.querySelector('[role=treeitem]'));
    else if (k === 'Enter' || k === ' ') {
      focusId = li.dataset.org;
      pick(byId.get(li.dataset.org));
      moveTo(tree.querySelector(`[data-org="${CSS.escape(focusId)}"]`));
    } else return;
    e.preventDefault();
  });
  filterBox.addEventListener('input', () => drawTree());
  filterBox.addEventListener('keydown', (e) => {
    const first = visible().find((n) => n.dataset.match) || visible().find((n) => n.getAttribute('aria-disabled') !== 'true');
    if (e.key === 'ArrowDown') { e.preventDefault(); moveTo(first || visible()[0]); }
    // Enter in the filter picks the first match (and never submits the surrounding form).
    else if (e.key === 'Enter') { e.preventDefault(); if (first && first.dataset.match) pick(byId.get(first.dataset.org)); }
  });

  drawChosen();
  drawTree();
  return {
    el,
    value: () => chosen.slice(),
    set: (ids) => { chosen = ids.filter((x) => byId.has(x) && pickable(byId.get(x))); if (!multiple) chosen = chosen.slice(0, 1); drawChosen(); drawTree(); },
    focus: () => filterBox.focus(),
    entry: (x) => byId.get(x),
  };
}
