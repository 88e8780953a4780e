// The console's shell: sign-in, navigation and hash routing (#/overview, #/journal/<id>, …).

import { api, token, setToken, whenUnauthorized } from './api.js';
import { h, clear, field, message } from './dom.js';
import * as overview from './overview.js';
import * as records from './records.js';
import * as journal from './journal.js';
import * as explorer from './explorer.js';
import * as faults from './faults.js';
import * as clock from './clock.js';

const PAGES = [
  ['overview', 'Overview', overview],
  ['records', 'Records', records],
  ['journal', 'Journal', journal],
  ['explorer', 'Explorer', explorer],
  ['faults', 'Faults', faults],
  ['clock', 'Clock', clock],
];

const app = document.getElementById('app');
// What the current page must stop (a live stream) when another one opens.
let cleanup = null;
let signInNotice = '';

function stopPage() {
  if (cleanup) {
    try { cleanup(); } catch { /* the page is gone anyway */ }
    cleanup = null;
  }
}

function signIn() {
  stopPage();
  const tokenInput = h('input', {
    name: 'token', id: 'token', type: 'password', autocomplete: 'current-password', required: false,
  });
  const alert = message('alert');
  const form = h('form', { class: 'login card', novalidate: true },
    h('h1', { text: 'tradeq console' }),
    h('p', { text: 'Sign in with the admin token (tradeq-data/admin-token, or --admin-token).' }),
    field('Admin token', tokenInput),
    h('button', { type: 'submit', text: 'Sign in' }),
    alert);
  if (signInNotice) { alert.show(signInNotice); signInNotice = ''; }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = tokenInput.value.trim();
    if (!t) { alert.show('Please enter the admin token.'); return; }
    alert.show('');
    try {
      await api('GET', '/v1/stats', undefined, undefined, t);
    } catch (e) {
      alert.show(e.status === 401
        ? 'That is the wrong admin token: the server refused it.'
        : `Could not sign in: ${e.message}`);
      tokenInput.select();
      return;
    }
    setToken(t);
    if (!location.hash || location.hash === '#/' || location.hash === '#') {
      location.hash = '#/overview'; // hashchange routes
    } else {
      route();
    }
  });
  clear(app).append(h('main', { class: 'signin' }, form));
  tokenInput.focus();
}

function signOut() {
  setToken('');
  history.replaceState(null, '', '#/overview');
  signIn();
}

whenUnauthorized(() => {
  setToken('');
  signInNotice = 'The server refused the token (wrong admin token, or it changed): sign in again.';
  signIn();
});

function shell(current) {
  const nav = h('nav', { 'aria-label': 'Console pages' },
    h('ul', {}, PAGES.map(([id, label]) => h('li', {},
      h('a', { href: `#/${id}`, 'aria-current': id === current ? 'page' : null, text: label })))));
  const header = h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/overview', text: 'tradeq' }),
    nav,
    h('button', { type: 'button', class: 'signout', onclick: signOut, text: 'Sign out' }));
  const main = h('main', { id: 'main' });
  clear(app).append(header, main);
  return main;
}

function route() {
  if (!token()) { signIn(); return; }
  stopPage();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = PAGES.find(([id]) => id === parts[0]);
  if (!page) { location.replace('#/overview'); return; }
  const [id, label, module] = page;
  const main = shell(id);
  main.append(h('h1', { text: label }));
  document.title = `${label} · tradeq console`;
  const failed = (e) => {
    if (e?.status === 401) return;
    main.append(h('p', { role: 'alert', class: 'msg error', text: `This page failed: ${e?.message || e}` }));
  };
  try {
    const r = module.render(main, parts.slice(1));
    if (typeof r === 'function') cleanup = r;
    else if (r && typeof r.catch === 'function') r.catch(failed);
  } catch (e) {
    failed(e);
  }
}

window.addEventListener('hashchange', route);
route();
