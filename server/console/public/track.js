// Following a case: its number, the mobile it was filed with and a code sent to it.
import { $, el, message, post, sendCode } from './public.js';

$('send').addEventListener('click', () => {
  sendCode($('send'), $('error'), {
    mobile: $('mobile').value.trim(),
    purpose: 'FOLLOW',
    case_no: $('case-no').value.trim(),
  });
});

$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('error').textContent = '';
  const [status, c] = await post('/v1/public/follow', {
    case_no: $('case-no').value.trim(),
    mobile: $('mobile').value.trim(),
    code: $('code').value.trim(),
  });
  if (status !== 200) {
    $('error').textContent = message(status, c);
    return;
  }
  $('r-no').textContent = c.case_no;
  $('r-status').textContent = c.status_label;
  $('r-category').textContent = `纠纷类型：${c.category}`;
  $('r-orgs').textContent = c.handled_by.length ? `承办单位：${c.handled_by.join('、')}` : '';
  $('r-outcome').textContent = c.resolved_success === null || c.resolved_success === undefined
    ? '' : `办理结果：${c.resolved_success ? '已化解' : '未化解'}`;
  $('r-terms').textContent = c.agreement_terms ? `协议内容：${c.agreement_terms}` : '';
  const steps = $('r-steps');
  steps.replaceChildren();
  for (const s of c.steps) {
    const li = el('li');
    li.append(el('div', s.label), el('div', s.at.replace('T', ' ').slice(0, 16), 'when'));
    steps.append(li);
  }
  $('result').hidden = false;
});
