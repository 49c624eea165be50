// A form generated from an action's request schema in /v1/openapi.json: enums as selects,
// booleans as yes/no, numbers, strings as inputs or text areas, nested objects as fieldsets,
// dispatch targets as organisation ids. The console knows no payload by heart.
import { h } from './dom.js';
import { t } from './i18n.js';
import { directory, orgPicker } from './orgpicker.js';

const LONG = /note|reason|outcome|opinion|terms|summary|text/;

function resolve(spec, schema) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 10; i++) s = spec.components.schemas[s.$ref.split('/').pop()];
  return s || {};
}

/** The payload's schema of a step (`#/components/schemas/Step_DISPATCH`). */
export function payloadSchema(spec, ref) {
  const step = resolve(spec, { $ref: ref });
  return resolve(spec, (step.properties || {}).payload || {});
}

/** `{nullable, schema}` of a property: `oneOf [null, X]` and `type: [T, null]` unwrapped. */
function unwrap(spec, prop) {
  if (prop.oneOf) {
    const other = prop.oneOf.find((p) => p.type !== 'null');
    return { nullable: true, schema: resolve(spec, other || {}) };
  }
  const s = resolve(spec, prop);
  if (Array.isArray(s.type)) {
    const types = s.type.filter((x) => x !== 'null');
    return { nullable: s.type.includes('null'), schema: { ...s, type: types[0], enum: s.enum && s.enum.filter((e) => e !== null) } };
  }
  return { nullable: false, schema: s };
}

const fieldLabel = (name) => { const l = t(`f_${name}`); return l === `f_${name}` ? name : l; };

/**
 * Builds the fields of `schema` into `parent`; returns a function reading the value back
 * (undefined when left empty), or throwing a message.
 */
export function build(spec, schema, parent, prefix, initial = {}) {
  const readers = [];
  const required = new Set(schema.required || []);
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    const { schema: s } = unwrap(spec, raw);
    const id = `${prefix}-${name}`;
    const must = required.has(name);
    const caption = h('label', { for: id }, fieldLabel(name), must ? ' *' : '');
    if (s.type === 'object' || s.properties) {
      const fs = h('fieldset', { id }, h('legend', {}, fieldLabel(name)));
      const read = build(spec, s, fs, id, { offset: initial.offset });
      parent.append(fs);
      readers.push([name, read]);
      continue;
    }
    let input;
    let read;
    if (s.enum) {
      input = h('select', { id, name, required: must },
        must ? null : h('option', { value: '' }, '—'),
        s.enum.map((v) => h('option', { value: v }, v)));
      read = () => input.value || undefined;
    } else if (s.type === 'boolean') {
      input = h('select', { id, name, required: must },
        h('option', { value: '' }, '—'), h('option', { value: 'true' }, t('yes')), h('option', { value: 'false' }, t('no')));
      read = () => (input.value === '' ? undefined : input.value === 'true');
    } else if (s.type === 'integer' && name === 'amount') {
      // Money is entered in 元 and sent in 分 (fen), as the API keeps it.
      input = h('input', { id, name, type: 'number', required: must, min: 0, step: '0.01', inputmode: 'decimal' });
      read = () => (input.value === '' ? undefined : Math.round(Number(input.value) * 100));
    } else if (s.type === 'integer' || s.type === 'number') {
      input = h('input', { id, name, type: 'number', required: must, min: s.minimum });
      read = () => (input.value === '' ? undefined : Number(input.value));
    } else if (s.type === 'array' && resolve(spec, s.items || {}).properties && resolve(spec, s.items).properties.id
      && Object.keys(resolve(spec, s.items).required || []).length <= 1 && name === 'to') {
      // Dispatch targets: picked from the directory's dispatchable organisations (the
      // server's reach), the lead first; pre-filled with `initial.to` (the suggestion).
      ({ input, read } = targetsPicker(id, initial[name]));
    } else if (s.type === 'array' && resolve(spec, s.items || {}).properties) {
      // A list of records (an agreement's installments): a row of fields each, added and
      // removed with buttons.
      const rows = rowsEditor(spec, resolve(spec, s.items), id, name, initial.offset);
      parent.append(rows.el);
      readers.push([name, rows.read]);
      continue;
    } else if (s.type === 'array') {
      input = h('textarea', { id, name, rows: 3, placeholder: t('json') });
      read = () => {
        if (!input.value.trim()) return undefined;
        try { return JSON.parse(input.value); } catch { throw `${fieldLabel(name)}: JSON`; }
      };
    } else if (s.format === 'date-time' || (raw.$ref || '').endsWith('/Stamp')) {
      input = h('input', { id, name, type: 'datetime-local', required: must });
      read = () => (input.value ? `${input.value}:00${initial.offset || '+08:00'}` : undefined);
    } else if (LONG.test(name)) {
      input = h('textarea', { id, name, rows: 3, required: must }, initial[name] || '');
      read = () => input.value.trim() || undefined;
    } else {
      input = h('input', { id, name, required: must, value: initial[name] || '' });
      read = () => input.value.trim() || undefined;
    }
    if (s.description) input.setAttribute('title', s.description);
    parent.append(h('div', { class: 'field' }, input.dataset.picker ? h('span', { class: 'caption' }, fieldLabel(name), must ? ' *' : '') : caption, input));
    readers.push([name, read]);
  }
  return () => {
    const out = {};
    for (const [name, read] of readers) {
      const v = read();
      if (v !== undefined && !(typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length)) out[name] = v;
    }
    return Object.keys(out).length ? out : undefined;
  };
}

/**
 * The DISPATCH `to` field: an ordered multiple-choice picker over the dispatchable
 * organisations (the first the lead). The directory loads in the background; until then
 * (or if it fails, shown) the initial choice stands.
 */
function targetsPicker(id, initial) {
  const start = [].concat(initial || []).filter(Boolean);
  const host = h('div', { class: 'targets', 'data-picker': 'true' }, h('span', { class: 'empty' }, t('loading')));
  let picker = null;
  directory().then((items) => {
    picker = orgPicker({ id, items, multiple: true, value: start, pickable: (o) => o.dispatchable, labelText: t('f_to'), hideLabel: true });
    host.replaceChildren(picker.el);
  }).catch((err) => {
    host.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
  });
  const read = () => {
    const ids = picker ? picker.value() : start;
    return ids.length ? ids.map((x) => ({ id: x })) : undefined;
  };
  return { input: host, read };
}

/**
 * Rows of `item` records: `el` (a fieldset with an add button) and `read` (the list, or
 * undefined when empty). Fields the server fills (`id`) are left out; each row is
 * numbered from 0 in its ids (`{id}-0-due_at`).
 */
function rowsEditor(spec, item, id, name, offset) {
  const fields = { ...item, properties: { ...item.properties } };
  delete fields.properties.id;
  const list = h('ol', { class: 'rows', id: `${id}-rows` });
  const rows = [];
  let next = 0;
  const add = () => {
    const n = next++;
    const fs = h('fieldset', { class: 'row', id: `${id}-${n}` });
    const read = build(spec, fields, fs, `${id}-${n}`, { offset });
    const li = h('li', {}, fs, h('button', {
      type: 'button', class: 'remove', id: `${id}-${n}-remove`,
      onclick: () => { rows.splice(rows.findIndex((r) => r.li === li), 1); li.remove(); },
    }, t('removeRow')));
    rows.push({ li, read });
    list.append(li);
    const first = fs.querySelector('input, select, textarea');
    if (first) first.focus();
  };
  const el = h('fieldset', { id, class: 'rows-editor' }, h('legend', {}, fieldLabel(name)), list,
    h('button', { type: 'button', id: `${id}-add`, onclick: add }, t('addRow')));
  const read = () => {
    const out = rows.map((r) => r.read()).filter((v) => v !== undefined);
    return out.length ? out : undefined;
  };
  return { el, read };
}
