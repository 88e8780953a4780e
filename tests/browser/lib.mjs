// Helpers of the console's browser suite: the browser itself, a record of every request the pages
// make, and ways to reach controls the way a user does (by their label, by a button's text, by a
// section's heading) rather than by the console's internal ids.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const ADMIN = must('TRADEQ_ADMIN_URL');
export const GATEWAY = must('TRADEQ_GATEWAY');
export const creds = JSON.parse(fs.readFileSync(must('TRADEQ_CREDENTIALS'), 'utf8'));
export const TOKEN = creds.admin_token;
export const CONSOLE = `${ADMIN}/console/`;
const SHOTS = process.env.TRADEQ_SCREENSHOTS;

// Every wait is bounded: a console that never shows what a step waits for fails in seconds.
export const WAIT_MS = 10_000;

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the Rust test console_browser sets it)`);
  return v;
}

/** Headless Chromium: the system's, or TRADEQ_CHROMIUM. */
export async function launch() {
  const browser = await puppeteer.launch({
    executablePath: process.env.TRADEQ_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: [ '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--lang=en-US' ],
  });
  return browser;
}

/**
 * A page at `viewport` whose requests (URL, method, body), responses and script problems are kept
 * in `log`: the token must never be in a URL, the private key never in a request, and no script
 * error or Content-Security-Policy refusal may happen.
 */
export async function openPage(browser, log, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  page.setDefaultTimeout(WAIT_MS);
  page.on('request', r => log.requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '', headers: r.headers() }));
  page.on('response', r => log.responses.push({ url: r.url(), status: r.status(), headers: r.headers() }));
  page.on('pageerror', e => log.problems.push(`script error: ${e.message}`));
  page.on('console', m => {
    const text = m.text();
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(text)) log.problems.push(`CSP: ${text}`);
  });
  // A confirmation ("Clear all rules?") is answered yes, as a user who clicked meant it.
  page.on('dialog', d => d.accept());
  return page;
}

export function newLog() {
  return { requests: [], responses: [], problems: [] };
}

/** Opens the console and signs in with `token`; waits for the navigation. */
export async function signIn(page, token = TOKEN) {
  await page.goto(CONSOLE, { waitUntil: 'domcontentloaded' });
  const field = await page.waitForSelector('input#token[name="token"][type="password"]', { visible: true });
  await field.click({ clickCount: 3 });
  await field.type(token);
  await clickButton(page, 'Sign in');
  await page.waitForSelector('nav a', { visible: true });
}

/**
 * Waits until the page has stopped scrolling (the console scrolls smoothly to new results): a
 * click aimed while the page still moves lands beside its target.
 */
export async function settle(page) {
  await page.evaluate(() => new Promise(resolve => {
    let last = -1;
    let same = 0;
    const tick = () => {
      same = window.scrollY === last ? same + 1 : 0;
      last = window.scrollY;
      if (same >= 3) resolve(); else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    setTimeout(resolve, 3000);
  }));
}

/** Clicks the visible button (or submit input) whose text is exactly `name`. */
export async function clickButton(page, name) {
  const handle = await page.waitForFunction(want => {
    const norm = s => (s ?? '').replace(/\s+/g, ' ').trim();
    const all = [ ...document.querySelectorAll('button, input[type=submit], input[type=button], [role=button], [role=tab]') ];
    return all.find(b => norm(b.textContent || b.value) === want && b.checkVisibility()) ?? null;
  }, {}, name);
  await settle(page);
  await handle.asElement().click();
}

/** Clicks the nav link `name` and waits for the page whose `<h1>` reads the same. */
export async function goTo(page, name) {
  const link = await page.waitForFunction(want => [ ...document.querySelectorAll('nav a') ]
    .find(a => a.textContent.trim() === want) ?? null, {}, name);
  await settle(page);
  await link.asElement().click();
  await waitForHeading(page, name);
}

export async function waitForHeading(page, name) {
  await page.waitForFunction(want => {
    const h1 = document.querySelector('main h1');
    return h1 && h1.textContent.trim() === want && h1.checkVisibility();
  }, {}, name);
}

// Runs in the page: the visible control whose <label> reads `label` (exactly, else as its first
// words), inside <main>. The label's own text leaves out the text of the control it wraps (a
// select's options).
const FIND_CONTROL = `(want) => {
  const norm = s => (s ?? '').replace(/\\s+/g, ' ').trim().toLowerCase();
  const own = l => { const c = l.cloneNode(true); c.querySelectorAll('input, select, textarea, option').forEach(e => e.remove()); return norm(c.textContent); };
  const w = norm(want);
  const labels = [ ...document.querySelectorAll('main label') ].filter(l => l.control && l.control.checkVisibility());
  const exact = labels.find(l => own(l) === w);
  const prefix = labels.find(l => own(l).startsWith(w) && !/[a-z0-9_]/.test(own(l).charAt(w.length)));
  return (exact ?? prefix)?.control ?? null;
}`;

/** The control labelled `label` (waits for it). */
export async function control(page, label) {
  const handle = await page.waitForFunction(`(${FIND_CONTROL})(${JSON.stringify(label)})`);
  return handle.asElement();
}

/** The control labelled `label`, or null at once when there is none. */
export async function controlNow(page, label) {
  const handle = await page.evaluateHandle(`(${FIND_CONTROL})(${JSON.stringify(label)})`);
  return handle.asElement();
}

/**
 * Sets the control labelled `label` as a user would. A select gets the first enabled option that
 * `choose` accepts, waiting for it to be offered: a string is the option's value or text (else an
 * option containing it); a RegExp, or `{all, any, none}` lists of them, test "value text". An
 * input or textarea is cleared and typed into.
 */
export async function fill(page, label, choose) {
  const el = await control(page, label);
  const tag = await el.evaluate(e => e.tagName);
  if (tag === 'SELECT') {
    const src = rs => (rs ?? []).map(r => [ r.source, r.flags ]);
    const m = typeof choose === 'string' ? { exact: choose }
      : choose instanceof RegExp ? { all: src([ choose ]), any: [], none: [] }
        : { all: src(choose.all), any: src(choose.any), none: src(choose.none) };
    const picked = await page.waitForFunction((sel, m) => {
      const opts = [ ...sel.options ].filter(o => !o.disabled);
      const text = o => `${o.value} ${o.textContent.trim()}`;
      const re = ([ s, f ]) => new RegExp(s, f);
      let o;
      if ('exact' in m) {
        o = opts.find(o => o.value === m.exact || o.textContent.trim() === m.exact)
          ?? (m.exact ? opts.find(o => text(o).includes(m.exact)) : undefined);
      } else {
        o = opts.find(o => m.all.every(r => re(r).test(text(o)))
          && (m.any.length === 0 || m.any.some(r => re(r).test(text(o))))
          && !m.none.some(r => re(r).test(text(o))));
      }
      return o ? { value: o.value } : null;
    }, {}, el, m);
    await el.select((await picked.jsonValue()).value);
  } else {
    await el.click({ clickCount: 3 });
    await el.evaluate(e => { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); });
    if (choose !== '') await el.type(String(choose));
  }
  return el;
}

/** A RegExp source matching `s` literally. */
export function esc(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Pastes `text` into the control labelled `label` (one insertion, like a paste). */
export async function paste(page, label, text) {
  const el = await control(page, label);
  await el.evaluate(e => { e.focus(); e.select(); });
  await page.keyboard.sendCharacter(text);
  return el;
}

// Runs in the page: the text of the part of <main> under a heading that reads `want`: its
// <section>/<details>/<article> when the heading opens one, else the siblings up to the next
// heading of the same or a higher level.
const SECTION = `(want, html) => {
  const norm = s => (s ?? '').replace(/\\s+/g, ' ').trim();
  const heads = [ ...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6, main summary, main legend') ]
    .filter(h => norm(h.textContent) === want && h.checkVisibility());
  const h = heads[0];
  if (!h) return null;
  const box = h.closest('section, details, article, fieldset');
  const first = box?.querySelector('h1, h2, h3, h4, h5, h6, summary, legend');
  if (box && first === h) return html ? box.innerHTML : box.innerText;
  const level = /^H\\d$/.test(h.tagName) ? Number(h.tagName[1]) : 6;
  const parts = [];
  for (let n = h.nextElementSibling; n; n = n.nextElementSibling) {
    if (/^H\\d$/.test(n.tagName) && Number(n.tagName[1]) <= level) break;
    parts.push(html ? n.outerHTML : n.innerText);
  }
  return parts.join('\\n');
}`;

/** The text under the heading `heading`, or null when the page has no such heading. */
export async function sectionText(page, heading) {
  return await page.evaluate(`(${SECTION})(${JSON.stringify(heading)}, false)`);
}

/**
 * Waits until the text under `heading` satisfies `pattern` (a RegExp), and differs from `not`
 * when given (an earlier result still on screen); returns that text.
 */
export async function waitForSection(page, heading, pattern, not = null) {
  const handle = await page.waitForFunction(`(() => {
    const t = (${SECTION})(${JSON.stringify(heading)}, false);
    return t !== null && t !== ${JSON.stringify(not)} && ${pattern.toString()}.test(t) ? t : null;
  })()`);
  return await handle.jsonValue();
}

/** The highlighted pieces (`mark`, `del`, `ins`) under the heading `heading`. */
export async function highlights(page, heading) {
  return await page.evaluate(`(() => {
    const html = (${SECTION})(${JSON.stringify(heading)}, true);
    if (html === null) return null;
    const box = document.createElement('div');
    box.innerHTML = html;
    return [ ...box.querySelectorAll('mark, del, ins') ].map(e => e.textContent);
  })()`);
}

/**
 * Form controls (input, select, textarea) of the page, shown or not (the explorer shows TOP's
 * only for TOP methods), that have no <label> with text.
 */
export async function unlabelled(page) {
  return await page.evaluate(() => [ ...document.querySelectorAll('input, select, textarea') ]
    .filter(e => e.type !== 'hidden')
    .filter(e => ![ ...(e.labels ?? []) ].some(l => l.textContent.trim() !== ''))
    .map(e => e.outerHTML.slice(0, 160)));
}

/**
 * How far the page overflows the viewport sideways (0 when it fits), and the innermost elements
 * that stick out (to name in a failure).
 */
export async function overflow(page) {
  return await page.evaluate(() => {
    const by = document.scrollingElement.scrollWidth - window.innerWidth;
    const out = [ ...document.querySelectorAll('body *') ]
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .filter(e => ![ ...e.children ].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5));
    const name = e => `${e.tagName.toLowerCase()}${e.className ? `.${String(e.className).trim().replace(/\s+/g, '.')}` : ''}`;
    return { by, culprits: out.slice(0, 4).map(e => `${name(e)} "${e.textContent.trim().slice(0, 48)}"`) };
  });
}

/**
 * Saves a screenshot `<name>.png` of the viewport into TRADEQ_SCREENSHOTS (when set), scrolled so
 * that the heading `from` (when given) is at the top.
 */
export async function shot(page, name, from = null) {
  if (!SHOTS) return;
  await settle(page);
  if (from) {
    await page.evaluate(want => {
      const h = [ ...document.querySelectorAll('main h1, main h2, main h3, main h4') ]
        .find(e => e.textContent.replace(/\s+/g, ' ').trim() === want);
      window.scrollTo({ top: h ? h.getBoundingClientRect().top + window.scrollY - 12 : 0, behavior: 'instant' });
    }, from);
  }
  await settle(page);
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** A GET of the admin API with the token, as JSON. */
export async function admin(pathAndQuery) {
  const res = await fetch(`${ADMIN}${pathAndQuery}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (res.status !== 200) throw new Error(`admin API ${res.status} for ${pathAndQuery}`);
  return await res.json();
}

/** The first `yyyy-MM-dd HH:mm[:ss]` in `text`, as epoch milliseconds (read as UTC), or NaN. */
export function parseTime(text) {
  const m = /(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)/.exec(text ?? '');
  return m ? Date.parse(`${m[1]}T${m[2].length === 5 ? `${m[2]}:00` : m[2]}Z`) : NaN;
}
