// The filing page: /public/{county}. The county's villages and categories come from
// GET /v1/public/counties/{county}; the number is proved by a code before filing.
import { $, el, get, message, post, sendCode } from './public.js';

const county = location.pathname.split('/').filter(Boolean)[1] || '';

async function load() {
  const [status, data] = await get(`/v1/public/counties/${encodeURIComponent(county)}`);
  if (status !== 200) {
    $('center').textContent = '没有这个县（市、区）的受理页面，请核对二维码。';
    $('form').hidden = true;
    return;
  }
  $('center').textContent = `${data.center} · 扫码反映，无需注册`;
  const category = $('category');
  category.append(el('option', '请选择', undefined));
  category.firstChild.value = '';
  for (const [code, label] of data.categories) {
    const o = el('option', label);
    o.value = code;
    category.append(o);
  }
  const village = $('village');
  village.append(el('option', '请选择', undefined));
  village.firstChild.value = '';
  const groups = new Map();
  for (const p of data.places) {
    if (!groups.has(p.township)) {
      const g = document.createElement('optgroup');
      g.label = p.township;
      groups.set(p.township, g);
      village.append(g);
    }
    const o = el('option', p.name);
    o.value = p.area_code;
    groups.get(p.township).append(o);
  }
}

$('send').addEventListener('click', () => {
  sendCode($('send'), $('error'), { mobile: $('mobile').value.trim(), purpose: 'FILE' });
});

$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const error = $('error');
  error.textContent = '';
  const body = {
    county,
    category: $('category').value,
    description: $('description').value.trim(),
    area_code: $('village').value,
    name: $('name').value.trim(),
    mobile: $('mobile').value.trim(),
    code: $('code').value.trim(),
  };
  const missing = [['category', '纠纷类型'], ['description', '情况描述'], ['area_code', '所在村（社区）'],
    ['name', '姓名'], ['mobile', '手机号'], ['code', '验证码']].find(([k]) => !body[k]);
  if (missing) {
    error.textContent = `请填写「${missing[1]}」。`;
    return;
  }
  $('submit').disabled = true;
  const [status, data] = await post('/v1/public/cases', body);
  $('submit').disabled = false;
  if (status !== 201) {
    error.textContent = message(status, data);
    return;
  }
  $('form').hidden = true;
  $('case-no').textContent = data.case_no;
  $('next').textContent = data.next;
  $('done').hidden = false;
});

$('copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('case-no').textContent);
    $('copy').textContent = '已复制';
  } catch {
    $('copy').textContent = '请长按编号复制';
  }
});

load();
