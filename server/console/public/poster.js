// The poster for village offices: /public/{county}/poster. The QR code is the server's
// (GET /v1/public/counties/{county}/qr, for the desk: the console's session cookie goes
// with the image request); the page itself holds nothing but the county's public name.
import { $, get } from './public.js';

const county = location.pathname.split('/').filter(Boolean)[1] || '';
const qr = $('qr');
qr.addEventListener('error', () => {
  qr.hidden = true;
  $('qr-error').hidden = false;
});
qr.src = `/v1/public/counties/${encodeURIComponent(county)}/qr?format=svg`;
$('url').textContent = `${location.origin}/public/${county}`;
$('print').addEventListener('click', () => window.print());
get(`/v1/public/counties/${encodeURIComponent(county)}`).then(([status, data]) => {
  if (status === 200) $('center').textContent = data.center;
});
