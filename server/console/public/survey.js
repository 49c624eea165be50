// The follow-up survey: the single-use token is in the link's fragment (never sent in a
// request line, so never in a server's or a proxy's log).
import { $, message, post } from './public.js';

const token = decodeURIComponent(location.hash.slice(1));
const stars = $('stars');
for (let i = 1; i <= 5; i += 1) {
  const label = document.createElement('label');
  const input = document.createElement('input');
  input.type = 'radio';
  input.name = 'satisfaction';
  input.value = String(i);
  label.append(input, document.createTextNode(` ${i}`));
  stars.append(label);
}
if (!token) {
  $('error').textContent = '链接不完整，请从短信中重新打开。';
  $('submit').disabled = true;
}

$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const picked = document.querySelector('input[name=satisfaction]:checked');
  if (!picked) {
    $('error').textContent = '请选择满意度。';
    return;
  }
  const kept = document.querySelector('input[name=kept]:checked').value;
  const [status, data] = await post('/v1/public/surveys', {
    token,
    satisfaction: Number(picked.value),
    agreement_kept: kept === '' ? null : kept === 'yes',
  });
  if (status !== 204) {
    $('error').textContent = message(status, data);
    return;
  }
  $('form').hidden = true;
  $('done').hidden = false;
});
