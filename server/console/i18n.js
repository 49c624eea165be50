// zh-CN first, English second: one small string table per language, the user's choice kept
// in this browser (per user, and the last choice for the sign-in page).

const STRINGS = {
  zh: {
    system: '综治中心 · 矛盾纠纷调处平台',
    signIn: '登录', signOut: '退出', username: '用户名', password: '密码',
    signInTitle: '工作人员登录', language: 'English',
    useTheApp: '网格员请在手机应用中登录和上报。',
    navTasks: '待办', navIntake: '受理登记', navCases: '案件', navWarnings: '预警', navStats: '统计', navAdmin: '管理',
    all: '全部', ACCEPT: '待受理', SIGN: '待签收', HANDLE: '待处理', FOLLOW_UP: '待回访',
    CO_HANDLE: '协办', OTHER_TASKS: '其他',
    caseNo: '案件编号', title: '标题', status: '状态', task: '待办事项', deadline: '期限',
    timeLeft: '剩余时间', noTasks: '暂无待办', noCases: '没有符合条件的案件',
    category: '类别', risk: '风险等级', area: '区域代码', overdue: '仅超期', search: '搜索',
    searchHint: '案件编号、当事人或内容', filter: '查询', more: '加载更多', any: '不限',
    remaining: '剩余', overdueBy: '已超期', day: '天', hour: '小时', minute: '分',
    fields: '基本信息', parties: '当事人', timeline: '办理过程', deadlines: '办理期限',
    actions: '可办理的操作', noActions: '当前没有您可办理的操作', reveal: '查看完整信息',
    revealed: '已显示完整信息（已记入审计日志）', summary: '事由', source: '来源',
    address: '地址', amount: '涉及金额', people: '涉及人数', recordedAt: '登记时间',
    tier: '层级', handlingOrg: '承办单位', supervision: '督办', role: '身份', name: '姓名',
    idNumber: '证件号码', phone: '电话', kind: '环节', by: '办理人', org: '单位', at: '时间',
    statusAfter: '办理后状态', level: '预警', due: '截止', submit: '提交', cancel: '取消',
    done: '已提交', suggestion: '建议分派', rule: '规则', targetsHint: '组织编号，多个用逗号分隔（第一个为牵头单位）',
    yes: '是', no: '否', back: '返回列表', loading: '加载中…', yuan: '元', json: '（JSON）',
    f_tier: '层级', f_reason: '理由', f_note: '备注', f_to: '分派至', f_days: '天数',
    f_approved: '是否同意', f_satisfaction: '满意度(1-5)', f_method: '方式',
    f_agreement_performed: '协议是否履行', f_outcome: '处理结果', f_success: '是否化解成功',
    f_level: '级别', f_opinion: '协办意见', f_to_tier: '提级至', f_assignee: '指定承办人',
    f_agreement: '调解协议', f_form: '协议形式', f_terms: '协议内容', f_installments: '分期履行', f_amount: '金额(元)', f_due_at: '履行期限', f_paid_at: '已履行时间', f_signed_at: '签订时间', addRow: '添加一期', removeRow: '删除',
  },
  en: {
    system: 'County Center · Dispute Resolution',
    signIn: 'Sign in', signOut: 'Sign out', username: 'Username', password: 'Password',
    signInTitle: 'Staff sign-in', language: '中文',
    useTheApp: 'Grid workers sign in and record cases in the phone app.',
    navTasks: 'My tasks', navIntake: 'Intake', navCases: 'Cases', navWarnings: 'Warnings', navStats: 'Statistics', navAdmin: 'Administration',
    all: 'All', ACCEPT: 'To accept', SIGN: 'To sign for', HANDLE: 'To handle', FOLLOW_UP: 'To follow up',
    CO_HANDLE: 'Co-handling', OTHER_TASKS: 'Other',
    caseNo: 'Case no.', title: 'Title', status: 'Status', task: 'Task', deadline: 'Deadline',
    timeLeft: 'Time left', noTasks: 'Nothing to do', noCases: 'No cases match',
    category: 'Category', risk: 'Risk', area: 'Area code', overdue: 'Overdue only', search: 'Search',
    searchHint: 'Case no., party or text', filter: 'Filter', more: 'More', any: 'Any',
    remaining: '', overdueBy: 'overdue by', day: 'd', hour: 'h', minute: 'min',
    fields: 'Case', parties: 'Parties', timeline: 'Timeline', deadlines: 'Deadlines',
    actions: 'What you can do', noActions: 'Nothing for you to do now', reveal: 'Show full details',
    revealed: 'Full details shown (recorded in the audit log)', summary: 'Summary', source: 'Source',
    address: 'Address', amount: 'Amount', people: 'People involved', recordedAt: 'Recorded',
    tier: 'Tier', handlingOrg: 'Handled by', supervision: 'Supervision', role: 'Role', name: 'Name',
    idNumber: 'ID number', phone: 'Phone', kind: 'Step', by: 'By', org: 'Organisation', at: 'When',
    statusAfter: 'Status after', level: 'Level', due: 'Due', submit: 'Submit', cancel: 'Cancel',
    done: 'Done', suggestion: 'Suggested dispatch', rule: 'rule', targetsHint: 'Organisation ids, comma-separated (lead first)',
    yes: 'Yes', no: 'No', back: 'Back to the list', loading: 'Loading…', yuan: 'yuan', json: '(JSON)',
    f_tier: 'Tier', f_reason: 'Reason', f_note: 'Note', f_to: 'Dispatch to', f_days: 'Days',
    f_approved: 'Approved', f_satisfaction: 'Satisfaction (1-5)', f_method: 'Method',
    f_agreement_performed: 'Agreement performed', f_outcome: 'Outcome', f_success: 'Resolved',
    f_level: 'Level', f_opinion: 'Opinion', f_to_tier: 'Escalate to', f_assignee: 'Assignee',
    f_agreement: 'Agreement', f_form: 'Form', f_terms: 'Terms', f_installments: 'Installments', f_amount: 'Amount (yuan)', f_due_at: 'Due', f_paid_at: 'Paid at', f_signed_at: 'Signed at', addRow: 'Add an installment', removeRow: 'Remove',
  },
};

// Codes the API answers, with their labels (the same as sync-core's).
const CODES = {
  status: {
    DRAFT: ['草稿', 'Draft'], SUBMITTED: ['已上报', 'Submitted'], ACCEPTED: ['已受理', 'Accepted'],
    DISPATCHED: ['已分派', 'Dispatched'], SIGNED: ['已签收', 'Signed for'], IN_PROGRESS: ['调处中', 'In progress'],
    RESOLVED: ['已办结', 'Resolved'], FOLLOWED_UP: ['已回访', 'Followed up'], ARCHIVED: ['已归档', 'Archived'],
    SELF_RESOLVED: ['就地化解', 'Resolved on the spot'], RETURNED: ['已退回', 'Returned for correction'],
    VOID: ['已作废', 'Void'], ESCALATED: ['已提级', 'Escalated'],
  },
  category: {
    OTHER: ['其他', 'Other'], MARRIAGE_FAMILY: ['婚姻家庭', 'Marriage and family'], NEIGHBOUR: ['邻里纠纷', 'Neighbours'],
    LABOUR_WAGES: ['劳资纠纷(欠薪)', 'Labour and unpaid wages'], LAND_CONTRACT: ['土地承包', 'Land contracting'],
    HOMESTEAD_HOUSING: ['房屋和宅基地', 'Homestead and housing'], FOREST_WATER_BOUNDARY: ['山林水利界限权属', 'Forest, water and boundaries'],
    LAND_ACQUISITION_DEMOLITION: ['征地拆迁', 'Land acquisition and demolition'], CONTRACT_DEBT: ['合同债务', 'Contracts and debts'],
    DAMAGE_COMPENSATION: ['损害赔偿', 'Damage compensation'], TRAFFIC_ACCIDENT: ['道路交通事故', 'Road traffic accidents'],
    MEDICAL: ['医患纠纷', 'Medical disputes'], PROPERTY_MGMT: ['物业管理', 'Property management'], CONSTRUCTION: ['建筑工程', 'Construction'],
    CONSUMER: ['消费纠纷', 'Consumer disputes'], ENVIRONMENT: ['环境生态', 'Environment'], VILLAGE_AFFAIRS: ['村(社区)务管理', 'Village affairs'],
    ADMIN_ENFORCEMENT: ['行政执法活动', 'Administrative enforcement'],
  },
  risk: { GREEN: ['绿色(低)', 'Green (low)'], YELLOW: ['黄色(较低)', 'Yellow (moderate)'], ORANGE: ['橙色(较高)', 'Orange (high)'], RED: ['红色(高)', 'Red (severe)'] },
  source: {
    GRID_VISIT: ['网格走访', 'Grid visit'], WALK_IN: ['来访', 'Walk-in'], HOTLINE: ['热线', 'Hotline'], POLICE: ['公安110转办', 'Police referral'],
    COURT_REFERRAL: ['法院委派', 'Court referral'], PETITION: ['信访转办', 'Petition'], ONLINE: ['网上受理', 'Online'], OTHER: ['其他', 'Other'],
  },
  partyRole: { APPLICANT: ['申请人', 'Applicant'], RESPONDENT: ['被申请人', 'Respondent'], THIRD_PARTY: ['第三人', 'Third party'] },
  userRole: {
    GRID_WORKER: ['网格员', 'Grid worker'], VILLAGE_MEDIATOR: ['村调解员', 'Village mediator'], DISPATCHER: ['受理派遣员', 'Dispatcher'],
    DEPARTMENT_HANDLER: ['承办人员', 'Department handler'], SUPERVISOR: ['督办领导', 'Supervisor'], ADMIN: ['系统管理员', 'Administrator'],
    SYSTEM: ['系统', 'System'],
  },
  tier: { VILLAGE: ['村(社区)级', 'Village'], TOWNSHIP: ['乡镇(街道)级', 'Township'], COUNTY: ['县级', 'County'] },
  level: { NONE: ['正常', 'On time'], GREEN: ['正常', 'On time'], YELLOW: ['黄色预警', 'Yellow'], RED: ['红色预警', 'Red'] },
  step: {
    SUBMIT: ['上报', 'Submit'], RESOLVE_ON_SITE: ['就地化解', 'Resolve on the spot'], ACCEPT: ['受理', 'Accept'], RETURN: ['退回', 'Return'],
    VOID: ['作废', 'Void'], DISPATCH: ['分派', 'Dispatch'], SIGN_FOR: ['签收', 'Sign for'], SEND_BACK: ['退单', 'Send back'],
    START_HANDLING: ['开始调处', 'Start handling'], EXTENSION_REQUEST: ['延期申请', 'Extension request'],
    EXTENSION_DECISION: ['延期审批', 'Extension decision'], ESCALATE: ['提级', 'Escalate'], RESOLVE: ['办结', 'Resolve'],
    FOLLOW_UP: ['回访', 'Follow up'], REOPEN: ['重办', 'Reopen'], ARCHIVE: ['归档', 'Archive'], SUPERVISE: ['督办', 'Supervise'],
    CO_HANDLING_FEEDBACK: ['协办意见', 'Co-handling feedback'],
    SIGN: ['签收', 'Sign for'], HANDLE: ['办理', 'Handle'], CO_HANDLE: ['协办', 'Co-handle'],
  },
};

let current = localStorage.getItem('gridsync.lang') === 'en' ? 'en' : 'zh';
let userKey = null;

export function lang() { return current; }

/** The signed-in user's own choice, if they made one. */
export function useUser(userId) {
  userKey = `gridsync.lang.${userId}`;
  const mine = localStorage.getItem(userKey);
  if (mine === 'en' || mine === 'zh') current = mine;
  document.documentElement.lang = current === 'en' ? 'en' : 'zh-CN';
}

export function setLang(l) {
  current = l === 'en' ? 'en' : 'zh';
  localStorage.setItem('gridsync.lang', current);
  if (userKey) localStorage.setItem(userKey, current);
  document.documentElement.lang = current === 'en' ? 'en' : 'zh-CN';
}

/**
 * A page's own strings, `{ zh: {...}, en: {...} }`, added to the table when its module
 * loads (each page keeps its words beside its code; a key defined twice is a mistake).
 */
export function addStrings(table) {
  for (const l of ['zh', 'en']) {
    for (const [k, v] of Object.entries(table[l] || {})) {
      if (k in STRINGS[l] && STRINGS[l][k] !== v) console.warn(`i18n: ${l}.${k} defined twice`);
      STRINGS[l][k] = v;
    }
  }
}

/** A page's own code labels, `{ table: { CODE: [zh, en] } }`. */
export function addCodes(tables) {
  for (const [table, labels] of Object.entries(tables)) CODES[table] = { ...(CODES[table] || {}), ...labels };
}

export function t(key) {
  return STRINGS[current][key] ?? STRINGS.zh[key] ?? key;
}

/** The label of a code (`label('status', 'SUBMITTED')`), the code itself if unknown. */
export function label(table, code) {
  if (code === null || code === undefined || code === '') return '';
  const l = CODES[table] && CODES[table][code];
  return l ? l[current === 'en' ? 1 : 0] : String(code);
}

export function codes(table) { return Object.keys(CODES[table] || {}); }

/** `2026-12-05T14:30:00+08:00` (already in the county's offset) → `2026-12-05 14:30`. */
// The county's IANA time zone (from the session): dates the user picks are the county's,
// whatever zone the browser is in.
let countyZone = null;
export function setCountyZone(zone) { countyZone = zone || null; }

// Today's date in the county, as a local Date at midnight (for date arithmetic on fields).
export function countyToday(now = new Date()) {
  try {
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: countyZone || undefined, year: 'numeric', month: '2-digit', day: '2-digit',
    }).formatToParts(now);
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    return new Date(get('year'), get('month') - 1, get('day'));
  } catch {
    return new Date(now.getFullYear(), now.getMonth(), now.getDate());
  }
}

export function when(stamp) {
  if (!stamp) return '';
  return `${stamp.slice(0, 10)} ${stamp.slice(11, 16)}`;
}

/** "剩余 5小时12分" / "已超期 2天" (or English) until `due` from `now`. */
export function countdown(due, now = Date.now()) {
  if (!due) return '';
  let ms = Date.parse(due) - now;
  const over = ms < 0;
  ms = Math.abs(ms);
  const d = Math.floor(ms / 86_400_000);
  const hr = Math.floor((ms % 86_400_000) / 3_600_000);
  const min = Math.floor((ms % 3_600_000) / 60_000);
  const sep = current === 'en' ? ' ' : '';
  let span;
  if (over) span = d > 0 ? `${d}${t('day')}` : hr > 0 ? `${hr}${t('hour')}` : `${min}${t('minute')}`;
  else span = d > 0 ? `${d}${t('day')}${sep}${hr}${t('hour')}` : `${hr}${t('hour')}${sep}${min}${t('minute')}`;
  if (over) return current === 'en' ? `${t('overdueBy')} ${span}` : `${t('overdueBy')} ${span}`;
  return current === 'en' ? `${span} left` : `${t('remaining')} ${span}`;
}

/** Fen → `86,000.00 元`. */
export function yuan(fen) {
  const v = (Number(fen) || 0) / 100;
  return `${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${t('yuan')}`;
}
