// A character diff of two strings (longest common subsequence after trimming the common prefix
// and suffix), and its side-by-side view: <del> marks what only the server's string has, <ins>
// what only the pasted one has.

import { h } from './dom.js';

const MAX_CELLS = 4_000_000;

// [{op: 'same' | 'del' | 'ins', text}], in order.
export function diff(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start
    && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const x = a.slice(start, a.length - end);
  const y = b.slice(start, b.length - end);
  const ops = [];
  const push = (op, text) => {
    if (!text) return;
    const last = ops[ops.length - 1];
    if (last && last.op === op) last.text += text;
    else ops.push({ op, text });
  };
  push('same', a.slice(0, start));
  if ((x.length + 1) * (y.length + 1) > MAX_CELLS) {
    push('del', x);
    push('ins', y);
  } else {
    // lcs[i][j]: the LCS length of x[i..] and y[j..].
    const w = y.length + 1;
    const lcs = new Uint16Array((x.length + 1) * w);
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = y.length - 1; j >= 0; j--) {
        lcs[i * w + j] = x[i] === y[j] ? lcs[(i + 1) * w + j + 1] + 1
          : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0, j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) { push('same', x[i]); i++; j++; }
      else if (j < y.length && (i === x.length || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j])) { push('ins', y[j]); j++; }
      else { push('del', x[i]); i++; }
    }
  }
  push('same', a.slice(a.length - end));
  return ops;
}

// Visible stand-ins for characters a reader cannot see, so a stray newline or space shows.
function visible(text) {
  return text.replace(/\n/g, '↵\n').replace(/\r/g, '␍').replace(/\t/g, '⇥').replace(/ /g, '·');
}

function side(ops, keep, tag) {
  return h('pre', { class: 'code', tabindex: '0' }, ops.filter(o => o.op === 'same' || o.op === keep)
    .map(o => (o.op === 'same' ? o.text : h(tag, {}, visible(o.text)))));
}

// For `name=value&…` strings (Alipay v2), the parameters that differ.
function paramSummary(a, b) {
  const parse = (s) => new Map(s.split('&').map(p => {
    const i = p.indexOf('=');
    return i < 0 ? [p, null] : [p.slice(0, i), p.slice(i + 1)];
  }));
  const pa = parse(a), pb = parse(b);
  const notes = [];
  for (const [k, v] of pa) {
    if (!pb.has(k)) notes.push(`${k}: signed by the server, missing from yours`);
    else if (pb.get(k) !== v) notes.push(`${k}: the server has ${JSON.stringify(v)}, yours ${JSON.stringify(pb.get(k))}`);
  }
  for (const k of pb.keys()) if (!pa.has(k)) notes.push(`${k}: in yours, not a parameter the server received`);
  return notes;
}

// The "Difference" view of the server's string and the user's.
export function diffView(server, client, frontDoor) {
  const ops = diff(server, client);
  const changed = ops.some(o => o.op !== 'same');
  let first = 0;
  for (const o of ops) { if (o.op !== 'same') break; first += o.text.length; }
  const summary = !changed
    ? h('p', { class: 'ok', role: 'status', text: 'The strings are identical: the difference is in the key, not the string (sign with the private key that pairs with the registered public key).' })
    : h('p', { role: 'status', text: `They first differ at character ${first + 1}.` });
  const notes = changed && frontDoor === 'alipay_v2' ? paramSummary(server, client) : [];
  return h('div', {},
    summary,
    notes.length ? h('ul', {}, notes.map(n => h('li', { text: n }))) : null,
    h('div', { class: 'diff' },
      h('div', {}, h('h3', { text: 'The server\'s string' }), side(ops, 'del', 'del')),
      h('div', {}, h('h3', { text: 'Your client\'s string' }), side(ops, 'ins', 'ins'))));
}
