// Overview: health, store backend, record counts, credentials, and the last errors.

import { api } from './api.js';
import { h, section } from './dom.js';

export async function render(main) {
  const [health, stats, apps, tokens, topApps, sessions, errors] = await Promise.all([
    fetch('/health', { cache: 'no-store' }).then(r => r.json()).catch(() => ({ status: 'unreachable' })),
    api('GET', '/v1/stats'),
    api('GET', '/v1/alipay-apps'),
    api('GET', '/v1/app-auth-tokens'),
    api('GET', '/v1/top-apps'),
    api('GET', '/v1/top-sessions'),
    api('GET', '/v1/journal?outcome=error&limit=10'),
  ]);
  const grid = h('div', { class: 'grid' });
  grid.append(
    section('Health',
      h('dl', { class: 'facts' },
        h('dt', { text: 'Status' }),
        h('dd', { class: health.status === 'ok' ? 'ok' : 'bad', id: 'health-status', text: health.status }),
        h('dt', { text: 'Store backend' }),
        h('dd', { id: 'store-backend', text: stats.backend }))),
    section('Records',
      h('table', {},
        h('thead', {}, h('tr', {}, h('th', { text: 'Kind' }), h('th', { text: 'Count' }))),
        h('tbody', {}, Object.entries(stats.records || {}).map(([kind, n]) =>
          h('tr', {}, h('td', {}, h('a', { href: `#/records/${kind}`, text: kind })),
            h('td', { class: 'num', text: n })))))),
  );
  main.append(grid);

  main.append(section('Apps and sessions',
    h('div', { class: 'table-wrap' },
      h('table', {},
        h('thead', {}, h('tr', {}, ['Kind', 'Id', 'Merchant', 'Details'].map(t => h('th', { text: t })))),
        h('tbody', {},
          apps.items.map(a => row('Alipay app', a.app_id, a.merchant_pid, `sign types ${a.sign_types.join(', ')}${a.has_aes_key ? ', AES key' : ''}`)),
          tokens.items.map(t => row('App auth token', short(t.token), t.merchant_pid, `app ${t.app_id}${t.expires_at ? `, expires ${t.expires_at}` : ''}`)),
          topApps.items.map(a => row('TOP app', a.app_key, a.merchant_id, `sign methods ${a.sign_methods.join(', ')}`)),
          sessions.items.map(s => row('TOP session', short(s.session), s.merchant_id, `app ${s.app_key}${s.expires_at ? `, expires ${s.expires_at}` : ''}`)))))));

  const list = h('ul', { class: 'plain', id: 'last-errors' });
  if (!errors.entries.length) list.append(h('li', { class: 'muted', text: 'No errors in this node\'s journal.' }));
  for (const e of errors.entries) {
    list.append(h('li', {},
      h('a', { href: `#/journal/${encodeURIComponent(e.id)}` },
        `${e.time} · ${e.method || e.front_door} · ${e.code || ''} ${e.sub_code || ''}`)));
  }
  main.append(section('Last errors', list));
}

function row(kind, id, merchant, details) {
  return h('tr', {}, h('td', { text: kind }), h('td', { text: id }), h('td', { text: merchant }),
    h('td', { text: details }));
}

// Tokens and sessions are credentials: show enough to tell them apart.
function short(secret) {
  return secret.length > 12 ? `${secret.slice(0, 6)}…${secret.slice(-4)}` : secret;
}
