// 统计分析: GET /v1/stats for a period, grouped by month, category, township and source (the
// tier shares come with the total), drawn with the vendored Apache ECharts (canvas, tooltips
// as plain text: no inline style under the CSP), each chart with its table and a CSV export
// (/v1/stats.csv), and the monthly workbook (/v1/stats/monthly.xlsx). Plain links: the
// session cookie goes with a GET.
import * as echarts from './echarts.esm.min.js';
import { api } from './api.js';
import { h, fill } from './dom.js';
import { t, label, addStrings, countyToday } from './i18n.js';

addStrings({
  zh: {
    st_title: '统计分析', st_from: '开始日期', st_to: '结束日期', st_query: '查询', st_area: '区域代码(可选)',
    st_thisMonth: '本月', st_lastMonth: '上月', st_quarter: '本季度', st_year: '本年', st_12m: '近12个月',
    st_received: '受理总数', st_resolution: '化解率', st_mediation: '调解成功率', st_satisfaction: '满意度', st_onTime: '按期办结率',
    st_yoy: '同比', st_pop: '环比', st_points: '个百分点', st_none: '—',
    st_byMonth: '按月趋势', st_byCategory: '按纠纷类别', st_byArea: '按乡镇(街道)', st_byTier: '按化解层级', st_bySource: '按来源渠道',
    st_month: '月份', st_group: '分组', st_resolved: '办结数', st_resolvedOk: '化解数', st_share: '占比',
    st_csv: '导出 CSV', st_xlsx: '导出月报 Excel', st_xlsxMonth: '月报月份', st_period: '统计期间',
    st_tier: '层级', st_count: '化解数', st_exports: '导出', st_chart: '图表',
  },
  en: {
    st_title: 'Statistics', st_from: 'From', st_to: 'To', st_query: 'Show', st_area: 'Area code (optional)',
    st_thisMonth: 'This month', st_lastMonth: 'Last month', st_quarter: 'This quarter', st_year: 'This year', st_12m: 'Last 12 months',
    st_received: 'Cases received', st_resolution: 'Resolution rate', st_mediation: 'Mediation success', st_satisfaction: 'Satisfaction', st_onTime: 'Closed on time',
    st_yoy: 'YoY', st_pop: 'MoM', st_points: 'pts', st_none: '—',
    st_byMonth: 'By month', st_byCategory: 'By category', st_byArea: 'By township', st_byTier: 'By tier resolved at', st_bySource: 'By source',
    st_month: 'Month', st_group: 'Group', st_resolved: 'Resolved', st_resolvedOk: 'Resolved successfully', st_share: 'Share',
    st_csv: 'Export CSV', st_xlsx: 'Monthly report (Excel)', st_xlsxMonth: 'Report month', st_period: 'Period',
    st_tier: 'Tier', st_count: 'Resolved', st_exports: 'Exports', st_chart: 'Chart',
  },
});

const COLORS = ['#1f4e8c', '#13a8a8', '#d48806', '#cf1322', '#389e0d', '#722ed1', '#eb2f96', '#597ef7'];

// Charts of the page on screen: disposed when it is left, resized with the window.
let charts = [];
let resizeHooked = false;

const pad = (n) => String(n).padStart(2, '0');
const ymd = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const pct = (v) => (v === null || v === undefined ? t('st_none') : `${(v * 100).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? t('st_none') : String(v));

function presets() {
  const now = countyToday();
  const y = now.getFullYear();
  const m = now.getMonth();
  const q = Math.floor(m / 3) * 3;
  return [
    ['st_thisMonth', new Date(y, m, 1), now],
    ['st_lastMonth', new Date(y, m - 1, 1), new Date(y, m, 0)],
    ['st_quarter', new Date(y, q, 1), now],
    ['st_year', new Date(y, 0, 1), now],
    ['st_12m', new Date(y, m - 11, 1), now],
  ];
}

export async function statsPage(main) {
  for (const c of charts) c.dispose();
  charts = [];
  if (!resizeHooked) {
    resizeHooked = true;
    window.addEventListener('resize', () => { for (const c of charts) c.resize(); });
  }
  const q = new URLSearchParams(location.search);
  const now = countyToday();
  const from = h('input', { type: 'date', id: 'st-from', name: 'from', value: q.get('from') || ymd(new Date(now.getFullYear(), 0, 1)), required: true });
  const to = h('input', { type: 'date', id: 'st-to', name: 'to', value: q.get('to') || ymd(now), required: true });
  const area = h('input', { id: 'st-area', name: 'area', value: q.get('area') || '', size: 12, inputmode: 'numeric', pattern: '[0-9]{0,12}' });
  const form = h('form', { class: 'filters', id: 'stats-period' },
    h('label', { for: 'st-from' }, t('st_from'), from),
    h('label', { for: 'st-to' }, t('st_to'), to),
    h('label', { for: 'st-area' }, t('st_area'), area),
    h('button', { type: 'submit', class: 'primary' }, t('st_query')),
    h('span', { class: 'presets' }, presets().map(([key, a, b]) => h('button', {
      type: 'button', 'data-preset': key,
      onclick: () => { from.value = ymd(a); to.value = ymd(b); form.requestSubmit(); },
    }, t(key)))));
  const status = h('p', { class: 'error', role: 'alert', id: 'stats-error' });
  const body = h('div', { id: 'stats-body' }, h('p', {}, t('loading')));
  fill(main, h('h1', {}, t('st_title')), form, status, body);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = params();
    history.replaceState(null, '', `/console/stats?${p}`);
    load();
  });
  const params = () => {
    const p = new URLSearchParams({ from: from.value, to: to.value });
    if (area.value.trim()) p.set('area', area.value.trim());
    return p;
  };
  const load = async () => {
    fill(status);
    const p = params();
    let month; let category; let township; let source;
    try {
      [month, category, township, source] = await Promise.all(['month', 'category', 'area', 'source'].map((g) => {
        const gp = new URLSearchParams(p);
        gp.set('group_by', g);
        return api('GET', `/v1/stats?${gp}`);
      }));
    } catch (err) {
      fill(body);
      return fill(status, err.message);
    }
    for (const c of charts) c.dispose();
    charts = [];
    draw(body, p, { month, category, township, source });
  };
  from.focus();
  await load();
}

function draw(body, p, r) {
  const total = r.month.total;
  const cur = total.current;
  const csv = (group) => { const gp = new URLSearchParams(p); gp.set('group_by', group); return `/v1/stats.csv?${gp}`; };
  const months = monthsOf(r.month);

  // The monthly workbook: a month of the period, the last whole one by default.
  const lastMonth = (() => { const d = countyToday(); d.setDate(1); d.setMonth(d.getMonth() - 1); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`; })();
  const xMonth = h('input', { type: 'month', id: 'st-xlsx-month', value: (r.month.to || '').slice(0, 7) < lastMonth ? r.month.to.slice(0, 7) : lastMonth });
  const xlsx = h('a', { id: 'export-xlsx', class: 'button', download: '' }, t('st_xlsx'));
  const xlsxHref = () => {
    const xp = new URLSearchParams({ month: xMonth.value });
    if (p.get('area')) xp.set('area', p.get('area'));
    xlsx.setAttribute('href', `/v1/stats/monthly.xlsx?${xp}`);
  };
  xMonth.addEventListener('change', xlsxHref);
  xlsxHref();

  const panels = [];
  const chartBox = (id) => h('div', { class: 'chart', id, role: 'img' });

  // 按月: received as bars, the rates as lines on a percentage axis.
  const monthBox = chartBox('chart-month');
  panels.push(section('st_byMonth', monthBox,
    table('table-month', [t('st_month'), t('st_received'), t('st_resolved'), t('st_resolution'), t('st_mediation'), t('st_satisfaction'), t('st_onTime'), t('st_pop')],
      months.map((m) => [m.key, num(m.c.received), num(m.c.resolved), pct(m.c.resolution_rate), pct(m.c.mediation_success_rate),
        pct(m.c.satisfaction_rate), pct(m.c.on_time_closure_rate), change(m.pop && m.pop.received_change)])),
    csvLink('export-csv-month', csv('month'))));

  const catRows = sortedGroups(r.category);
  const catBox = chartBox('chart-category');
  panels.push(section('st_byCategory', catBox,
    table('table-category', [t('category'), t('st_received'), t('st_resolvedOk'), t('st_resolution')],
      catRows.map((g) => [label('category', g.key), num(g.current.received), num(g.current.resolved_successfully), pct(g.current.resolution_rate)])),
    csvLink('export-csv-category', csv('category'))));

  const areaRows = sortedGroups(r.township);
  const areaBox = chartBox('chart-area');
  panels.push(section('st_byArea', areaBox,
    table('table-area', [t('area'), t('st_received'), t('st_resolvedOk'), t('st_resolution'), t('st_yoy')],
      areaRows.map((g) => [g.label || g.key, num(g.current.received), num(g.current.resolved_successfully), pct(g.current.resolution_rate),
        change(g.year_on_year && g.year_on_year.received_change)])),
    csvLink('export-csv-area', csv('area'))));

  const tiers = [['VILLAGE', cur.resolved_village, cur.village_share], ['TOWNSHIP', cur.resolved_township, cur.township_share], ['COUNTY', cur.resolved_county, cur.county_share]];
  const tierBox = chartBox('chart-tier');
  panels.push(section('st_byTier', tierBox,
    table('table-tier', [t('st_tier'), t('st_count'), t('st_share')], tiers.map(([k, n, s]) => [label('tier', k), num(n), pct(s)])),
    csvLink('export-csv-total', csv('category'))));

  const srcRows = sortedGroups(r.source);
  const srcBox = chartBox('chart-source');
  panels.push(section('st_bySource', srcBox,
    table('table-source', [t('source'), t('st_received'), t('st_resolution')],
      srcRows.map((g) => [label('source', g.key), num(g.current.received), pct(g.current.resolution_rate)])),
    csvLink('export-csv-source', csv('source'))));

  fill(body,
    h('p', { class: 'muted', id: 'stats-period-shown' }, `${t('st_period')}: ${r.month.from} — ${r.month.to} (${r.month.time_zone})`),
    h('div', { class: 'kpis', id: 'kpis' },
      kpi('received', t('st_received'), num(cur.received), total, 'received'),
      kpi('resolution', t('st_resolution'), pct(cur.resolution_rate), total, 'resolution_rate'),
      kpi('mediation', t('st_mediation'), pct(cur.mediation_success_rate), total, 'mediation_success_rate'),
      kpi('satisfaction', t('st_satisfaction'), pct(cur.satisfaction_rate), total, 'satisfaction_rate'),
      kpi('ontime', t('st_onTime'), pct(cur.on_time_closure_rate), total, 'on_time_closure_rate')),
    h('div', { class: 'exports' }, h('strong', {}, `${t('st_exports')}: `), csvLink('export-csv', csv('category')),
      h('label', { for: 'st-xlsx-month' }, t('st_xlsxMonth')), xMonth, xlsx),
    h('div', { class: 'stats-grid' }, panels));

  // Charts after the boxes are in the page (ECharts measures them).
  const axis = { axisLabel: { color: '#646a73' } };
  const tooltip = { trigger: 'axis', renderMode: 'richText' };
  const pctAxis = { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%', color: '#646a73' } };
  const p100 = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);
  chart(monthBox, {
    tooltip,
    legend: { top: 0 },
    grid: { left: 40, right: 48, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: months.map((m) => m.key), ...axis },
    yAxis: [{ type: 'value', minInterval: 1, ...axis }, pctAxis],
    series: [
      { name: t('st_received'), type: 'bar', data: months.map((m) => m.c.received), barMaxWidth: 28 },
      { name: t('st_resolution'), type: 'line', yAxisIndex: 1, data: months.map((m) => p100(m.c.resolution_rate)), connectNulls: true },
      { name: t('st_mediation'), type: 'line', yAxisIndex: 1, data: months.map((m) => p100(m.c.mediation_success_rate)), connectNulls: true },
      { name: t('st_satisfaction'), type: 'line', yAxisIndex: 1, data: months.map((m) => p100(m.c.satisfaction_rate)), connectNulls: true },
      { name: t('st_onTime'), type: 'line', yAxisIndex: 1, data: months.map((m) => p100(m.c.on_time_closure_rate)), connectNulls: true },
    ],
  });
  const bars = (box, rows, name) => chart(box, {
    tooltip,
    legend: { top: 0 },
    grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, ...axis },
    yAxis: { type: 'category', inverse: true, data: rows.map(name), ...axis },
    series: [
      { name: t('st_received'), type: 'bar', data: rows.map((g) => g.current.received), barMaxWidth: 16 },
      { name: t('st_resolvedOk'), type: 'bar', data: rows.map((g) => g.current.resolved_successfully), barMaxWidth: 16 },
    ],
  });
  bars(catBox, catRows, (g) => label('category', g.key));
  bars(areaBox, areaRows, (g) => g.label || g.key);
  // An all-zero pie would draw equal slices: nothing is drawn instead (the table says 0).
  const pie = (box, data) => chart(box, {
    tooltip: { trigger: 'item', renderMode: 'richText' },
    legend: { bottom: 0 },
    series: [{ type: 'pie', radius: ['35%', '65%'], center: ['50%', '45%'], data: data.some((d) => d.value > 0) ? data : [], label: { formatter: '{b}: {c}' } }],
  });
  pie(tierBox, tiers.map(([k, n]) => ({ name: label('tier', k), value: n })));
  pie(srcBox, srcRows.map((g) => ({ name: label('source', g.key), value: g.current.received })));
}

function chart(box, option) {
  const c = echarts.init(box, null, { renderer: 'canvas' });
  // No growing bars for whoever asked their system for less motion.
  const still = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  c.setOption({ animation: !still, color: COLORS, textStyle: { fontFamily: '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif' }, ...option });
  box.setAttribute('aria-label', (option.series || []).map((s) => s.name).filter(Boolean).join(', ') || box.id);
  charts.push(c);
  return c;
}

/** Every month of the period, those without cases as zeros. */
function monthsOf(report) {
  const byKey = new Map((report.groups || []).map((g) => [g.key, g]));
  const out = [];
  const [fy, fm] = report.from.split('-').map(Number);
  const [ty, tm] = report.to.split('-').map(Number);
  for (let y = fy, m = fm; y < ty || (y === ty && m <= tm); m === 12 ? (y += 1, m = 1) : (m += 1)) {
    const key = `${y}-${pad(m)}`;
    const g = byKey.get(key);
    out.push({ key, c: g ? g.current : { received: 0, resolved: 0 }, pop: g && g.period_on_period });
  }
  return out;
}

function sortedGroups(report) {
  return [...(report.groups || [])].sort((a, b) => b.current.received - a.current.received);
}

/** A relative change (0.125 → "+12.5%"), or a dash. */
function change(v) {
  if (v === null || v === undefined) return t('st_none');
  return `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;
}

/** A big figure with its 同比 and 环比 (relative for counts, in points for rates). */
function kpi(id, name, value, total, field) {
  const diff = (other) => {
    const a = total.current[field];
    const b = other && other[field];
    if (a === null || a === undefined || b === null || b === undefined) return t('st_none');
    if (field === 'received') return b === 0 ? t('st_none') : change((a - b) / b);
    const d = (a - b) * 100;
    return `${d >= 0 ? '+' : ''}${d.toFixed(1)} ${t('st_points')}`;
  };
  return h('div', { class: 'kpi', id: `kpi-${id}` },
    h('div', { class: 'kpi-name' }, name),
    h('div', { class: 'kpi-value' }, value),
    h('div', { class: 'kpi-cmp' },
      h('span', {}, `${t('st_yoy')} ${diff(total.last_year)}`),
      h('span', {}, `${t('st_pop')} ${diff(total.previous_period)}`)));
}

function section(key, ...children) {
  return h('section', { class: 'stats-panel' }, h('h2', {}, t(key)), ...children);
}

function table(id, head, rows) {
  return h('table', { class: 'grid compact', id },
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.length
      ? rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))
      : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, t('st_none')))));
}

function csvLink(id, href) {
  return h('a', { id, href, class: 'button', download: '' }, t('st_csv'));
}

