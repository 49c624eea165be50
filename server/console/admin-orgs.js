// 组织机构: GET /v1/orgs (the caller's subtree, depth first) as an indented tree; create
// (POST /v1/orgs), rename, move, with the API's refusals (area outside the parent, …) shown
// in the dialog. `?org=ID` opens one organisation with its users (GET /v1/users?org_id=ID):
// an organisation outside the caller's subtree is refused by the API, and the page says so.
import { api } from './api.js';
import { h, fill, link } from './dom.js';
import { t, label } from './i18n.js';
import {
  loadOrgs, orgOptions, dialog, field, input, codeSelect, values, alertLine, table, emptyRow, orgName,
} from './admin-ui.js';

const KINDS = ['CENTER', 'DEPARTMENT', 'VILLAGE', 'MEDIATION_ROOM'];
const TIERS = ['VILLAGE', 'TOWNSHIP', 'COUNTY'];

export async function orgsTab(body) {
  const q = new URLSearchParams(location.search);
  if (q.get('org')) return orgDetail(body, q.get('org'));
  const error = alertLine('orgs-error');
  const add = h('button', { type: 'button', class: 'primary', id: 'new-org' }, t('adm_newOrg'));
  const [grid, tbody] = table('orgs', [t('adm_name'), t('adm_id'), t('adm_kind'), t('adm_tier'), t('adm_area'), t('adm_scope'), t('adm_actions')]);
  fill(body, h('div', { class: 'adm-toolbar' }, add), error, grid);

  let orgs = [];
  const draw = () => {
    fill(tbody);
    const top = Math.min(...orgs.map((o) => o.depth));
    orgs.forEach((o, i) => {
      const name = h('td', { class: 'adm-tree' }, link(`/console/admin/orgs?org=${encodeURIComponent(o.id)}`, o.name));
      name.style.paddingLeft = `${10 + 22 * (o.depth - top)}px`;
      if (o.depth > top) name.classList.add('adm-branch');
      // Everything after it that is deeper is below it (depth-first order).
      let end = i + 1;
      while (end < orgs.length && orgs[end].depth > o.depth) end += 1;
      const below = new Set(orgs.slice(i, end).map((x) => x.id));
      tbody.append(h('tr', { 'data-org': o.id },
        name,
        h('td', { class: 'mono' }, o.id),
        h('td', {}, h('span', { class: 'tag' }, label('orgKind', o.kind))),
        h('td', {}, label('tier', o.tier)),
        h('td', { class: 'mono' }, o.area_code),
        h('td', { class: 'mono' }, o.scope_prefix || h('span', { class: 'empty' }, t('adm_onlyDispatched'))),
        h('td', { class: 'adm-row-actions' },
          h('button', { type: 'button', 'data-act': 'rename', onclick: () => rename(o) }, t('adm_rename')),
          // The caller's own organisation (the top of their list) is not moved from here.
          o.depth > top ? h('button', { type: 'button', 'data-act': 'move', onclick: () => move(o, below) }, t('adm_move')) : null)));
    });
    emptyRow(tbody, 7);
  };
  const reload = async (fresh) => {
    fill(error);
    try {
      orgs = await loadOrgs(fresh);
      draw();
    } catch (err) {
      fill(error, err.message);
    }
  };

  const centers = (o) => o.kind === 'CENTER';
  add.addEventListener('click', async () => {
    const kind = codeSelect('orgKind', KINDS, { value: 'VILLAGE' });
    const tier = codeSelect('tier', TIERS, { empty: t('adm_default') });
    const done = await dialog({
      title: t('adm_newOrg'),
      submit: t('submit'),
      body: [
        field('no-parent_id', t('adm_parent'), h('select', { required: true }, orgOptions(orgs, { only: centers }))),
        field('no-name', t('adm_name'), input({ required: true, maxlength: 100 })),
        field('no-kind', t('adm_kind'), kind),
        field('no-tier', t('adm_tier') + t('adm_optional'), tier),
        field('no-area_code', t('adm_area'), input({ required: true, inputmode: 'numeric', maxlength: 12 }), t('adm_areaHint')),
        field('no-scope_prefix', t('adm_scope') + t('adm_optional'), input({ inputmode: 'numeric', maxlength: 12 }), t('adm_scopeHint')),
        field('no-id', t('adm_id') + t('adm_optional'), input({ maxlength: 64 }), t('adm_idHint')),
      ],
      onSubmit: (form) => api('POST', '/v1/orgs', values(form)),
    });
    if (done) await reload(true);
  });

  const rename = async (o) => {
    const done = await dialog({
      title: `${t('adm_rename')}：${o.name}`,
      submit: t('adm_save'),
      body: field('ro-name', t('adm_newName'), input({ required: true, maxlength: 100, value: o.name })),
      onSubmit: (form) => api('POST', `/v1/orgs/${encodeURIComponent(o.id)}/rename`, { name: form.elements.name.value }),
    });
    if (done) await reload(true);
  };

  const move = async (o, below) => {
    const done = await dialog({
      title: `${t('adm_move')}：${o.name}`,
      submit: t('adm_save'),
      body: [
        field('mo-parent_id', t('adm_parent'), h('select', { required: true },
          orgOptions(orgs, { value: o.parent_id, only: (x) => x.kind === 'CENTER' && !below.has(x.id) }))),
        field('mo-area_code', t('adm_area') + t('adm_optional'), input({ inputmode: 'numeric', maxlength: 12, placeholder: o.area_code }), t('adm_keepHint')),
        field('mo-scope_prefix', t('adm_scope') + t('adm_optional'), input({ inputmode: 'numeric', maxlength: 12, placeholder: o.scope_prefix || '' }), t('adm_keepHint')),
      ],
      onSubmit: (form) => api('POST', `/v1/orgs/${encodeURIComponent(o.id)}/move`, values(form)),
    });
    if (done) await reload(true);
  };

  await reload(false);
}

/** One organisation and its users; the API decides whether the caller may see them. */
async function orgDetail(body, id) {
  const error = alertLine('org-error');
  const fields = h('table', { class: 'fields', id: 'org-fields' });
  const [grid, tbody] = table('org-users', [t('adm_username'), t('adm_displayName'), t('adm_role'), t('adm_org'), t('adm_state')]);
  fill(body,
    h('p', {}, link('/console/admin/orgs', `← ${t('adm_backToTree')}`)),
    h('section', {}, h('h2', {}, t('adm_orgDetail'), ' ', h('span', { class: 'mono' }, id)), error, fields,
      h('h2', {}, t('adm_orgUsers')), grid));
  let orgs = [];
  try {
    orgs = await loadOrgs();
  } catch (err) {
    fill(error, err.message);
  }
  const o = orgs.find((x) => x.id === id);
  if (o) {
    fill(fields, [
      [t('adm_name'), o.name], [t('adm_id'), o.id], [t('adm_kind'), label('orgKind', o.kind)],
      [t('adm_tier'), label('tier', o.tier)], [t('adm_parent'), o.parent_id ? orgName(orgs, o.parent_id) : '—'],
      [t('adm_area'), o.area_code], [t('adm_scope'), o.scope_prefix || t('adm_onlyDispatched')],
    ].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
  }
  try {
    const { users } = await api('GET', `/v1/users?org_id=${encodeURIComponent(id)}`);
    for (const u of users) {
      tbody.append(h('tr', { 'data-user': u.id },
        h('td', { class: 'mono' }, u.username), h('td', {}, u.display_name), h('td', {}, label('userRole', u.role)),
        h('td', {}, orgName(orgs, u.org_id)),
        h('td', {}, h('span', { class: `tag ${u.active ? 'risk-GREEN' : 'risk-RED'}` }, u.active ? t('adm_active') : t('adm_disabled')))));
    }
    emptyRow(tbody, 5);
  } catch (err) {
    // Outside the caller's subtree (403 out_of_scope) or unknown (400 unknown_org).
    fill(error, err.message);
    grid.hidden = true;
    if (!o) fields.hidden = true;
  }
}
