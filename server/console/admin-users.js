// 用户: GET /v1/users (the caller's subtree; `org_id` narrows it), create (role, an
// organisation picked from the tree, an initial password or a generated one shown once),
// assign role/organisation, reset a password, disable (confirmed first). Which role fits
// which kind of organisation is the API's to say (400 `role_org_mismatch`).
import { api } from './api.js';
import { h, fill } from './dom.js';
import { t, label } from './i18n.js';
import {
  loadOrgs, orgOptions, dialog, confirmThen, field, input, codeSelect, values, alertLine, table, emptyRow, orgName, tf,
} from './admin-ui.js';

const ROLES = ['GRID_WORKER', 'VILLAGE_MEDIATOR', 'DISPATCHER', 'DEPARTMENT_HANDLER', 'SUPERVISOR', 'ADMIN'];

export async function usersTab(body, session) {
  const q = new URLSearchParams(location.search);
  const error = alertLine('users-error');
  const notice = h('p', { class: 'adm-notice', role: 'status', id: 'users-notice' });
  const orgFilter = h('select', { id: 'f-org', name: 'org_id' });
  const filters = h('form', { class: 'filters', id: 'user-filters' },
    h('label', { for: 'f-org' }, t('adm_filterOrg')), orgFilter,
    h('button', { type: 'submit' }, t('adm_query')));
  const add = h('button', { type: 'button', class: 'primary', id: 'new-user' }, t('adm_newUser'));
  const [grid, tbody] = table('users', [t('adm_username'), t('adm_displayName'), t('adm_role'), t('adm_org'), t('adm_state'), t('adm_actions')]);
  fill(body, h('div', { class: 'adm-toolbar' }, filters, add), error, notice, grid);

  let orgs = [];
  try {
    orgs = await loadOrgs();
  } catch (err) {
    fill(error, err.message);
  }
  fill(orgFilter, orgOptions(orgs, { value: q.get('org') || '', empty: t('adm_all') }));

  const load = async () => {
    fill(error);
    const org = orgFilter.value;
    try {
      const { users } = await api('GET', `/v1/users${org ? `?org_id=${encodeURIComponent(org)}` : ''}`);
      fill(tbody);
      for (const u of users) {
        const self = u.id === session.user.id;
        tbody.append(h('tr', { 'data-user': u.id, class: u.active ? null : 'adm-off' },
          h('td', { class: 'mono' }, u.username),
          h('td', {}, u.display_name),
          h('td', {}, h('span', { class: 'tag' }, label('userRole', u.role))),
          h('td', { title: u.org_id }, orgName(orgs, u.org_id)),
          h('td', {}, h('span', { class: `tag ${u.active ? 'risk-GREEN' : 'risk-RED'}` }, u.active ? t('adm_active') : t('adm_disabled'))),
          h('td', { class: 'adm-row-actions' }, u.active && !self ? [
            h('button', { type: 'button', 'data-act': 'assign', onclick: () => assign(u) }, t('adm_assign')),
            h('button', { type: 'button', 'data-act': 'password', onclick: () => password(u) }, t('adm_setPassword')),
            h('button', { type: 'button', class: 'danger', 'data-act': 'disable', onclick: () => disable(u) }, t('adm_disable')),
          ] : null)));
      }
      emptyRow(tbody, 6);
    } catch (err) {
      fill(error, err.message);
    }
  };
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const org = orgFilter.value;
    history.replaceState(null, '', `/console/admin/users${org ? `?org=${encodeURIComponent(org)}` : ''}`);
    load();
  });

  add.addEventListener('click', async () => {
    fill(notice);
    const created = await dialog({
      title: t('adm_newUser'),
      submit: t('submit'),
      body: [
        field('nu-username', t('adm_username'), input({ required: true, maxlength: 64, autocapitalize: 'off', spellcheck: 'false' })),
        field('nu-display_name', t('adm_displayName') + t('adm_optional'), input({ maxlength: 100 })),
        field('nu-role', t('adm_role'), codeSelect('userRole', ROLES, { value: 'GRID_WORKER' })),
        field('nu-org_id', t('adm_org'), h('select', { required: true }, orgOptions(orgs, { value: orgFilter.value }))),
        field('nu-password', t('adm_initialPassword') + t('adm_optional'), input({ type: 'password', autocomplete: 'new-password' }), t('adm_passwordHint')),
      ],
      onSubmit: (form) => api('POST', '/v1/users', values(form)),
    });
    if (!created) return;
    fill(notice, `${t('adm_created')}：${created.user.username}`);
    if (created.password) {
      // Shown once, in a dialog the administrator closes themselves.
      await dialog({
        title: t('adm_created'), submit: t('adm_close'), cancel: false,
        body: [h('p', {}, t('adm_generated')), h('p', { class: 'mono adm-secret', id: 'generated-password' }, created.password)],
      });
    }
    await load();
  });

  const assign = async (u) => {
    const done = await dialog({
      title: `${t('adm_assign')}：${u.username}`,
      submit: t('adm_save'),
      body: [
        field('as-role', t('adm_role'), codeSelect('userRole', ROLES, { value: u.role })),
        field('as-org_id', t('adm_org'), h('select', {}, orgOptions(orgs, { value: u.org_id }))),
      ],
      onSubmit: (form) => {
        const v = values(form);
        const change = {};
        if (v.role && v.role !== u.role) change.role = v.role;
        if (v.org_id && v.org_id !== u.org_id) change.org_id = v.org_id;
        // Nothing changed: the API answers 400 nothing_to_change, in the user's language.
        return api('POST', `/v1/users/${encodeURIComponent(u.id)}/assign`, change);
      },
    });
    if (done) await load();
  };

  const password = async (u) => {
    const done = await dialog({
      title: `${t('adm_setPassword')}：${u.username}`,
      submit: t('adm_save'),
      body: field('pw-new_password', t('adm_newPassword'), input({ type: 'password', required: true, autocomplete: 'new-password' }), t('adm_pwMin')),
      onSubmit: async (form) => {
        await api('POST', `/v1/users/${encodeURIComponent(u.id)}/password`, { new_password: form.elements.new_password.value });
        return true;
      },
    });
    if (done) fill(notice, `${u.username}：${t('adm_passwordSet')}`);
  };

  const disable = async (u) => {
    const done = await confirmThen(tf('adm_disableConfirm', `${u.display_name}（${u.username}）`), t('adm_disable'), async () => {
      await api('POST', `/v1/users/${encodeURIComponent(u.id)}/disable`);
      return true;
    });
    if (done) await load();
  };

  await load();
}
