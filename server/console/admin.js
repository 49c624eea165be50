// 系统管理: /console/admin/{orgs|users|devices|rules|limits|audit}. A tab shows for a user
// whose permissions open its API; each page shows what the API gives for the caller's scope
// (a township's administrator gets the township) and the API's refusals as they come.
import { h, fill, link } from './dom.js';
import { t } from './i18n.js';
import { may } from './app.js';
import { orgsTab } from './admin-orgs.js';
import { usersTab } from './admin-users.js';
import { devicesTab } from './admin-devices.js';
import { rulesTab, limitsTab } from './admin-rules.js';
import { auditTab } from './admin-audit.js';

const TABS = [
  { key: 'orgs', label: 'adm_orgs', needs: 'ManageOrgs', page: orgsTab },
  { key: 'users', label: 'adm_users', needs: 'ManageUsers', page: usersTab },
  { key: 'devices', label: 'adm_devices', needs: 'ManageDevices', page: devicesTab },
  { key: 'rules', label: 'adm_rules', needs: 'ReadDispatchRules', page: rulesTab },
  { key: 'limits', label: 'adm_limits', needs: 'ReadTimeLimits', page: limitsTab },
  { key: 'audit', label: 'adm_audit', needs: 'ReadAudit', page: auditTab },
];

export async function adminPage(main, tab, session) {
  document.title = `${t('adm_title')} · ${t('system')}`;
  const shown = TABS.filter((x) => may(x.needs));
  // A tab named in the address opens even without its permission: the API then refuses,
  // and the page says so (the server is the judge, not this list).
  let current = TABS.find((x) => x.key === tab);
  if (!current) {
    if (!shown.length) return fill(main, h('h1', {}, t('adm_title')), h('p', { class: 'empty' }, t('adm_none')));
    current = shown[0];
    history.replaceState(null, '', `/console/admin/${current.key}`);
  }
  const bar = h('nav', { class: 'adm-tabs', 'aria-label': t('adm_title') },
    shown.map((x) => {
      const a = link(`/console/admin/${x.key}`, t(x.label));
      a.dataset.tab = x.key;
      if (x === current) a.setAttribute('aria-current', 'page');
      return a;
    }));
  const body = h('div', { id: 'admin-body', 'data-tab': current.key });
  fill(main, h('h1', {}, t('adm_title'), h('span', { class: 'note' }, t(current.label))), bar, body);
  await current.page(body, session);
}
