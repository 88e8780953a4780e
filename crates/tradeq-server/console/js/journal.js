// Journal: this node's requests, followed live, and one entry with its signature diagnosis.

import { api, stream, query } from './api.js';
import { h, field, input, select, section, pre, pretty, message, clear } from './dom.js';
import { diffView } from './diff.js';

const MAX_ROWS = 500;

export function render(main, args) {
  if (args[0]) {
    entryPage(main, args.join('/')).catch(e => main.append(h('p', { role: 'alert', class: 'msg error', text: e.message })));
    return null;
  }
  return listPage(main);
}

function row(e, fresh) {
  return h('li', { 'data-journal-id': e.id, class: fresh ? 'fresh' : null },
    h('a', { href: `#/journal/${encodeURIComponent(e.id)}` },
      h('span', { class: 'muted', text: e.time.slice(11, 23) }),
      h('span', {}, h('span', { class: `pill ${e.outcome}`, text: e.outcome })),
      h('span', { text: e.method || '(no method)' }),
      h('span', { class: 'muted', text: e.app || e.front_door }),
      h('span', { class: 'muted', text: e.outcome === 'ok' ? `${e.latency_ms} ms` : `${e.code || ''} ${e.sub_code || ''}` })));
}

function listPage(main) {
  const controls = {
    method: input('method', { placeholder: 'alipay.trade.query' }),
    app: input('app'),
    merchant: input('merchant'),
    outcome: select('outcome', [['', 'any'], ['ok', 'ok'], ['error', 'error']]),
    front_door: select('front_door', [['', 'any'], ['alipay_v2', 'Alipay v2'], ['alipay_v3', 'Alipay v3'], ['top', 'TOP']]),
  };
  const form = h('form', { class: 'controls card', role: 'search' },
    field('Method', controls.method), field('App', controls.app), field('Merchant', controls.merchant),
    field('Outcome', controls.outcome), field('Front door', controls.front_door),
    h('button', { type: 'submit', text: 'Filter' }),
    h('button', { type: 'button', class: 'danger', text: 'Empty journal', onclick: async () => {
      if (!confirm('Remove every entry of this node\'s journal?')) return;
      try {
        await api('DELETE', '/v1/journal');
      } catch (e) {
        status.show(`Could not empty the journal: ${e.message}`);
        return;
      }
      start();
    } }));
  const status = message('status');
  const list = h('ul', { class: 'journal', id: 'journal-list', 'aria-live': 'polite' });
  main.append(form, status, section('Requests, newest first', list));

  let controller = null;
  const filters = () => Object.fromEntries(Object.entries(controls).map(([k, el]) => [k, el.value.trim()]));

  async function start() {
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = controller;
    const f = filters();
    const seen = new Set();
    // Subscribe first, then read the page: an entry that lands in between is in one or both.
    const pending = [];
    let loaded = false;
    const add = (e, fresh) => {
      if (seen.has(e.seq)) return;
      seen.add(e.seq);
      const el = row(e, fresh);
      if (fresh) list.prepend(el); else list.append(el);
      while (list.children.length > MAX_ROWS) list.lastChild.remove();
    };
    status.show('Connecting to the live journal…');
    stream(`/v1/journal/stream${query(f)}`, (name, data) => {
      if (name === 'lagged') { status.show('Live: some entries were skipped (the browser was too slow).'); return; }
      if (name !== 'entry') return;
      const e = JSON.parse(data);
      if (loaded) add(e, true); else pending.push(e);
    }, mine.signal).then(() => {
      if (!mine.signal.aborted) status.show('The live journal ended (the server stopped?). Reload to reconnect.');
    }, (e) => {
      if (!mine.signal.aborted) status.show(`The live journal failed: ${e.message}`);
    });
    try {
      const page = await api('GET', `/v1/journal${query({ ...f, limit: '100' })}`);
      if (mine.signal.aborted) return;
      clear(list);
      page.entries.forEach(e => add(e, false));
      loaded = true;
      pending.forEach(e => add(e, true));
      if (!page.entries.length && !pending.length) {
        list.append(h('li', { class: 'muted empty', text: 'No requests yet. Send one from the Explorer or with an SDK.' }));
      }
      status.show('Live: new requests appear at the top.');
    } catch (e) {
      status.show('');
      main.append(h('p', { role: 'alert', class: 'msg error', text: e.message }));
    }
  }
  // The placeholder goes once the first live entry arrives.
  new MutationObserver(() => {
    const empty = list.querySelector('.empty');
    if (empty && list.children.length > 1) empty.remove();
  }).observe(list, { childList: true });

  form.addEventListener('submit', (ev) => { ev.preventDefault(); start(); });
  start();
  return () => { if (controller) controller.abort(); };
}

async function entryPage(main, id) {
  const e = await api('GET', `/v1/journal/${encodeURIComponent(id)}`);
  main.append(h('p', {}, h('a', { href: '#/journal', text: '← all requests' })));
  main.append(h('dl', { class: 'facts card' },
    [['Id', e.id], ['Time', e.time], ['Front door', e.front_door], ['Method', e.method], ['App', e.app],
    ['Merchant', e.merchant], ['Record key', e.record_key],
    ['Outcome', `${e.outcome}${e.code ? ` ${e.code}` : ''}${e.sub_code ? ` ${e.sub_code}` : ''}`]]
    .flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v ?? '—' })])));

  const params = Object.entries(e.params || {});
  main.append(section('Parameters', params.length
    ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { text: 'Value' }))),
      h('tbody', {}, params.map(([k, v]) => h('tr', {}, h('td', { text: k }),
        h('td', { text: typeof v === 'string' ? v : JSON.stringify(v) }))))))
    : h('p', { class: 'muted', text: 'None decoded.' })));

  main.append(section('String verified', e.sign_string
    ? pre(e.sign_string)
    : h('p', { class: 'muted', text: 'The request did not get as far as its signature.' })));

  const verdict = { verified: ['ok', 'verified'], failed: ['bad', 'failed'], not_reached: ['muted', 'not reached'] }[e.verification] || ['muted', e.verification];
  main.append(section('Verification', h('p', { class: `verdict ${verdict[0]}`, id: 'verification', text: verdict[1] })));

  main.append(section('Diagnosis', e.diagnosis && e.diagnosis.length
    ? h('ul', { id: 'diagnosis' }, e.diagnosis.map(d => h('li', { text: d })))
    : h('p', { class: 'muted', text: 'Nothing to diagnose.' })));

  if (e.verification === 'failed' && e.sign_string) {
    const pasted = h('textarea', { name: 'client_string', rows: '4', placeholder: 'Paste the string your SDK signed (its debug log shows it)' });
    const out = h('div', { id: 'difference' });
    const compare = () => {
      clear(out);
      // Pasting loses trailing line breaks, so neither side's count.
      const trim = (s) => s.replace(/\r\n/g, '\n').replace(/\n+$/, '');
      if (pasted.value) out.append(diffView(trim(e.sign_string), trim(pasted.value), e.front_door));
    };
    pasted.addEventListener('input', compare);
    main.append(section('Compare with your client',
      field('Your client\'s string', pasted, 'Compared as you type; the server\'s string is the one above.'),
      h('button', { type: 'button', text: 'Compare', onclick: compare }),
      h('section', { class: 'difference' }, h('h2', { text: 'Difference' }), out)));
  }

  main.append(section('Answer',
    e.response_truncated ? h('p', { class: 'muted', text: `The first ${e.response.length} of ${e.response_bytes} bytes.` }) : null,
    pre(pretty(e.response || ''))));
  main.append(section('Latency', h('p', { text: `${e.latency_ms} ms` })));
  main.append(section('Fault', e.fault
    ? pre(JSON.stringify(e.fault, null, 2))
    : h('p', { class: 'muted', text: 'No fault rule applied.' })));
}
