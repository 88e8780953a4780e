// Clock: the sandbox clock's mode and time; set it, advance it.

import { api } from './api.js';
import { h, field, input, select, section, message } from './dom.js';

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

// `90`, `90s`, `30m`, `1h`, `2d`, `-1h`, `1d12h` → seconds; null when unreadable.
export function parseDuration(text) {
  const t = text.trim().replace(/\s+/g, '');
  if (/^[+-]?\d+$/.test(t)) return Number(t);
  const m = t.match(/^([+-]?)((?:\d+[smhd])+)$/);
  if (!m) return null;
  let secs = 0;
  for (const [, n, u] of m[2].matchAll(/(\d+)([smhd])/g)) secs += Number(n) * UNITS[u];
  return m[1] === '-' ? -secs : secs;
}

export async function render(main) {
  const alert = message('alert');
  const status = message('status');
  const now = h('output', { id: 'clock-now', 'aria-live': 'polite' });
  const mode = h('span', { id: 'clock-mode' });
  const real = h('span', { class: 'muted' });
  const modeSelect = select('mode', [['real', 'real'], ['offset', 'offset'], ['frozen', 'frozen']]);
  const at = input('at', { placeholder: '2030-01-01T00:00:00Z' });
  const offset = input('offset_secs', { inputmode: 'numeric', placeholder: '3600' });
  const advance = input('advance', { placeholder: '1h', value: '1h' });
  const atField = field('Time', at, 'RFC 3339; used when the mode is frozen');
  const offsetField = field('Offset', offset, 'Seconds, or 1h, 2d …; used when the mode is offset');

  function show(c) {
    now.value = c.now;
    now.textContent = c.now;
    mode.textContent = c.mode === 'offset' ? `offset (${c.offset_secs} s)` : c.mode;
    real.textContent = `real time ${c.real_now}`;
    modeSelect.value = c.mode;
    if (c.mode === 'frozen') at.value = c.at || c.now;
    if (c.mode === 'offset') offset.value = String(c.offset_secs);
  }

  async function send(method, path, body, done) {
    alert.show('');
    try {
      show(await api(method, path, body));
      status.show(done);
    } catch (e) {
      alert.show(e.message);
    }
  }

  const setForm = h('form', { class: 'card controls', id: 'clock-set' },
    field('Mode', modeSelect), atField, offsetField, h('button', { type: 'submit', text: 'Set clock' }));
  setForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { mode: modeSelect.value };
    if (body.mode === 'frozen') body.at = at.value.trim();
    if (body.mode === 'offset') {
      const secs = parseDuration(offset.value);
      if (secs === null) { alert.show('Offset: give seconds, or a duration such as 1h, 30m, 2d.'); return; }
      body.offset_secs = secs;
    }
    send('PUT', '/v1/clock', body, 'Clock set.');
  });
  const advanceForm = h('form', { class: 'card controls', id: 'clock-advance' },
    field('Advance by', advance, 'Seconds, or a duration: 90s, 30m, 1h, 2d, 1d12h (negative goes back)'),
    h('button', { type: 'submit', text: 'Advance' }));
  advanceForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const secs = parseDuration(advance.value);
    if (secs === null) { alert.show('Advance by: give seconds, or a duration such as 1h, 30m, 2d.'); return; }
    send('POST', '/v1/clock/advance', { secs }, `Advanced by ${secs} s.`);
  });

  main.append(
    section('Sandbox time',
      h('dl', { class: 'facts' },
        h('dt', { text: 'Now' }), h('dd', {}, now),
        h('dt', { text: 'Mode' }), h('dd', {}, mode),
        h('dt', { text: 'Real' }), h('dd', {}, real))),
    alert, status, setForm, advanceForm,
    h('p', { class: 'muted', text: 'The clock is the business time methods see (lifecycles, short trade numbers, pending bills). Request timestamps are checked against real time unless request_timestamps_follow_clock is set.' }));
  show(await api('GET', '/v1/clock'));
}
