// The web console in headless Chromium against a running `tradeq serve --demo`, as a user drives
// it: sign in, find a record, watch calls of the official Node `alipay-sdk` arrive in the live
// journal, read a failed call's diagnosis and compare a client's string, query each of the five
// methods from the explorer, add a fault, advance the clock. Every request the pages make is
// recorded: the admin token never travels in a URL and the private key never leaves the browser.
//
// Run by `cargo test --test console_browser`, which starts the server and sets the environment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import {
  ADMIN, GATEWAY, CONSOLE, TOKEN, creds, launch, openPage, newLog, signIn, clickButton, goTo,
  waitForHeading, control, controlNow, fill, paste, sectionText, waitForSection, highlights,
  unlabelled, overflow, shot, admin, parseTime, esc, settle,
} from './lib.mjs';

// The SDK stamps the host's wall-clock time, which the gateway reads as Beijing time.
process.env.TZ = 'Asia/Shanghai';

const PAGES = [ 'Overview', 'Records', 'Journal', 'Explorer', 'Faults', 'Clock' ];
const ROUTES = { Overview: 'overview', Records: 'records', Journal: 'journal', Explorer: 'explorer', Faults: 'faults', Clock: 'clock' };
const SEED_TRADE = '2013112011001004330000121536';
const SHARED_OUT_TRADE_NO = '6823789339978248';
const WAIT_TRADE = '2024010122001446880500000002';
const WAIT_OUT_TRADE_NO = 'DEMO-WAIT-1';

const log = newLog();
let browser;
let page;
let failedCall; // the journal id of the call signed with the wrong key
let signedIn = false; // the later tests need the session the sign-in test opened

/** A test that drives the signed-in page: fails at once when signing in failed. */
function pageTest(name, fn) {
  test(name, { timeout: 45_000 }, async t => {
    assert.ok(signedIn, 'not signed in (the sign-in test failed)');
    try {
      await fn(t);
    } catch (e) {
      // What the page showed when the step failed, beside the other screenshots.
      await shot(page, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => {});
      throw e;
    }
  });
}

// A key pair no app is registered with: what a client holding the wrong key signs with.
const WRONG_KEY = crypto.generateKeyPairSync('rsa', {
  modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
}).privateKey;

function sdk(privateKey = creds.alipay.app_private_key_pkcs1_pem) {
  return new AlipaySdk({
    appId: creds.alipay.app_id,
    privateKey,
    alipayPublicKey: creds.alipay.alipay_public_key_pem,
    gateway: `${GATEWAY}/gateway.do`,
    endpoint: GATEWAY,
    camelcase: false,
  });
}

async function mainText(p = page) {
  return await p.evaluate(() => document.querySelector('main')?.innerText ?? '');
}

before(async () => {
  browser = await launch();
  page = await openPage(browser, log);
});

after(async () => {
  await browser?.close();
});

test('the console is served from the admin listener with a strict policy and no inline code', async () => {
  const res = await fetch(CONSOLE);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const part of [ "default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'" ]) {
    assert.ok(csp.includes(part), `CSP lacks ${part}: ${csp}`);
  }
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), csp);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.match(res.headers.get('cache-control') ?? '', /no-store/);
  const html = await res.text();
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), 'an inline <script> in index.html');
  assert.ok(!/\sstyle\s*=/i.test(html), 'an inline style attribute in index.html');
  assert.ok(!/\son[a-z]+\s*=/i.test(html), 'an inline event handler in index.html');
  // The assets carry the same headers.
  const assets = [ ...html.matchAll(/(?:src|href)="([^"#]+\.(?:js|css))"/g) ].map(m => new URL(m[1], CONSOLE).href);
  assert.ok(assets.length > 0, 'index.html loads no script or style sheet');
  for (const url of assets) {
    const a = await fetch(url);
    assert.equal(a.status, 200, url);
    assert.equal(a.headers.get('x-content-type-options'), 'nosniff', url);
    assert.ok((a.headers.get('content-security-policy') ?? '').includes("script-src 'self'"), url);
  }
});

test('an empty token and a wrong token are refused with a clear message', async () => {
  const p = await openPage(browser, log);
  try {
    await p.goto(CONSOLE, { waitUntil: 'domcontentloaded' });
    const field = await p.waitForSelector('input#token[name="token"][type="password"]', { visible: true });
    const label = await field.evaluate(e => [ ...e.labels ].map(l => l.textContent.trim()).join(' '));
    assert.match(label, /Admin token/);
    await clickButton(p, 'Sign in');
    await p.waitForFunction(() => [ ...document.querySelectorAll('[role=alert]') ]
      .some(a => /enter the admin token/i.test(a.textContent)));
    await field.type('not-the-admin-token');
    await clickButton(p, 'Sign in');
    await p.waitForFunction(() => [ ...document.querySelectorAll('[role=alert]') ]
      .some(a => /wrong admin token/i.test(a.textContent)));
    assert.equal(await p.$('nav a'), null, 'the navigation shows without a valid token');
    const kept = await p.evaluate(() => Object.keys(sessionStorage).some(k => sessionStorage.getItem(k)?.includes('not-the-admin-token')));
    assert.equal(kept, false, 'a refused token was kept');
    assert.deepEqual(await unlabelled(p), []);
    await shot(p, 'console-login-refused');
  } finally {
    await p.close();
  }
});

test('signing in shows the navigation and keeps the token for this tab only; signing out forgets it', async () => {
  await signIn(page);
  const links = await page.$$eval('nav a', as => as.map(a => a.textContent.trim()));
  assert.deepEqual(links, PAGES);
  const stored = await page.evaluate(t => ({
    session: Object.keys(sessionStorage).some(k => sessionStorage.getItem(k) === t),
    local: Object.keys(localStorage).some(k => localStorage.getItem(k)?.includes(t)),
    cookie: document.cookie.includes(t),
  }), TOKEN);
  assert.deepEqual(stored, { session: true, local: false, cookie: false });
  await clickButton(page, 'Sign out');
  await page.waitForSelector('input#token', { visible: true });
  const left = await page.evaluate(t => Object.keys(sessionStorage).some(k => sessionStorage.getItem(k)?.includes(t)), TOKEN);
  assert.equal(left, false, 'the token is still in sessionStorage after signing out');
  await signIn(page);
  signedIn = true;
});

pageTest('every page is reached from the navigation, titled by its link', async () => {
  for (const name of PAGES) {
    await goTo(page, name);
    assert.ok(page.url().endsWith(`#/${ROUTES[name]}`), `${name} is at ${page.url()}`);
  }
});

pageTest('overview: health, store backend, record counts, apps and sessions', async () => {
  await goTo(page, 'Overview');
  const stats = await admin('/v1/stats');
  await page.waitForFunction(b => document.querySelector('main')?.innerText.includes(b), {}, stats.backend);
  const text = await mainText();
  assert.match(text, /\bok\b/i, 'no health status');
  for (const [ kind, n ] of Object.entries(stats.records)) {
    assert.ok(new RegExp(`${kind.replace('-', '.?')}[^\\n]*\\b${n}\\b|\\b${n}\\b[^\\n]*${kind.replace('-', '.?')}`, 'i').test(text),
      `no count ${n} for ${kind} in:\n${text}`);
  }
  for (const app of [ creds.alipay.app_id, creds.top.app_key ]) assert.ok(text.includes(app), `app ${app} missing`);
  assert.match(text, /session/i, 'no sessions');
});

pageTest('records: find a demo trade by out_trade_no, see its JSON and the alipay.trade.query answer', async () => {
  await goTo(page, 'Records');
  await fill(page, 'Kind', /alipay.?trade|^trade\b/i);
  await fill(page, 'Key', WAIT_OUT_TRADE_NO);
  await clickButton(page, 'Search');
  const row = await page.waitForFunction(t => [ ...document.querySelectorAll('main table a') ]
    .find(a => a.closest('tr')?.innerText.includes(t)) ?? null, {}, WAIT_TRADE);
  const rows = await page.$$eval('main table tbody tr', trs => trs.length);
  assert.equal(rows, 1, 'searching one out_trade_no should find exactly one trade');
  await settle(page);
  await row.asElement().click();
  await page.waitForFunction(() => document.querySelector('main')?.innerText.includes('WAIT_BUYER_PAY'));
  const record = await admin(`/v1/records/alipay-trade/${WAIT_TRADE}`);
  assert.ok((await mainText()).includes(WAIT_OUT_TRADE_NO));
  // The method's answer shows yuan strings where the record holds fen.
  const answers = await admin(`/v1/records/alipay-trade/${WAIT_TRADE}/answers`);
  const yuan = answers['alipay.trade.query'].total_amount;
  assert.notEqual(String(record.total_amount), yuan);
  const tab = await page.waitForFunction(() => [ ...document.querySelectorAll('main *') ]
    .find(e => e.children.length === 0 && e.textContent.trim() === 'As alipay.trade.query answers') ?? null);
  const clickable = await tab.asElement().evaluate(e => !!e.closest('button, [role=tab], summary, a'));
  if (clickable) {
    await settle(page);
    await tab.asElement().click();
  }
  await page.waitForFunction(y => document.querySelector('main')?.innerText.includes(`"${y}"`), {}, yuan);
  await shot(page, 'console-records');
});

pageTest('records: a merge patch applied in the console is stored', async () => {
  const subject = `patched in the console ${Date.now()}`;
  await paste(page, 'Merge patch', JSON.stringify({ subject }));
  await clickButton(page, 'Apply patch');
  await page.waitForFunction(s => document.querySelector('main')?.innerText.includes(s), {}, subject);
  const record = await admin(`/v1/records/alipay-trade/${WAIT_TRADE}`);
  assert.equal(record.subject, subject);
});

pageTest('records: a new record made from this one as a template is stored', async () => {
  const newTrade = '2024010122001446880599990001';
  await clickButton(page, 'New from template');
  const draft = await control(page, 'New record');
  await page.waitForFunction(e => e.value.includes('"trade_no"'), {}, draft);
  const template = JSON.parse(await draft.evaluate(e => e.value));
  assert.equal(template.trade_no, WAIT_TRADE);
  const record = { ...template, trade_no: newTrade, out_trade_no: 'CONSOLE-NEW-1' };
  await paste(page, 'New record', JSON.stringify(record, null, 2));
  await clickButton(page, 'Create record');
  await page.waitForFunction(k => location.hash === `#/records/alipay-trade/${k}`, {}, newTrade);
  const stored = await admin(`/v1/records/alipay-trade/${newTrade}`);
  assert.equal(stored.out_trade_no, 'CONSOLE-NEW-1');
  assert.equal(stored.total_amount, template.total_amount);
  assert.equal(stored.seller_id, template.seller_id);
  // The page moved to the new record; the lifecycle step below works on the demo trade again.
  await page.evaluate(k => { location.hash = `#/records/alipay-trade/${k}`; }, WAIT_TRADE);
  await page.waitForFunction(k => document.querySelector('main')?.innerText.includes(k)
    && [ ...document.querySelectorAll('main label') ].some(l => l.textContent.includes('Lifecycle template')), {}, WAIT_TRADE);
});

pageTest('records: a lifecycle template attached in the console starts on the record', async () => {
  const before = await admin(`/v1/records/alipay-trade/${WAIT_TRADE}`);
  assert.equal(before.lifecycle, undefined, 'the demo trade already has a lifecycle');
  await fill(page, 'Lifecycle template', 'trade-paid-on-third-query');
  await clickButton(page, 'Attach');
  // Done when the page says so (or shows why not: the assertion below then names the state).
  await page.waitForFunction(() => [ ...document.querySelectorAll('main [role=status]') ].some(e => /attached/i.test(e.textContent))
    || [ ...document.querySelectorAll('main [role=alert]') ].some(e => e.textContent.trim() !== ''));
  const after = await admin(`/v1/records/alipay-trade/${WAIT_TRADE}`);
  assert.equal(after.lifecycle?.started, true, JSON.stringify(after.lifecycle));
  assert.equal(after.lifecycle.steps.length, 1);
  assert.equal(after.lifecycle.steps[0].after_queries, 3);
});

/** Searches the Records page; answers the primary keys of the rows found (in table order). */
async function searchRecords(kind, { key = '', merchant = '', status = '' }) {
  await fill(page, 'Kind', kind);
  await fill(page, 'Key', key);
  await fill(page, 'Merchant', merchant);
  await fill(page, 'Status', status);
  const asked = page.waitForResponse(r => new URL(r.url()).pathname.startsWith(`/v1/records/${kind}`));
  await clickButton(page, 'Search');
  await asked;
  const rows = await page.waitForFunction(() => {
    const done = document.querySelector('main table tbody tr') || [ ...document.querySelectorAll('main [role=status]') ].some(e => /no .* record matches/i.test(e.textContent));
    return done ? [ ...document.querySelectorAll('main table tbody tr') ].map(tr => tr.cells[0]?.textContent.trim()) : null;
  });
  return await rows.jsonValue();
}

pageTest('records: search each kind by its keys, and by merchant and status', async () => {
  await goTo(page, 'Records');
  assert.deepEqual(await searchRecords('onsite-trade', { key: '77778888' }), [ SEED_TRADE ]);
  assert.deepEqual(await searchRecords('omni-order', { key: '54321' }), [ '109078258777804955' ]);
  assert.deepEqual(await searchRecords('koubei-order', { key: '20170427000000001000000001' }), [ '20170427000000001000000001' ]);
  // No key: every trade of one merchant in one status, as the admin API lists them.
  const { records } = await admin('/v1/records/alipay-trade?merchant=2088102146225135&status=TRADE_SUCCESS');
  assert.ok(records.length > 1);
  const found = await searchRecords('alipay-trade', { merchant: '2088102146225135', status: 'TRADE_SUCCESS' });
  assert.deepEqual(found.sort(), records.map(r => r.trade_no).sort());
  // A key with a status it does not have finds nothing.
  assert.deepEqual(await searchRecords('alipay-trade', { key: WAIT_OUT_TRADE_NO, status: 'TRADE_SUCCESS' }), []);
});

pageTest('journal: an alipay-sdk call appears in the live tail within a second', async () => {
  await goTo(page, 'Journal');
  const query = () => sdk().exec('alipay.trade.query', { bizContent: { out_trade_no: SHARED_OUT_TRADE_NO } }, { validateSign: true });
  // A first call shows that the tail is connected (however long the page took to subscribe)...
  const probe = await query();
  assert.equal(probe.code, '10000');
  await page.waitForSelector(`[data-journal-id="${probe.traceId}"]`);
  // ...then the measured one, which must show within a second of its answer.
  const got = await query();
  const t0 = performance.now();
  await page.waitForSelector(`[data-journal-id="${got.traceId}"]`, { timeout: 1000 });
  console.log(`live journal: the SDK's call showed ${(performance.now() - t0).toFixed(0)} ms after its answer`);
  const row = await page.$eval(`[data-journal-id="${got.traceId}"]`, e => e.innerText);
  assert.match(row, /alipay\.trade\.query/);
  // The tail is the journal stream, read with the bearer header (never a token in its URL).
  const streams = log.requests.filter(r => new URL(r.url).pathname === '/v1/journal/stream');
  assert.ok(streams.length > 0, 'the journal page never opened /v1/journal/stream');
});

pageTest('journal: a call signed with the wrong key shows its diagnosis and compares a pasted client string', async () => {
  const got = await sdk(WRONG_KEY).exec('alipay.trade.query', { bizContent: { out_trade_no: SHARED_OUT_TRADE_NO } });
  assert.equal(got.sub_code, 'isv.invalid-signature');
  failedCall = got.traceId;
  const link = await page.waitForFunction(id => {
    const row = document.querySelector(`[data-journal-id="${id}"]`);
    const a = row?.matches('a[href]') ? row : row?.querySelector('a[href]');
    return a && a.getAttribute('href').endsWith(`#/journal/${id}`) ? a : null;
  }, {}, failedCall);
  await settle(page);
  await link.asElement().click();
  await page.waitForFunction(id => location.hash === `#/journal/${id}`, {}, failedCall);
  const entry = await admin(`/v1/journal/${failedCall}`);
  const norm = s => s.replace(/\s+/g, ' ').trim();
  for (const h of [ 'Parameters', 'String verified', 'Verification', 'Diagnosis', 'Answer', 'Latency', 'Fault' ]) {
    await waitForSection(page, h, /[\s\S]*/);
  }
  assert.ok(norm(await sectionText(page, 'String verified')).includes(norm(entry.sign_string)), 'the verified string is not shown whole');
  assert.match(await sectionText(page, 'Verification'), /fail/i);
  assert.ok(norm(await sectionText(page, 'Diagnosis')).includes(norm(entry.diagnosis[0])), 'the diagnosis is not shown');
  assert.match(await sectionText(page, 'Answer'), /isv\.invalid-signature/);
  assert.match(await sectionText(page, 'Parameters'), new RegExp(SHARED_OUT_TRADE_NO));

  // A client whose string differs in one place: the difference, and only it, is highlighted.
  const server = entry.sign_string;
  assert.ok(server.includes('charset=utf-8'), server);
  const client = server.replace('charset=utf-8', 'charset=GBK');
  await paste(page, "Your client's string", client);
  await page.waitForFunction(() => document.querySelectorAll('main mark, main del, main ins').length > 0);
  const pieces = await highlights(page, 'Difference');
  assert.ok(pieces && pieces.length > 0, 'no highlighted difference under "Difference"');
  const joined = pieces.join('');
  assert.ok(/utf-8|utf|GBK/i.test(joined), `the highlight misses the difference: ${JSON.stringify(pieces)}`);
  assert.ok(joined.length <= 16, `more than the difference is highlighted: ${JSON.stringify(pieces)}`);
  assert.ok(!joined.includes('app_id'), `unchanged text highlighted: ${JSON.stringify(pieces)}`);
  const both = await sectionText(page, 'Difference');
  assert.ok(both.includes(`app_id=${creds.alipay.app_id}`), 'the strings are not shown side by side');
  await shot(page, 'console-journal-entry', 'Diagnosis');
  // The same string: nothing to highlight.
  await paste(page, "Your client's string", server);
  await page.waitForFunction(() => document.querySelectorAll('main mark, main del, main ins').length === 0);
});

pageTest('journal: the Outcome filter keeps only failed calls', async () => {
  await goTo(page, 'Journal');
  await page.waitForSelector(`[data-journal-id="${failedCall}"]`);
  await fill(page, 'Outcome', 'error');
  await clickButton(page, 'Filter');
  // Only error rows remain, the failed call among them; the successful calls are gone.
  await page.waitForFunction(id => {
    const rows = [ ...document.querySelectorAll('main [data-journal-id]') ];
    return rows.some(r => r.dataset.journalId === id) && rows.every(r => /\berror\b/.test(r.innerText) && !/\bok\b/.test(r.innerText));
  }, {}, failedCall);
  const { entries } = await admin('/v1/journal?outcome=error');
  const shown = await page.$$eval('main [data-journal-id]', rs => rs.map(r => r.dataset.journalId));
  assert.deepEqual(shown.sort(), entries.map(e => e.id).sort());
  // The live tail follows the filter: a successful call, then a failed one; once the failed one
  // shows, the successful one (streamed before it) would have too.
  const ok = await sdk().exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE } });
  assert.equal(ok.code, '10000');
  const bad = await sdk(WRONG_KEY).exec('alipay.trade.query', { bizContent: { trade_no: SEED_TRADE } });
  assert.equal(bad.sub_code, 'isv.invalid-signature');
  await page.waitForSelector(`[data-journal-id="${bad.traceId}"]`);
  assert.equal(await page.$(`[data-journal-id="${ok.traceId}"]`), null, 'a successful call shows under Outcome: error');
  await fill(page, 'Outcome', '');
  await clickButton(page, 'Filter');
  await page.waitForFunction(() => [ ...document.querySelectorAll('main [data-journal-id]') ].some(r => /\bok\b/.test(r.innerText)));
});

pageTest('overview: the last errors link to their journal entries', async () => {
  await goTo(page, 'Overview');
  const link = await page.waitForSelector(`main a[href$="#/journal/${failedCall}"]`);
  await shot(page, 'console-overview');
  await settle(page);
  await link.click();
  await waitForSection(page, 'Diagnosis', /\S/);
  await goTo(page, 'Journal');
  await page.waitForSelector(`[data-journal-id="${failedCall}"]`);
  await shot(page, 'console-journal');
});

// One query per method (and front door) with the demo's identifiers; TOP's three sign methods
// are spread over its three methods.
const EXPLORER = [
  { method: 'koubei.trade.itemorder.query', door: 'alipay_v2', app: creds.alipay.app_id, fields: { order_no: '20170427000000001000000001' }, answer: /"status"\s*:\s*"SUCCESS"/, sig: 'verifies' },
  { method: 'alipay.trade.query', door: 'alipay_v2', app: creds.alipay.app_id, fields: { out_trade_no: SHARED_OUT_TRADE_NO }, answer: /"trade_status"\s*:\s*"TRADE_CLOSED"/, sig: 'verifies' },
  { method: 'alipay.trade.query', door: 'alipay_v3', app: creds.alipay.app_id, fields: { trade_no: SEED_TRADE }, answer: /"trade_status"\s*:\s*"TRADE_CLOSED"/, sig: 'verifies' },
  { method: 'alibaba.xlife.onsite.trade.query', door: 'top', app: creds.top.app_key, session: true, sign: 'md5', fields: { short_trade_no: '77778888' }, answer: /onsite_trade_query_response[\s\S]*TRADE_SUCCESS/, sig: 'not signed' },
  { method: 'tmall.luxury.stage.edi.alipay.trade.query', door: 'top', app: creds.top.app_key, sign: 'hmac', fields: { trade_no: SEED_TRADE }, answer: /tmall_luxury_stage_edi_alipay_trade_query_response[\s\S]*TRADE_CLOSED/, sig: 'not signed' },
  { method: 'alibaba.omni.order.query', door: 'top', app: creds.top.app_key, session: true, sign: 'hmac-sha256', fields: { user_id: '3031798632', order_id: '109078258777804955', out_order_id: '54321' }, answer: /alibaba_omni_order_query_response[\s\S]*109078258777804955/, sig: 'not signed' },
];

/** The Method option of `c`: its name whole (not inside a longer name), and its front door. */
function methodOption(c) {
  const name = new RegExp(`(?<![a-z.])${esc(c.method)}(?![a-z.])`);
  if (c.door === 'alipay_v2') return { all: [ name ], none: [ /\bv3\b/i ] };
  if (c.door === 'alipay_v3') return { all: [ name, /\bv3\b/i ] };
  return { all: [ name ] };
}

/** Runs one explorer query `c`; returns the result sections' texts. */
async function explore(c) {
  await fill(page, 'Method', methodOption(c));
  await fill(page, 'App', c.app);
  if (c.door === 'top') {
    if (c.session) {
      await fill(page, 'Session', {
        any: [ new RegExp(esc(creds.top.session)), new RegExp(esc(creds.top.merchant_id)) ],
        none: [ new RegExp(esc(creds.top.other_merchant_session)), /2088202146225246/ ],
      });
    } else if (await controlNow(page, 'Session')) {
      await fill(page, 'Session', '');
    }
    await fill(page, 'Sign method', c.sign);
  } else {
    const key = await control(page, 'Private key (stays in this browser)');
    await page.waitForFunction(e => e.value.includes('PRIVATE KEY'), {}, key);
  }
  for (const [ name, value ] of Object.entries(c.fields)) await fill(page, name, value);
  const earlier = await sectionText(page, 'Request as sent');
  const sent = page.waitForResponse(r => new URL(r.url()).pathname === '/v1/explorer/send');
  await clickButton(page, 'Send');
  assert.equal((await sent).status(), 200, 'explorer/send refused');
  await waitForSection(page, 'Request as sent', /\S/, earlier);
  const answer = await waitForSection(page, 'Answer', c.answer ?? /\S/);
  const signature = await waitForSection(page, 'Answer signature', /verifies|does not verify|not signed/i);
  return {
    request: await sectionText(page, 'Request as sent'),
    signed: await sectionText(page, 'String signed'),
    answer,
    signature,
  };
}

pageTest('explorer: one query of each of the five methods succeeds, and v2/v3 answers verify', async () => {
  await goTo(page, 'Explorer');
  for (const c of EXPLORER) {
    const label = `${c.method} (${c.door})`;
    const r = await explore(c);
    assert.match(r.answer, c.answer, `${label}: unexpected answer\n${r.answer}`);
    assert.ok(!/error_response|isv\.|isp\.|"code"\s*:\s*"(?!10000)/.test(r.answer), `${label}: an error\n${r.answer}`);
    const sig = r.signature.toLowerCase();
    if (c.sig === 'verifies') assert.ok(sig.includes('verifies') && !sig.includes('does not verify'), `${label}: ${r.signature}`);
    else assert.ok(sig.includes('not signed'), `${label}: ${r.signature}`);
    const path = { alipay_v2: '/gateway.do', alipay_v3: '/v3/alipay/trade/query', top: '/router/rest' }[c.door];
    assert.ok(r.request.includes(path), `${label}: request as sent lacks ${path}\n${r.request}`);
    assert.ok(r.signed && r.signed.trim().length > 0, `${label}: no string signed`);
    if (c.door === 'alipay_v2') assert.ok(r.signed.includes(`method=${c.method}`), `${label}: ${r.signed}`);
    if (c.door === 'alipay_v3') assert.ok(r.signed.startsWith('app_id=') || r.signed.includes('\nPOST\n'), `${label}: ${r.signed}`);
    // The server verified what the browser signed: the journal's newest entry is this call, ok.
    const { entries: [ e ] } = await admin(`/v1/journal?method=${c.method}&front_door=${c.door}&limit=1`);
    assert.equal(e.outcome, 'ok', `${label}: journal says ${JSON.stringify(e)}`);
    assert.equal(e.verification, 'verified', label);
    if (c.method === 'alipay.trade.query' && c.door === 'alipay_v2') await shot(page, 'console-explorer', 'String signed');
  }
});

pageTest('explorer: the private key and the app secret never leave the browser', () => {
  const pemBody = pem => pem.split('\n').filter(l => l && !l.startsWith('-----')).join('');
  const secrets = {
    'PKCS#8 private key': pemBody(creds.alipay.app_private_key_pkcs8_pem).slice(0, 64),
    'PKCS#1 private key': pemBody(creds.alipay.app_private_key_pkcs1_pem).slice(0, 64),
    'TOP app secret': creds.top.app_secret,
  };
  const sends = log.requests.filter(r => new URL(r.url).pathname === '/v1/explorer/send');
  assert.ok(sends.length >= EXPLORER.length, `only ${sends.length} explorer calls were recorded`);
  for (const r of log.requests) {
    const text = `${r.url}\n${r.body}\n${decodeURIComponent(r.body.replace(/\+/g, ' ')) }`;
    for (const [ what, s ] of Object.entries(secrets)) {
      for (const form of [ s, s.replace(/\+/g, '%2B').replace(/\//g, '%2F'), JSON.stringify(s).slice(1, -1) ]) {
        assert.ok(!text.includes(form), `the ${what} was sent in ${r.method} ${r.url}`);
      }
    }
  }
});

pageTest('explorer: an answer whose signature was tampered with does not verify', async () => {
  // A fault changes one character of the answer's signature (v2 `sign`, v3 header): the check
  // made in the browser must say so.
  for (const door of [ 'alipay_v2', 'alipay_v3' ]) {
    const res = await fetch(`${ADMIN}/v1/faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ match: { front_door: door, method: 'alipay.trade.query' }, times: 1, action: { type: 'bad_signature' } }),
    });
    assert.equal(res.status, 201, await res.text());
  }
  for (const c of EXPLORER.filter(c => c.method === 'alipay.trade.query')) {
    const r = await explore(c);
    assert.match(r.signature, /does not verify/i, `${c.door}: ${r.signature}`);
  }
  const { faults } = await admin('/v1/faults');
  assert.deepEqual(faults.map(f => f.hits), [ 1, 1 ]);
  // Each rule goes with its own Remove button.
  await goTo(page, 'Faults');
  for (const [ i, f ] of faults.entries()) {
    const remove = await page.waitForFunction(id => {
      const row = [ ...document.querySelectorAll('main table tbody tr') ].find(tr => /bad.signature/.test(tr.innerText) && tr.innerText.includes(id.door));
      return [ ...(row?.querySelectorAll('button') ?? []) ].find(b => b.textContent.trim() === 'Remove') ?? null;
    }, {}, { door: f.match.front_door });
    await settle(page);
    await remove.asElement().click();
    await page.waitForFunction(n => document.querySelectorAll('main table tbody tr').length === n
      || (n === 0 && !document.querySelector('main table tbody tr td button')), {}, faults.length - i - 1);
    assert.equal((await admin('/v1/faults')).faults.length, faults.length - i - 1);
  }
});

pageTest('faults: a rule added in the console fails the next explorer call and counts its hit', async () => {
  await goTo(page, 'Faults');
  await fill(page, 'Front door', 'alipay_v2');
  await fill(page, 'Method', 'alipay.trade.query');
  await fill(page, 'Action', 'error');
  await fill(page, (await controlNow(page, 'Error code')) ? 'Error code' : 'Code', 'ACQ.SYSTEM_ERROR');
  await fill(page, 'Times', '1');
  await clickButton(page, 'Add fault');
  await page.waitForFunction(() => [ ...document.querySelectorAll('main table tbody tr') ].some(tr => tr.innerText.includes('ACQ.SYSTEM_ERROR')));
  const { faults } = await admin('/v1/faults');
  assert.equal(faults.length, 1);
  assert.deepEqual(faults[0].match, { front_door: 'alipay_v2', method: 'alipay.trade.query' });
  assert.equal(faults[0].action.type, 'error');
  assert.equal(faults[0].action.code, 'ACQ.SYSTEM_ERROR');
  assert.equal(faults[0].times, 1);
  await shot(page, 'console-faults');

  await goTo(page, 'Explorer');
  const r = await explore({ ...EXPLORER[1], answer: /ACQ\.SYSTEM_ERROR/ });
  assert.match(r.answer, /ACQ\.SYSTEM_ERROR/);
  const { entries: [ e ] } = await admin('/v1/journal?method=alipay.trade.query&front_door=alipay_v2&limit=1');
  assert.equal(e.outcome, 'error');
  assert.ok(e.fault, 'the journal does not name the fault');

  await goTo(page, 'Faults');
  const hits = await page.waitForFunction(() => {
    const table = [ ...document.querySelectorAll('main table') ].find(t => t.innerText.includes('ACQ.SYSTEM_ERROR'));
    if (!table) return null;
    const heads = [ ...table.querySelectorAll('thead th') ].map(th => th.textContent.trim().toLowerCase());
    const col = heads.indexOf('hits');
    const row = [ ...table.querySelectorAll('tbody tr') ].find(tr => tr.innerText.includes('ACQ.SYSTEM_ERROR'));
    return col >= 0 && row ? row.children[col]?.textContent.trim() : null;
  });
  assert.equal(await hits.jsonValue(), '1');
  await clickButton(page, 'Clear all');
  await page.waitForFunction(() => ![ ...document.querySelectorAll('main table tbody tr') ].some(tr => tr.innerText.includes('ACQ.SYSTEM_ERROR')));
  assert.deepEqual((await admin('/v1/faults')).faults, []);
});

pageTest('clock: advancing by 2d moves clock-now two days on', async () => {
  await goTo(page, 'Clock');
  const now = await page.waitForFunction(() => {
    const t = document.querySelector('#clock-now')?.textContent ?? '';
    return /\d{4}-\d\d-\d\d[T ]\d\d:\d\d/.test(t) ? t : null;
  });
  const before = parseTime(await now.jsonValue());
  assert.ok(!Number.isNaN(before));
  await fill(page, 'Advance by', '2d');
  await clickButton(page, 'Advance');
  const moved = await page.waitForFunction(b => {
    const m = /(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)/.exec(document.querySelector('#clock-now')?.textContent ?? '');
    if (!m) return null;
    const t = Date.parse(`${m[1]}T${m[2].length === 5 ? `${m[2]}:00` : m[2]}Z`);
    return t - b > 86_400_000 ? t : null;
  }, {}, before);
  const after = await moved.jsonValue();
  const days = (after - before) / 86_400_000;
  assert.ok(days > 1.95 && days < 2.05, `clock-now moved ${days} days`);
  const clock = await admin('/v1/clock');
  assert.ok(Math.abs(clock.offset_secs - 172_800) < 60, JSON.stringify(clock));
  await shot(page, 'console-clock');
});

test('the token never appears in a URL, and no script error or policy refusal happened', () => {
  assert.ok(log.requests.length > 0);
  const forms = [ TOKEN, encodeURIComponent(TOKEN), Buffer.from(TOKEN).toString('base64') ];
  for (const r of log.requests) {
    for (const f of forms) assert.ok(!r.url.includes(f), `the admin token is in a URL: ${r.url}`);
  }
  // Every data call carried a bearer header (the wrong-token test's carried a wrong one).
  const data = log.requests.filter(r => new URL(r.url).pathname.startsWith('/v1/'));
  assert.ok(data.length > 0);
  const bare = data.filter(r => !/^Bearer \S+$/.test(r.headers.authorization ?? ''));
  assert.deepEqual(bare.map(r => `${r.method} ${r.url}`), []);
  assert.deepEqual(log.problems, []);
  // As the browser received them: every console response carries the policy.
  const pages = log.responses.filter(r => new URL(r.url).pathname.startsWith('/console/'));
  assert.ok(pages.length > 0);
  for (const r of pages) {
    assert.ok((r.headers['content-security-policy'] ?? '').includes("script-src 'self'"), `no CSP on ${r.url}`);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', r.url);
  }
});

test('without the token the admin API refuses what the console calls', async () => {
  const p = await openPage(browser, newLog());
  try {
    await p.goto(CONSOLE, { waitUntil: 'domcontentloaded' });
    const statuses = await p.evaluate(async () => {
      const call = async (path, init) => (await fetch(path, init)).status;
      return {
        send: await call('/v1/explorer/send', { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ method: 'POST', target: '/gateway.do', headers: {}, body: '' }) }),
        demo: await call('/v1/demo-credentials'),
        stream: await call('/v1/journal/stream'),
        journal: await call('/v1/journal'),
        faults: await call('/v1/faults'),
      };
    });
    assert.deepEqual(statuses, { send: 401, demo: 401, stream: 401, journal: 401, faults: 401 });
  } finally {
    await p.close();
  }
});

pageTest('every page fits 1280×800 and 390×844 without sideways scrolling, and labels every control', async () => {
  const problems = [];
  for (const [ w, h, tag ] of [ [ 1280, 800, 'desktop' ], [ 390, 844, 'phone' ] ]) {
    await page.setViewport({ width: w, height: h });
    for (const name of PAGES) {
      await page.evaluate(r => { location.hash = `#/${r}`; }, ROUTES[name]);
      await waitForHeading(page, name);
      await page.waitForNetworkIdle({ idleTime: 200, timeout: 5000 }).catch(() => {});
      const over = await overflow(page);
      if (over.by > 0) problems.push(`${name} at ${w}×${h} overflows sideways by ${over.by}px: ${over.culprits.join(', ')}`);
      const bare = await unlabelled(page);
      if (bare.length) problems.push(`${name}: controls without a label: ${bare.join(' | ')}`);
      const main = await page.$('main');
      if (!main) problems.push(`${name}: no <main>`);
      if (tag === 'phone') await shot(page, `console-${ROUTES[name]}-phone`);
    }
  }
  await page.setViewport({ width: 1280, height: 800 });
  assert.deepEqual(problems, []);
});
