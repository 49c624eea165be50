// Shared by the citizens' pages: the API, messages, the code button's countdown. Every
// value is written with textContent; nothing from the server becomes markup.

/** POST a JSON body; resolves to [status, body]. */
export async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch { data = null; }
  }
  return [r.status, data];
}

export async function get(path) {
  const r = await fetch(path);
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  return [r.status, data];
}

const MESSAGES = {
  code_invalid: '验证码不正确或已过期，请重新获取。',
  code_locked: '验证码错误次数过多，请重新获取。',
  daily_limit: '同一手机号每天最多提交3件，请明天再试。',
  rate_limited: '操作过于频繁，请稍后再试。',
  not_found: '没有找到：请核对案件编号、手机号和验证码。',
  invalid_transition: '该案件当前不需要回访评价。',
};
const FIELDS = {
  mobile: '手机号', category: '纠纷类型', description: '情况描述', area_code: '所在村（社区）',
  name: '姓名', code: '验证码', satisfaction: '满意度', case_no: '案件编号',
};

/** A refusal as a sentence for people. */
export function message(status, body) {
  const code = body && body.code;
  if (code && MESSAGES[code]) return MESSAGES[code];
  if (code === 'invalid_input' && body.message) {
    const field = Object.keys(FIELDS).find((f) => body.message.includes(f));
    if (field) return `请检查「${FIELDS[field]}」。`;
  }
  if (status >= 500) return '系统繁忙，请稍后再试。';
  return '提交失败，请检查后重试。';
}

/** Sends a code; the button counts down before it may be pressed again. */
export async function sendCode(button, errorBox, body) {
  errorBox.textContent = '';
  button.disabled = true;
  const [status, data] = await post('/v1/public/codes', body);
  if (status !== 202) {
    errorBox.textContent = message(status, data);
    button.disabled = false;
    return false;
  }
  let left = (data && data.resend_after_secs) || 60;
  const label = button.textContent;
  const tick = () => {
    if (left <= 0) {
      button.textContent = label;
      button.disabled = false;
      return;
    }
    button.textContent = `${left}秒后重发`;
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
  return true;
}

/** A new element with text. */
export function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

export function $(id) {
  return document.getElementById(id);
}
