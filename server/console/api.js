// The public HTTP API with the session cookie: the CSRF token on every unsafe request, the
// user's language in Accept-Language, errors as {code, message} thrown as ApiError.
import { lang } from './i18n.js';

let csrf = null;
export function setCsrf(token) { csrf = token; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called when the session has ended (401): the app shows the sign-in page. */
let onSignedOut = () => {};
export function whenSignedOut(f) { onSignedOut = f; }

export async function api(method, path, body) {
  const headers = {
    Accept: 'application/json',
    'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN',
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch { data = null; }
  }
  if (!r.ok) {
    // A Chinese answer carries the English text as `detail`: it names the field or value
    // ("输入有误" alone would not say which), so it is shown beside the message.
    let message = (data && data.message) || r.statusText;
    if (data && data.detail && data.detail !== message) message = `${message}（${data.detail}）`;
    const err = new ApiError(r.status, data && data.code, message);
    if (r.status === 401 && path !== '/v1/auth/session') onSignedOut(err);
    throw err;
  }
  return data;
}

let spec = null;
/** The OpenAPI document (fetched once): the forms are generated from its schemas. */
export async function openapi() {
  if (!spec) spec = await api('GET', '/v1/openapi.json');
  return spec;
}
