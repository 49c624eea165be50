// 设备: GET /v1/devices (devices of the users the caller administers, newest first): user,
// device, app version, last sync (relative and absolute), revoked state; revoke after a
// confirmation (POST /v1/devices/{id}/revoke). The device the caller signed in from is
// refused by the API (409 cannot_revoke_own_device), and the dialog shows it.
import { api } from './api.js';
import { h, fill } from './dom.js';
import { t, when } from './i18n.js';
import { loadOrgs, confirmThen, alertLine, table, emptyRow, orgName, ago, tf } from './admin-ui.js';

export async function devicesTab(body) {
  const q = new URLSearchParams(location.search);
  const error = alertLine('devices-error');
  const userFilter = h('select', { id: 'f-user', name: 'user_id' });
  const filters = h('form', { class: 'filters', id: 'device-filters' },
    h('label', { for: 'f-user' }, t('adm_user')), userFilter,
    h('button', { type: 'submit' }, t('adm_query')));
  const [grid, tbody] = table('devices', [t('adm_user'), t('adm_org'), t('adm_device'), t('adm_appVersion'), t('adm_lastSync'), t('adm_registered'), t('adm_state'), t('adm_actions')]);
  fill(body, h('div', { class: 'adm-toolbar' }, filters), error, grid);

  // The organisation names and the users to filter by are helpful, not needed: a role
  // without them still sees its devices.
  const [orgs, users] = await Promise.all([
    loadOrgs().catch(() => []),
    api('GET', '/v1/users').then((r) => r.users).catch(() => []),
  ]);
  fill(userFilter, h('option', { value: '' }, t('adm_all')),
    users.map((u) => h('option', { value: u.id, selected: u.id === q.get('user') }, `${u.display_name}（${u.username}）`)));

  const load = async () => {
    fill(error);
    const user = userFilter.value;
    try {
      const { devices } = await api('GET', `/v1/devices${user ? `?user_id=${encodeURIComponent(user)}` : ''}`);
      const now = Date.now();
      fill(tbody);
      for (const d of devices) {
        const seen = d.last_seen_at;
        tbody.append(h('tr', { 'data-device': d.id, class: d.revoked ? 'adm-off' : null },
          h('td', {}, d.username),
          h('td', { title: d.org_id }, orgName(orgs, d.org_id)),
          h('td', { class: 'mono adm-device' },
            // The API names a web session's pseudo-device `web-…`; every other one is a phone.
            h('span', { class: 'tag' }, d.id.startsWith('web-') ? t('adm_web') : t('adm_phone')), ' ', d.id),
          h('td', { class: 'mono adm-ua', title: d.app_version || '' }, d.app_version || '—'),
          h('td', { class: 'last-sync' }, seen
            ? [h('span', { class: 'adm-ago' }, ago(seen, now)), h('br'), h('time', { datetime: seen, class: 'adm-abs' }, when(seen))]
            : h('span', { class: 'empty' }, t('adm_never'))),
          h('td', {}, h('time', { datetime: d.created_at }, when(d.created_at))),
          h('td', { class: 'device-state' }, d.revoked
            ? [h('span', { class: 'tag risk-RED' }, t('adm_revoked')), ' ', h('time', { datetime: d.revoked_at, class: 'adm-abs' }, when(d.revoked_at))]
            : h('span', { class: 'tag risk-GREEN' }, t('adm_active'))),
          h('td', { class: 'adm-row-actions' }, d.revoked ? null
            : h('button', { type: 'button', class: 'danger', 'data-act': 'revoke', onclick: () => revoke(d) }, t('adm_revoke')))));
      }
      emptyRow(tbody, 8);
    } catch (err) {
      fill(error, err.message);
    }
  };
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const user = userFilter.value;
    history.replaceState(null, '', `/console/admin/devices${user ? `?user=${encodeURIComponent(user)}` : ''}`);
    load();
  });

  const revoke = async (d) => {
    const done = await confirmThen(tf('adm_revokeConfirm', d.username, d.id), t('adm_revoke'), () =>
      api('POST', `/v1/devices/${encodeURIComponent(d.id)}/revoke`));
    if (done) await load();
  };

  await load();
}
