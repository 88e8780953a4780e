// Explorer: build a request for one of the five methods, sign it in this browser, send it
// through the server's protocol front doors (POST /v1/explorer/send) and check the answer.

import { api } from './api.js';
import { h, field, input, select, section, pre, pretty, message, clear } from './dom.js';
import { METHODS, buildRequest, checkAnswer } from './signing.js';

export async function render(main) {
  const [apps, tokens, topApps, sessions, demo] = await Promise.all([
    api('GET', '/v1/alipay-apps'),
    api('GET', '/v1/app-auth-tokens'),
    api('GET', '/v1/top-apps'),
    api('GET', '/v1/top-sessions'),
    api('GET', '/v1/demo-credentials').catch(e => { if (e.status === 404) return null; throw e; }),
  ]);

  const methodSelect = select('method', METHODS.map(m => [m.id, m.label]), METHODS[0].id);
  const appSelect = h('select', { name: 'app' });
  const tokenSelect = h('select', { name: 'app_auth_token' });
  const sessionSelect = h('select', { name: 'session' });
  const signMethod = select('sign_method', ['md5', 'hmac', 'hmac-sha256'], 'hmac-sha256');
  const privateKey = h('textarea', { name: 'private_key', class: 'key', rows: '6', spellcheck: 'false', autocomplete: 'off', placeholder: '-----BEGIN PRIVATE KEY-----' });
  const secret = input('app_secret', { type: 'password', autocomplete: 'off' });
  const fieldsBox = h('fieldset', { class: 'business' });
  const alert = message('alert');
  const status = message('status');
  const results = h('div', { id: 'explorer-results' });

  const keyField = field('Private key (stays in this browser)', privateKey,
    'PKCS#8 or PKCS#1, PEM or base64. It is used here to sign and never sent to the server.');
  const secretField = field('App secret (stays in this browser)', secret, 'Used here to sign; never sent.');
  const tokenField = field('App auth token', tokenSelect, 'Act for the merchant that granted it.');
  const sessionField = field('Session', sessionSelect);
  const signField = field('Sign method', signMethod);
  let inputs = {};

  const method = () => METHODS.find(m => m.id === methodSelect.value);

  function fillApps() {
    const m = method();
    const top = m.door === 'top';
    // Certificate-mode apps sign with SNs the explorer does not send yet: they are left out
    // rather than offered and refused.
    const list = top ? topApps.items.map(a => a.app_key)
      : apps.items.filter(a => !a.cert_mode).map(a => a.app_id);
    const keep = appSelect.value;
    clear(appSelect).append(...list.map(v => h('option', { value: v, text: v })));
    if (list.includes(keep)) appSelect.value = keep;
    keyField.hidden = top; tokenField.hidden = top;
    secretField.hidden = !top; sessionField.hidden = !top; signField.hidden = !top;
    fillCredentials();
  }

  function fillCredentials() {
    const top = method().door === 'top';
    const app = appSelect.value;
    if (top) {
      const own = sessions.items.filter(s => s.app_key === app);
      clear(sessionSelect).append(h('option', { value: '', text: '(none: app-level call)' }),
        ...own.map(s => h('option', { value: s.session, text: `${s.session.slice(0, 8)}… merchant ${s.merchant_id}` })));
      if (demo && app === demo.top.app_key) {
        secret.value = demo.top.app_secret;
        sessionSelect.value = demo.top.session;
      } else secret.value = '';
      // Methods that act for a merchant need one.
      if (!['alibaba.xlife.onsite.trade.query', 'alibaba.omni.order.query'].includes(method().name)) sessionSelect.value = '';
    } else {
      const own = tokens.items.filter(t => t.app_id === app);
      clear(tokenSelect).append(h('option', { value: '', text: '(none: the app\'s own merchant)' }),
        ...own.map(t => h('option', { value: t.token, text: `${t.token.slice(0, 8)}… merchant ${t.merchant_pid}` })));
      privateKey.value = demo && app === demo.alipay.app_id ? demo.alipay.app_private_key_pkcs8_pem : '';
    }
  }

  function fillFields() {
    const m = method();
    inputs = {};
    clear(fieldsBox).append(h('legend', { text: `Business parameters of ${m.name}` }));
    for (const [name, example, hint] of m.fields) {
      inputs[name] = input(name, { value: example });
      fieldsBox.append(field(name, inputs[name], hint));
    }
  }

  methodSelect.addEventListener('change', () => { fillFields(); fillApps(); });
  appSelect.addEventListener('change', fillCredentials);

  const form = h('form', { class: 'card', id: 'explorer-form' },
    h('div', { class: 'controls' }, field('Method', methodSelect), field('App', appSelect), sessionField, tokenField, signField),
    fieldsBox, keyField, secretField,
    h('button', { type: 'submit', text: 'Send' }), alert, status);
  main.append(
    h('p', { class: 'muted', text: demo
      ? 'The demo apps\' keys are filled in. Requests are signed in this browser and served by the protocol front doors exactly like an SDK\'s: they appear in the journal, and fault rules apply.'
      : 'Paste the app\'s private key (or TOP secret). Requests are signed in this browser and served by the protocol front doors exactly like an SDK\'s.' }),
    form, results);
  fillFields();
  fillApps();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.show('');
    const m = method();
    const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
    const top = m.door === 'top';
    if (!appSelect.value) { alert.show('Choose an app (add one under the admin API first).'); return; }
    if (!top && !privateKey.value.trim()) { alert.show('Paste the app\'s private key.'); return; }
    if (top && !secret.value) { alert.show('Enter the app secret.'); return; }
    const creds = top
      ? { appKey: appSelect.value, secret: secret.value, session: sessionSelect.value, signMethod: signMethod.value }
      : { appId: appSelect.value, privateKey: privateKey.value, appAuthToken: tokenSelect.value };
    let built;
    try {
      // A server whose request timestamps follow the sandbox clock wants that time, not ours.
      const clock = await api('GET', '/v1/clock');
      const sandbox = Date.parse(clock.now);
      const now = clock.request_timestamps_follow_clock && !Number.isNaN(sandbox) ? sandbox : Date.now();
      built = await buildRequest(m, values, creds, now);
    } catch (e) {
      alert.show(`Could not sign: ${e.message}`);
      return;
    }
    status.show('Sending…');
    let answer;
    try {
      answer = await api('POST', '/v1/explorer/send', built.request);
    } catch (e) {
      status.show('');
      alert.show(`The server refused the request: ${e.message}`);
      return;
    }
    status.show(answer.status === null ? 'No answer: the connection was closed.' : `Answered HTTP ${answer.status}.`);
    let platformKey = null;
    if (!top) {
      platformKey = apps.items.find(a => a.app_id === appSelect.value)?.platform_public_key_pem;
    }
    let check;
    try {
      check = await checkAnswer(m, answer, platformKey);
    } catch (e) {
      check = { verdict: 'does not verify', detail: e.message };
    }
    showResult(results, built, answer, check);
  });
}

function requestText(r) {
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  return `${r.method} ${r.target} HTTP/1.1\n${headers}\n\n${r.body}`;
}

function showResult(results, built, answer, check) {
  const headers = Object.entries(answer.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  const traceId = answer.headers.trace_id || answer.headers['alipay-trace-id'];
  let journalId = traceId;
  if (!journalId) {
    try { journalId = JSON.parse(answer.body)?.request_id || Object.values(JSON.parse(answer.body))[0]?.request_id; } catch { /* not JSON */ }
  }
  const cls = check.verdict === 'verifies' ? 'ok' : check.verdict === 'not signed' ? 'muted' : 'bad';
  clear(results).append(
    section('Request as sent', pre(requestText(built.request))),
    section('String signed', pre(built.signString)),
    section('Answer',
      answer.error ? h('p', { role: 'alert', class: 'msg error', text: answer.error }) : null,
      pre(answer.status === null ? '(no answer)' : `HTTP ${answer.status}\n${headers}\n\n${pretty(answer.body)}`),
      journalId ? h('p', {}, h('a', { href: `#/journal/${encodeURIComponent(journalId)}`, text: 'Open in the journal' })) : null),
    section('Answer signature',
      h('p', { class: `verdict ${cls}`, id: 'answer-signature', text: check.verdict }),
      h('p', { class: 'muted', text: check.detail || '' }),
      check.signed ? h('details', {}, h('summary', { text: 'The signed text' }), pre(check.signed)) : null));
  results.scrollIntoView({ behavior: 'smooth', block: 'start' });
}
