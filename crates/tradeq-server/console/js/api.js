// The admin API, with the token from this tab's sessionStorage as a bearer header. The token is
// never put in a URL: the live journal is read with fetch() streaming, not EventSource.

const KEY = 'tradeq-admin-token';

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

// Called when the server refuses the token: the app goes back to the sign-in form.
let onUnauthorized = () => {};
export function whenUnauthorized(f) { onUnauthorized = f; }

// `api('GET', '/v1/stats')`, `api('POST', '/v1/faults', {…})`; answers the parsed JSON (or
// null for an empty answer) and throws ApiError with the API's code and message.
export async function api(method, path, body, contentType = 'application/json', tokenOverride) {
  const headers = { Authorization: `Bearer ${tokenOverride ?? token()}` };
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', `the server did not answer (${e.message})`);
  }
  const text = await res.text();
  let doc = null;
  if (text) {
    try { doc = JSON.parse(text); } catch { doc = text; }
  }
  if (!res.ok) {
    const err = (doc && doc.error) || {};
    const e = new ApiError(res.status, err.code || `http_${res.status}`,
      err.message || `HTTP ${res.status}`, err.field);
    if (res.status === 401 && tokenOverride === undefined) onUnauthorized(e);
    throw e;
  }
  return doc;
}

// Follows a Server-Sent Events endpoint; calls onEvent(name, data) per event until `signal`
// aborts. Resolves when the stream ends, rejects on a failure.
export async function stream(path, onEvent, signal) {
  const res = await fetch(path, {
    headers: { Authorization: `Bearer ${token()}`, Accept: 'text/event-stream' },
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
  if (!res.ok || !res.body) {
    if (res.status === 401) onUnauthorized(new ApiError(401, 'invalid_token', 'wrong admin token'));
    throw new ApiError(res.status, `http_${res.status}`, `the journal stream answered HTTP ${res.status}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let name = 'message';
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}

// A query string from the non-empty members of `params`.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
