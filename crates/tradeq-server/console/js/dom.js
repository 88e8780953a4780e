// Building the DOM without innerHTML: every value from the server becomes text, never markup.

let nextId = 0;

// h('div', {class: 'x', onclick: f}, child, 'text', [more]) → an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'text') {
      el.textContent = value;
    } else if (name === 'value') {
      el.value = value;
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// A labelled control: <div class="field"><label for=id>text</label><control id=id></div>.
export function field(text, control, hint) {
  if (!control.id) control.id = `f${++nextId}`;
  return h('div', { class: 'field' },
    h('label', { for: control.id, text }),
    control,
    hint ? h('small', { class: 'hint', text: hint }) : null);
}

export function input(name, attrs = {}) {
  return h('input', { name, type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

export function select(name, options, selected) {
  return h('select', { name },
    options.map(o => {
      const [value, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value, selected: value === selected }, label);
    }));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', { text: title }), ...children);
}

export function pre(text, cls) {
  return h('pre', { class: cls || 'code', tabindex: '0' }, text);
}

// A status or error line; `role` is 'status' or 'alert'.
export function message(role) {
  const el = h('p', { role, class: role === 'alert' ? 'msg error' : 'msg' });
  el.hidden = true;
  el.show = (text) => { el.textContent = text; el.hidden = !text; };
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// JSON or XML answer text, indented for reading; anything else as it is.
export function pretty(text) {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    try { return JSON.stringify(JSON.parse(t), null, 2); } catch { return text; }
  }
  if (t.startsWith('<')) return prettyXml(t);
  return text;
}

function prettyXml(xml) {
  const tokens = xml.match(/<[^>]+>|[^<]+/g) || [];
  const out = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const pad = '  '.repeat(depth);
    if (t.startsWith('</')) {
      depth = Math.max(0, depth - 1);
      out.push('  '.repeat(depth) + t);
    } else if (t.startsWith('<?') || t.endsWith('/>')) {
      out.push(pad + t);
    } else if (t.startsWith('<')) {
      // <a>text</a> stays on one line.
      if (tokens[i + 1] !== undefined && !tokens[i + 1].startsWith('<')
          && tokens[i + 2] !== undefined && tokens[i + 2].startsWith('</')) {
        out.push(pad + t + tokens[i + 1] + tokens[i + 2]);
        i += 2;
      } else {
        out.push(pad + t);
        depth++;
      }
    } else if (t.trim()) {
      out.push(pad + t.trim());
    }
  }
  return out.join('\n');
}
