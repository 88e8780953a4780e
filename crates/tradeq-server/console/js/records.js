// Records: search by any key, merchant and status; a record as JSON and as each method answers
// it; merge-patch editing, creating from a template, attaching a lifecycle.

import { api, query } from './api.js';
import { h, field, input, select, section, pre, message, clear } from './dom.js';

const KINDS = ['alipay-trade', 'koubei-order', 'onsite-trade', 'omni-order'];
// The secondary keys each kind can be found by (GET /v1/records/{kind} filters).
const SECONDARY = {
  'alipay-trade': ['out_trade_no'],
  'koubei-order': [],
  'onsite-trade': ['out_trade_no', 'short_trade_no'],
  'omni-order': ['out_order_id'],
};
const PRIMARY = { 'alipay-trade': 'trade_no', 'koubei-order': 'order_no', 'onsite-trade': 'trade_no', 'omni-order': 'order_id' };
const STATUS = { 'alipay-trade': 'trade_status', 'koubei-order': 'status', 'onsite-trade': 'trade_status', 'omni-order': 'pay_status' };
const MERCHANT = { 'alipay-trade': 'seller_id', 'koubei-order': 'partner_id', 'onsite-trade': 'merchant_id', 'omni-order': 'merchant_id' };

const recordPath = (kind, key) => `/v1/records/${kind}/${encodeURIComponent(key)}`;

export async function render(main, args) {
  const [kindArg, ...keyParts] = args;
  const kind = select('kind', KINDS, KINDS.includes(kindArg) ? kindArg : 'alipay-trade');
  const key = input('key', { placeholder: 'trade_no, out_trade_no, short_trade_no, order_no, order_id, out_order_id' });
  const merchant = input('merchant');
  const status = input('status', { placeholder: 'TRADE_SUCCESS' });
  const alert = message('alert');
  const note = message('status');
  const results = h('div', { id: 'record-results' });
  const detail = h('div', { id: 'record-detail' });
  const form = h('form', { class: 'card controls', role: 'search' },
    field('Kind', kind), field('Key', key), field('Merchant', merchant), field('Status', status),
    h('button', { type: 'submit', text: 'Search' }));
  main.append(form, alert, note, results, detail);

  async function search() {
    alert.show('');
    clear(results);
    const k = kind.value;
    const filters = { merchant: merchant.value.trim(), status: status.value.trim() };
    const wanted = key.value.trim();
    const found = new Map();
    try {
      if (wanted) {
        // Any key: the primary key, then each secondary key the kind has.
        const byPrimary = await api('GET', recordPath(k, wanted)).catch(e => { if (e.status === 404 || e.status === 400) return null; throw e; });
        if (byPrimary) found.set(byPrimary[PRIMARY[k]], byPrimary);
        for (const name of SECONDARY[k]) {
          const page = await api('GET', `/v1/records/${k}${query({ ...filters, [name]: wanted, limit: '50' })}`);
          page.records.forEach(r => found.set(r[PRIMARY[k]], r));
        }
        for (const [id, r] of found) {
          if ((filters.merchant && r[MERCHANT[k]] !== filters.merchant) || (filters.status && r[STATUS[k]] !== filters.status)) found.delete(id);
        }
      } else {
        const page = await api('GET', `/v1/records/${k}${query({ ...filters, limit: '100' })}`);
        page.records.forEach(r => found.set(r[PRIMARY[k]], r));
        if (page.next_cursor) note.show('The first 100 records; narrow the search to see others.');
      }
    } catch (e) {
      alert.show(e.message);
      return;
    }
    if (!found.size) {
      results.append(h('p', { role: 'status', class: 'msg', text: `No ${k} record matches.` }));
      return;
    }
    results.append(section(`${found.size} ${k} record${found.size > 1 ? 's' : ''}`,
      h('div', { class: 'table-wrap' }, h('table', { id: 'records-table' },
        h('thead', {}, h('tr', {}, [PRIMARY[k], 'Merchant', 'Status', 'Modified'].map(t => h('th', { text: t })))),
        h('tbody', {}, [...found.values()].map(r => h('tr', { 'data-record-key': r[PRIMARY[k]] },
          h('td', {}, h('a', { href: `#/records/${k}/${encodeURIComponent(r[PRIMARY[k]])}`, text: r[PRIMARY[k]] })),
          h('td', { text: r[MERCHANT[k]] ?? '' }),
          h('td', { text: r[STATUS[k]] ?? '' }),
          h('td', { text: r.gmt_modified ?? '' }))))))));
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
  if (keyParts.length) {
    await showRecord(detail, kindArg, keyParts.join('/'));
  } else if (KINDS.includes(kindArg)) {
    await search();
  }
}

async function showRecord(detail, kind, key) {
  const [doc, answers, templates] = await Promise.all([
    api('GET', recordPath(kind, key)),
    api('GET', `${recordPath(kind, key)}/answers`),
    api('GET', '/v1/lifecycle-templates'),
  ]);
  clear(detail);
  const views = [['JSON', JSON.stringify(doc, null, 2)],
    ...Object.entries(answers).map(([m, a]) => [`As ${m} answers`, JSON.stringify(a, null, 2)])];
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const panel = h('div', { role: 'tabpanel' });
  const choose = (i) => {
    [...tabs.children].forEach((b, j) => b.setAttribute('aria-selected', String(i === j)));
    clear(panel).append(h('h3', { text: views[i][0] }), pre(views[i][1]));
  };
  views.forEach(([title], i) => tabs.append(h('button', { type: 'button', role: 'tab', text: title, onclick: () => choose(i) })));
  choose(0);
  detail.append(section(`${kind} ${key}`, tabs, panel,
    h('p', { class: 'muted', text: 'Answers are the business part, for the record\'s own merchant, with every optional block; reading them does not move a lifecycle.' })));

  // Edit with a merge patch.
  const alert = message('alert');
  const status = message('status');
  const patch = h('textarea', { name: 'patch', rows: '5', spellcheck: 'false', value: `{"${STATUS[kind]}": ${JSON.stringify(doc[STATUS[kind]] ?? '')}}` });
  const patchForm = h('form', { id: 'patch-form' },
    field('Merge patch', patch, 'RFC 7396: objects merge, null removes a field; "$now" is the current business time.'),
    h('button', { type: 'submit', text: 'Apply patch' }));
  patchForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.show('');
    try {
      await api('PATCH', recordPath(kind, key), patch.value, 'application/merge-patch+json');
      await showRecord(detail, kind, key);
      detail.append(h('p', { role: 'status', class: 'msg', text: 'Patch applied.' }));
    } catch (e) {
      alert.show(e.message);
    }
  });

  // A new record from this one as the template.
  const template = { ...doc };
  delete template.lifecycle;
  const draft = h('textarea', { name: 'new_record', rows: '10', spellcheck: 'false' });
  const newForm = h('form', { id: 'new-form', hidden: true },
    field('New record', draft, `Change ${PRIMARY[kind]} (and the other keys) before creating.`),
    h('button', { type: 'submit', text: 'Create record' }));
  const newButton = h('button', { type: 'button', class: 'secondary', text: 'New from template', onclick: () => {
    draft.value = JSON.stringify(template, null, 2);
    newForm.hidden = false;
    draft.focus();
  } });
  newForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.show('');
    let record;
    try { record = JSON.parse(draft.value); } catch (e) { alert.show(`Not JSON: ${e.message}`); return; }
    const newKey = record[PRIMARY[kind]];
    if (!newKey) { alert.show(`The record needs a ${PRIMARY[kind]}.`); return; }
    try {
      const r = await api('PUT', recordPath(kind, newKey), record);
      status.show(`${kind} ${newKey}: ${r.outcome}.`);
      location.hash = `#/records/${kind}/${encodeURIComponent(newKey)}`;
    } catch (e) {
      alert.show(e.message);
    }
  });

  // Lifecycles.
  const fitting = templates.templates.filter(t => t.kind === kind);
  const lifecycle = select('template', fitting.map(t => [t.name, t.name]));
  const lifecycleForm = h('form', { id: 'lifecycle-form', class: 'controls' },
    field('Lifecycle template', lifecycle), h('button', { type: 'submit', text: 'Attach' }));
  const describe = h('p', { class: 'muted' });
  const explain = () => { describe.textContent = fitting.find(t => t.name === lifecycle.value)?.description || ''; };
  lifecycle.addEventListener('change', explain);
  explain();
  lifecycleForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.show('');
    try {
      await api('POST', `${recordPath(kind, key)}/lifecycle`, { template: lifecycle.value });
      await showRecord(detail, kind, key);
      detail.append(h('p', { role: 'status', class: 'msg', text: `Lifecycle ${lifecycle.value} attached.` }));
    } catch (e) {
      alert.show(e.message);
    }
  });

  detail.append(
    section('Edit', patchForm),
    section('New from template', newButton, newForm),
    section('Attach lifecycle', fitting.length ? lifecycleForm : h('p', { class: 'muted', text: `No lifecycle template for ${kind}.` }), describe),
    alert, status);
  detail.scrollIntoView({ block: 'start' });
}
