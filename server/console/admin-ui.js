// 系统管理: what the administration pages share — their strings, a modal dialog (forms and
// confirmations; never window.confirm), labelled fields, the organisation tree as options,
// and relative times. Every piece of data becomes text (dom.js).
import { api } from './api.js';
import { h, fill } from './dom.js';
import { t, label, lang, addStrings, addCodes } from './i18n.js';

addStrings({
  zh: {
    adm_title: '系统管理', adm_orgs: '组织机构', adm_users: '用户', adm_devices: '设备', adm_rules: '分派规则',
    adm_limits: '办理时限', adm_audit: '审计日志', adm_none: '您没有可用的管理功能',
    adm_ok: '确定', adm_confirm: '请确认', adm_close: '关闭', adm_save: '保存', adm_saved: '已保存',
    adm_optional: '（选填）', adm_actions: '操作', adm_default: '默认', adm_empty: '暂无记录', adm_all: '全部',
    adm_name: '名称', adm_id: '编号', adm_kind: '类型', adm_tier: '层级', adm_area: '区域代码',
    adm_scope: '管辖范围(区域前缀)', adm_parent: '上级组织', adm_newOrg: '新建组织', adm_rename: '重命名',
    adm_move: '移动', adm_orgUsers: '本组织用户', adm_idHint: '字母、数字、.、_、-；不填则自动生成',
    adm_areaHint: '12位统计区划代码，须在上级组织区域内', adm_scopeHint: '区域代码的前缀；不填按类型和层级默认',
    adm_keepHint: '不填则保持不变', adm_orgDetail: '组织详情', adm_backToTree: '返回组织树',
    adm_onlyDispatched: '仅分派给本单位的案件', adm_newName: '新名称',
    adm_username: '用户名', adm_displayName: '姓名', adm_role: '角色', adm_org: '所属组织',
    adm_state: '状态', adm_active: '正常', adm_disabled: '已停用', adm_newUser: '新建用户',
    adm_initialPassword: '初始密码', adm_pwMin: '至少10位', adm_passwordHint: '至少10位；不填则由系统生成并只显示一次',
    adm_generated: '系统生成的初始密码（只显示这一次，请转交本人）：', adm_created: '已创建用户',
    adm_assign: '调整角色/组织', adm_setPassword: '重置密码', adm_newPassword: '新密码', adm_disable: '停用',
    adm_disableConfirm: '停用用户 {0}？其全部设备将被吊销，登录随即失效。', adm_filterOrg: '组织(含下级)',
    adm_query: '查询', adm_passwordSet: '密码已重置，该用户在其他设备上需重新登录',
    adm_user: '用户', adm_device: '设备编号', adm_appVersion: '应用版本', adm_lastSync: '最近同步',
    adm_registered: '注册时间', adm_revoked: '已吊销', adm_revoke: '吊销', adm_never: '从未同步', adm_web: '网页', adm_phone: '手机',
    adm_revokeConfirm: '吊销用户 {0} 的设备 {1}？该设备下次联网时将清除本机数据，且不能再同步。',
    adm_justNow: '刚刚',
    adm_priority: '优先级', adm_category: '案件类别', adm_risk: '风险等级', adm_areaPrefix: '区域前缀',
    adm_centerOrg: '受理中心', adm_targetOrg: '分派至', adm_automatic: '自动受理并分派', adm_newRule: '新增规则',
    adm_remove: '删除', adm_removeConfirm: '删除分派规则 {0}？', adm_any: '不限', adm_whole: '全县',
    adm_readOnly: '只读：您的角色不能修改',
    adm_limitsIntro: '各环节办理时限按小时填写（接口以毫秒保存）；未设置规则的层级和类别使用系统默认时限。',
    adm_newLimits: '新增时限规则', adm_noLimits: '尚未设置时限规则，全部按系统默认时限执行。', adm_hours: '小时',
    adm_yellowPercent: '黄色预警比例(%)',
    lim_accept: '受理', lim_accept_high_risk: '受理(高风险)', lim_sign: '签收', lim_handle_simple: '办理(简易)',
    lim_handle_general: '办理(一般)', lim_handle_complex: '办理(复杂)', lim_follow_up: '回访', lim_co_handle: '协办意见',
    adm_seq: '序号', adm_time: '时间', adm_actor: '操作人', adm_action: '操作类型', adm_case: '案件',
    adm_detail: '详情', adm_from: '起始时间', adm_to: '截止时间', adm_verify: '校验审计链',
    adm_verifyOk: '审计链完整：共 {0} 条记录，逐条校验通过。',
    adm_verifyBad: '审计链已损坏：第 {0} 条记录起校验不通过（共 {1} 条）。', adm_actorHint: '用户编号，如 u-admin',
  },
  en: {
    adm_title: 'Administration', adm_orgs: 'Organisations', adm_users: 'Users', adm_devices: 'Devices',
    adm_rules: 'Dispatch rules', adm_limits: 'Time limits', adm_audit: 'Audit log', adm_none: 'Nothing to administer for your role',
    adm_ok: 'OK', adm_confirm: 'Please confirm', adm_close: 'Close', adm_save: 'Save', adm_saved: 'Saved',
    adm_optional: ' (optional)', adm_actions: 'Actions', adm_default: 'Default', adm_empty: 'Nothing here', adm_all: 'All',
    adm_name: 'Name', adm_id: 'Id', adm_kind: 'Kind', adm_tier: 'Tier', adm_area: 'Area code',
    adm_scope: 'Scope (area prefix)', adm_parent: 'Parent', adm_newOrg: 'New organisation', adm_rename: 'Rename',
    adm_move: 'Move', adm_orgUsers: 'Users of this organisation', adm_idHint: 'Letters, digits, . _ -; generated when empty',
    adm_areaHint: '12-digit division code inside the parent\'s area', adm_scopeHint: 'A prefix of the area code; default by kind and tier',
    adm_keepHint: 'Kept when empty', adm_orgDetail: 'Organisation', adm_backToTree: 'Back to the tree',
    adm_onlyDispatched: 'Only cases dispatched to it', adm_newName: 'New name',
    adm_username: 'Username', adm_displayName: 'Name', adm_role: 'Role', adm_org: 'Organisation',
    adm_state: 'State', adm_active: 'Active', adm_disabled: 'Disabled', adm_newUser: 'New user',
    adm_initialPassword: 'Initial password', adm_pwMin: 'At least 10 characters', adm_passwordHint: 'At least 10 characters; generated and shown once when empty',
    adm_generated: 'Generated initial password (shown this once; hand it to the user):', adm_created: 'User created',
    adm_assign: 'Role / organisation', adm_setPassword: 'Reset password', adm_newPassword: 'New password', adm_disable: 'Disable',
    adm_disableConfirm: 'Disable user {0}? Their devices are revoked and their sessions end.', adm_filterOrg: 'Organisation (and below)',
    adm_query: 'Filter', adm_passwordSet: 'Password reset; the user signs in again on other devices',
    adm_user: 'User', adm_device: 'Device', adm_appVersion: 'App version', adm_lastSync: 'Last sync',
    adm_registered: 'Registered', adm_revoked: 'Revoked', adm_revoke: 'Revoke', adm_never: 'Never', adm_web: 'Web', adm_phone: 'Phone',
    adm_revokeConfirm: 'Revoke device {1} of user {0}? It wipes its data at its next contact and cannot sync again.',
    adm_justNow: 'just now',
    adm_priority: 'Priority', adm_category: 'Category', adm_risk: 'Risk level', adm_areaPrefix: 'Area prefix',
    adm_centerOrg: 'Accepting center', adm_targetOrg: 'Dispatch to', adm_automatic: 'Accept and dispatch automatically', adm_newRule: 'New rule',
    adm_remove: 'Remove', adm_removeConfirm: 'Remove dispatch rule {0}?', adm_any: 'Any', adm_whole: 'Whole county',
    adm_readOnly: 'Read only: your role cannot change these',
    adm_limitsIntro: 'Limits per step in hours (the API stores milliseconds); tiers and categories without a rule use the system defaults.',
    adm_newLimits: 'New time-limit rule', adm_noLimits: 'No time-limit rules yet: the system defaults apply everywhere.', adm_hours: 'hours',
    adm_yellowPercent: 'Yellow warning at (%)',
    lim_accept: 'Accept', lim_accept_high_risk: 'Accept (high risk)', lim_sign: 'Sign for', lim_handle_simple: 'Handle (simple)',
    lim_handle_general: 'Handle (general)', lim_handle_complex: 'Handle (complex)', lim_follow_up: 'Follow up', lim_co_handle: 'Co-handling feedback',
    adm_seq: 'No.', adm_time: 'Time', adm_actor: 'Actor', adm_action: 'Action', adm_case: 'Case',
    adm_detail: 'Detail', adm_from: 'From', adm_to: 'To', adm_verify: 'Verify the chain',
    adm_verifyOk: 'The audit chain is intact: {0} entries, each one verified.',
    adm_verifyBad: 'The audit chain is broken: it fails from entry {0} on ({1} entries).', adm_actorHint: 'User id, e.g. u-admin',
  },
});

addCodes({
  orgKind: {
    CENTER: ['综治中心', 'Center'], DEPARTMENT: ['职能部门', 'Department'], VILLAGE: ['村(社区)', 'Village'],
    MEDIATION_ROOM: ['调解组织', 'Mediation room'],
  },
  auditAction: {
    SIGN_IN: ['登录', 'Sign-in'], SIGN_IN_REFUSED: ['登录被拒', 'Sign-in refused'], SIGN_OUT: ['退出登录', 'Sign-out'], CASE_ACTION: ['案件办理', 'Case step'],
    PERSONAL_DATA_READ: ['查看个人信息', 'Personal data read'], CASES_SYNCED: ['案件下发到设备', 'Cases synced'],
    PASSWORD_CHANGED: ['修改密码', 'Password changed'], USER_CREATED: ['新建用户', 'User created'],
    USER_ROLE_CHANGED: ['调整角色', 'Role changed'], USER_MOVED: ['调整组织', 'User moved'], USER_DISABLED: ['停用用户', 'User disabled'],
    DEVICE_REVOKED: ['吊销设备', 'Device revoked'], SIGNING_KEY_REGISTERED: ['登记签名公钥', 'Signing key registered'],
    SIGNING_KEY_ROTATED: ['更换中心签名密钥', 'Center signing key rotated'],
    ORG_CREATED: ['新建组织', 'Organisation created'],
    ORG_RENAMED: ['组织重命名', 'Organisation renamed'], ORG_MOVED: ['组织移动', 'Organisation moved'],
    RULE_ADDED: ['新增分派规则', 'Dispatch rule added'], RULE_REMOVED: ['删除分派规则', 'Dispatch rule removed'],
    TIME_LIMITS_CHANGED: ['修改办理时限', 'Time limits changed'], EXPORT: ['导出', 'Export'],
  },
});

/** `t()` with `{0}`, `{1}` filled in. */
export function tf(key, ...args) {
  return t(key).replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)] ?? ''));
}

/** A labelled field: label (for=id), the control, and an optional hint. */
export function field(id, text, control, hint) {
  control.id = id;
  if (!control.name) control.name = id.replace(/^[a-z]+-/, '');
  return h('div', { class: 'adm-field' },
    h('label', { for: id }, text),
    h('div', {}, control, hint ? h('small', { class: 'adm-hint', id: `${id}-hint` }, hint) : null));
}

export function input(attrs = {}) {
  return h('input', { autocomplete: 'off', ...attrs });
}

/** A select of codes (`label(table, code)`), with an "any"/"default" first option if `empty`. */
export function codeSelect(table, codes, { value = '', empty = null } = {}) {
  return h('select', {},
    empty === null ? null : h('option', { value: '' }, empty),
    codes.map((c) => h('option', { value: c, selected: c === value }, label(table, c))));
}

/** The tree as options, indented by depth; `only` keeps some organisations selectable. */
export function orgOptions(orgs, { value = '', empty = null, only = () => true } = {}) {
  const min = Math.min(...orgs.map((o) => o.depth));
  return [
    empty === null ? null : h('option', { value: '' }, empty),
    ...orgs.map((o) => h('option', { value: o.id, selected: o.id === value, disabled: !only(o) },
      `${'\u3000'.repeat(o.depth - min)}${o.name}（${o.id}）`)),
  ];
}

let trees = null;
/** GET /v1/orgs, once per page load of the admin pages (`fresh` reloads it). */
export async function loadOrgs(fresh = false) {
  if (!trees || fresh) trees = api('GET', '/v1/orgs').then((r) => r.orgs);
  try {
    return await trees;
  } catch (err) {
    trees = null;
    throw err;
  }
}

/** An organisation's name from a list, the id itself if not there. */
export function orgName(orgs, id) {
  const o = (orgs || []).find((x) => x.id === id);
  return o ? o.name : id;
}

/**
 * A modal dialog with a form: `body` (nodes), `submit` (its button's text). `onSubmit(form)`
 * may throw: its message shows in the dialog (role=alert) and the dialog stays open.
 * Resolves to what onSubmit returned, or null when cancelled (Esc or the cancel button).
 */
export function dialog({ title, body, submit = t('adm_ok'), danger = false, onSubmit = () => true, cancel = true }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const error = h('p', { class: 'error', role: 'alert', id: 'dialog-error' });
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', id: 'dialog-ok' }, submit);
    const form = h('form', { method: 'dialog', novalidate: true },
      h('h2', { id: titleId }, title),
      h('div', { class: 'adm-dialog-body' }, body),
      error,
      h('div', { class: 'buttons' },
        ok,
        cancel ? h('button', { type: 'button', id: 'dialog-cancel', onclick: () => finish(null) }, t('cancel')) : null));
    const dlg = h('dialog', { class: 'adm-dialog', 'aria-labelledby': titleId }, form);
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      if (opener && opener.isConnected && opener.focus) opener.focus();
      resolve(v);
    };
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); if (cancel) finish(null); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      fill(error);
      ok.disabled = true;
      try {
        finish(await onSubmit(form));
      } catch (err) {
        fill(error, err.message);
      } finally {
        ok.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector('input, select, textarea');
    (first || ok).focus();
  });
}

/** A confirmation before something that cannot be undone; `action` runs inside the dialog. */
export function confirmThen(message, submit, action) {
  return dialog({ title: t('adm_confirm'), body: h('p', { id: 'confirm-text' }, message), submit, danger: true, onSubmit: action });
}

/** A form's values, empty strings left out. */
export function values(form) {
  const v = {};
  for (const [k, x] of new FormData(form)) if (typeof x === 'string' && x.trim() !== '') v[k] = x.trim();
  return v;
}

/** "5分钟前" / "5 min ago" from an RFC 3339 stamp. */
export function ago(stamp, now = Date.now()) {
  if (!stamp) return '';
  const s = Math.max(0, Math.round((now - Date.parse(stamp)) / 1000));
  if (s < 60) return t('adm_justNow');
  const m = Math.floor(s / 60);
  const hr = Math.floor(m / 60);
  const d = Math.floor(hr / 24);
  if (lang() === 'en') return `${d > 0 ? `${d} d` : hr > 0 ? `${hr} h` : `${m} min`} ago`;
  return `${d > 0 ? `${d}天` : hr > 0 ? `${hr}小时` : `${m}分钟`}前`;
}

/** Milliseconds as "15天" / "2天12小时" / "30分钟" (or English). */
export function span(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n) || n <= 0) return '';
  const d = Math.floor(n / 86_400_000);
  const hr = Math.floor((n % 86_400_000) / 3_600_000);
  const m = Math.round((n % 3_600_000) / 60_000);
  const en = lang() === 'en';
  const parts = [];
  if (d) parts.push(en ? `${d} d` : `${d}天`);
  if (hr) parts.push(en ? `${hr} h` : `${hr}小时`);
  if (m) parts.push(en ? `${m} min` : `${m}分钟`);
  return parts.join(en ? ' ' : '');
}

/** An error line (role=alert), empty until filled. */
export function alertLine(id) {
  return h('p', { class: 'error', role: 'alert', id });
}

/** A table with a header row; rows go into its tbody (returned too). */
export function table(id, heads) {
  const tbody = h('tbody');
  const el = h('table', { class: 'grid adm-table', id },
    h('thead', {}, h('tr', {}, heads.map((c) => h('th', { scope: 'col' }, c)))), tbody);
  return [el, tbody];
}

export function emptyRow(tbody, cols) {
  if (!tbody.children.length) tbody.append(h('tr', {}, h('td', { colspan: cols, class: 'empty' }, t('adm_empty'))));
}
