// Faults: the fault rules with their hit counts; add, remove, clear.

import { api } from './api.js';
import { h, field, input, select, section, message, clear } from './dom.js';

const ACTIONS = [
  ['error', 'error (an error answer)'], ['delay', 'delay'], ['timeout', 'timeout (then reset)'],
  ['reset', 'reset (close the connection)'], ['http_status', 'HTTP status'],
  ['bad_signature', 'bad signature (Alipay)'], ['truncate', 'truncate the answer'],
];

export async function render(main) {
  const alert = message('alert');
  const status = message('status');
  const table = h('div', { class: 'table-wrap' });
  const c = {
    front_door: select('front_door', [['', 'any'], ['alipay_v2', 'Alipay v2'], ['alipay_v3', 'Alipay v3'], ['top', 'TOP']]),
    method: input('method', { placeholder: 'alipay.trade.query' }),
    app: input('app'), merchant: input('merchant'), key: input('key'),
    action: select('action', ACTIONS, 'error'),
    code: input('code', { placeholder: 'ACQ.SYSTEM_ERROR' }),
    ms: input('ms', { inputmode: 'numeric', placeholder: '2000' }),
    status: input('status', { inputmode: 'numeric', placeholder: '502' }),
    bytes: input('bytes', { inputmode: 'numeric', placeholder: '10' }),
    times: input('times', { inputmode: 'numeric', placeholder: 'no limit' }),
    after: input('after', { inputmode: 'numeric', placeholder: '0' }),
    probability: input('probability', { inputmode: 'decimal', placeholder: '1' }),
  };
  const codeField = field('Error code', c.code, 'With its sub code, as the front door answers it: ACQ.SYSTEM_ERROR, isp.SYSTEM_ERROR, 40002 …');
  const msField = field('Milliseconds', c.ms);
  const statusField = field('HTTP status', c.status);
  const bytesField = field('Bytes kept', c.bytes);
  const showFor = () => {
    const a = c.action.value;
    codeField.hidden = a !== 'error';
    msField.hidden = a !== 'delay' && a !== 'timeout';
    statusField.hidden = a !== 'http_status';
    bytesField.hidden = a !== 'truncate';
  };
  c.action.addEventListener('change', showFor);
  showFor();

  const form = h('form', { class: 'card', id: 'fault-form' },
    h('h2', { text: 'Add a rule' }),
    h('div', { class: 'controls' }, field('Front door', c.front_door), field('Method', c.method),
      field('App', c.app), field('Merchant', c.merchant), field('Key', c.key, 'trade_no, out_trade_no, order_id …')),
    h('div', { class: 'controls' }, field('Action', c.action), codeField, msField, statusField, bytesField),
    h('div', { class: 'controls' }, field('Times', c.times), field('After', c.after), field('Probability', c.probability)),
    h('button', { type: 'submit', text: 'Add fault' }), alert, status);

  async function refresh() {
    const { faults } = await api('GET', '/v1/faults');
    clear(table);
    if (!faults.length) { table.append(h('p', { class: 'muted', id: 'no-faults', text: 'No fault rules: every request is served normally.' })); return; }
    table.append(h('table', { id: 'faults-table' },
      h('thead', {}, h('tr', {}, ['Match', 'Action', 'Times', 'Matched', 'Hits', ''].map(t => h('th', { text: t })))),
      h('tbody', {}, faults.map(f => h('tr', { 'data-fault-id': f.id },
        h('td', { text: Object.entries(f.match).map(([k, v]) => `${k}=${v}`).join(', ') || 'every request' }),
        h('td', { text: describe(f.action) }),
        h('td', { class: 'num', text: f.times ?? '∞' }),
        h('td', { class: 'num', text: f.matched }),
        h('td', { class: 'num hits', text: f.hits }),
        h('td', {}, h('button', { type: 'button', class: 'danger', text: 'Remove', 'aria-label': `Remove rule ${f.id}`, onclick: async () => {
          try {
            await api('DELETE', `/v1/faults/${encodeURIComponent(f.id)}`);
            status.show(`Rule ${f.id} removed.`);
          } catch (e) {
            alert.show(e.message);
          }
          refresh().catch(e => alert.show(e.message));
        } })))))));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.show('');
    const match = {};
    for (const k of ['front_door', 'method', 'app', 'merchant', 'key']) if (c[k].value.trim()) match[k] = c[k].value.trim();
    const action = { type: c.action.value };
    const num = (el) => Number(el.value.trim());
    if (action.type === 'error') action.code = c.code.value.trim();
    if (action.type === 'delay' || action.type === 'timeout') action.ms = num(c.ms);
    if (action.type === 'http_status') action.status = num(c.status);
    if (action.type === 'truncate') action.bytes = num(c.bytes);
    const rule = { match, action };
    if (c.times.value.trim()) rule.times = num(c.times);
    if (c.after.value.trim()) rule.after = num(c.after);
    if (c.probability.value.trim()) rule.probability = num(c.probability);
    try {
      const made = await api('POST', '/v1/faults', rule);
      status.show(`Rule ${made.id} added.`);
      await refresh();
    } catch (e) {
      alert.show(e.message);
    }
  });

  main.append(form,
    section('Rules, tried oldest first',
      h('div', { class: 'controls' },
        h('button', { type: 'button', class: 'secondary', text: 'Refresh', onclick: () => refresh().catch(e => alert.show(e.message)) }),
        h('button', { type: 'button', class: 'danger', text: 'Clear all', onclick: async () => {
          try {
            const { deleted } = await api('DELETE', '/v1/faults');
            status.show(`${deleted} rule(s) removed.`);
          } catch (e) {
            alert.show(e.message);
          }
          refresh().catch(e => alert.show(e.message));
        } })),
      table));
  await refresh();
}

function describe(a) {
  switch (a.type) {
    case 'error': return `error ${a.code}`;
    case 'delay': return a.ms !== undefined && a.ms !== null ? `delay ${a.ms} ms` : `delay ${a.min_ms}–${a.max_ms} ms`;
    case 'timeout': return `timeout after ${a.ms} ms`;
    case 'http_status': return `HTTP ${a.status}`;
    case 'truncate': return `truncate to ${a.bytes} bytes`;
    default: return a.type.replace('_', ' ');
  }
}
