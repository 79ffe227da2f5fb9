// Self-test of checks.mjs: serves a clean page and a page with planted
// problems from a local HTTP server, runs every check on both and prints one
// JSON line saying whether each check found exactly the planted problems
// (and none on the clean page). Exits 1 if not.
// Usage: node checks-selftest.mjs [--shots DIR] (keeps the screenshots)
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLAGS, openApp, audit, overlaps, overflowX, pageWeight, startWeight, focusVisible, tabOrder, screenshot, contrast } from './checks.mjs';
import { args } from './lib.mjs';

// The UI's policy (web/ui.go), so the pages run under the same rules.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

const head = (title, css) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/${css}"></head>`;

// Clean: things that look like problems to a naive check but are not — a
// sticky bar, a skip link parked off-screen, an inline span wrapping across
// lines, text beside a float, a caption laid over a video (data-overlay), text
// clipped away by overflow:hidden, a wide table in a scrolling wrapper,
// hidden elements on top of visible ones.
const FILES = {
  '/clean.html': head('Clean', 'clean.css') + `<body>
<a id="skip" class="skip" href="#main">Skip to content</a>
<header class="bar"><span class="brand">Vigil</span>
  <nav aria-label="Sections"><a id="live" href="#live">Live</a> <a id="events" href="#events">Events</a></nav></header>
<main id="main">
  <h1>Cameras</h1>
  <p class="narrow">Some text with <span class="hl">an inline span that wraps</span> <b>next to</b> more after it.</p>
  <img class="float" src="/pic.svg" alt="A camera" width="80" height="60">
  <p>Text beside a floated image, whose paragraph box runs under the float.</p>
  <figure class="cam" data-overlay><video id="vid" controls muted playsinline aria-label="Front door camera"></video>
    <figcaption class="tag">Front door</figcaption></figure>
  <div class="clip"><span class="inner">Clipped away</span></div>
  <p class="after">Under the clipped text</p>
  <div id="scroller" class="scroller" tabindex="0" role="region" aria-label="Table"><table><tr><td>A very wide table cell</td><td>another</td></tr></table></div>
  <p class="ghost none">Not displayed</p><p class="ghost invisible">Invisible</p><p class="ghost transparent">Transparent</p>
  <form action="/clean.html"><label for="q">Search</label> <input id="q" name="q">
    <button id="go">Go</button> <label><input id="remember" type="checkbox"> Remember</label></form>
  <input id="volume" type="range" aria-label="Volume">
</main></body></html>`,
  '/clean.css': `body { margin: 0; font: 16px/1.5 sans-serif; color: #222; background: #fff; }
.bar { position: sticky; top: 0; display: flex; gap: 16px; padding: 8px 16px; background: #1d2733; color: #fff; }
.bar a { color: #fff; }
main { padding: 0 16px; }
a { color: #0b57d0; }
:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
.bar :focus-visible { outline-color: #fff; }
/* Chromium's own ring (outline: auto 1px, painted 2px wide) counts. */
#remember:focus-visible { outline: revert; }
.skip { position: absolute; left: -9999px; top: 0; }
.skip:focus { left: 8px; background: #fff; color: #0b57d0; z-index: 2; }
.narrow { width: 260px; }
.hl { background: #fff3b0; }
.float { float: left; margin-right: 8px; }
.cam { position: relative; clear: both; width: 320px; height: 180px; margin: 16px 0; background: #000; }
.cam video { width: 100%; height: 100%; }
.tag { position: absolute; left: 8px; top: 8px; margin: 0; padding: 2px 6px; background: rgba(0, 0, 0, 0.6); color: #fff; }
.clip { height: 24px; overflow: hidden; }
.inner { position: relative; top: 30px; }
.after { margin-top: 0; }
.scroller { overflow-x: auto; max-width: 100%; }
.scroller table { width: 1500px; }
.ghost { position: relative; margin-top: -40px; }
.none { display: none; } .invisible { visibility: hidden; } .transparent { opacity: 0; }
`,
  '/pic.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="60"><rect width="80" height="60" fill="#4a6"/></svg>',

  // Bad: exactly one of each planted problem.
  '/bad.html': head('Bad', 'bad.css') + `<body><main>
  <h1>Problems</h1>
  <div class="pair"><button id="one">First</button><button id="two">Second</button></div>
  <p class="grey">Low contrast text</p>
  <input id="nolabel">
  <div class="wide"><p>Too wide</p></div>
  <button id="nooutline">No ring</button>
</main></body></html>`,
  '/bad.css': `body { margin: 0; padding: 0 16px; font: 16px/1.5 sans-serif; color: #222; background: #fff; }
:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
#two { margin-left: -30px; }
.grey { color: #aaa; }
.wide { width: 2000px; }
/* A shadow that is always there is no focus indicator. */
#nooutline { box-shadow: 0 1px 3px rgba(0, 0, 0, 0.4); }
#nooutline:focus { outline: none; }
`,
};

const TYPES = { html: 'text/html; charset=utf-8', css: 'text/css', svg: 'image/svg+xml' };
const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const body = FILES[path];
  if (body === undefined) { res.writeHead(404).end(); return; }
  // With a Content-Length, as vigil sends (http.ServeContent): a chunked
  // body's framing would count in CDP's bytes but not in Resource Timing's.
  res.writeHead(200, { 'content-type': TYPES[path.split('.').pop()], 'content-length': Buffer.byteLength(body),
    'content-security-policy': CSP, 'cache-control': 'no-store' });
  res.end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const failures = [];
const expect = (what, cond, got) => { if (!cond) failures.push(`${what}: got ${JSON.stringify(got)}`); };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const out = { ok: false };
const opt = args(['shots']);
const shots = opt.shots || mkdtempSync(join(tmpdir(), 'vigil-shots-'));

// The flags must be lib.mjs's (it does not export them).
const libFlags = /const FLAGS = \[([^\]]*)\]/.exec(readFileSync(new URL('./lib.mjs', import.meta.url), 'utf8'));
out.flagsMatchLib = !!libFlags && same(libFlags[1].match(/'[^']*'/g).map((s) => s.slice(1, -1)), FLAGS);
expect('flags match lib.mjs', out.flagsMatchLib, FLAGS);

let app;
try {
  // Desktop, CSP bypassed as the UI test will run.
  app = await openApp({ viewport: { width: 1024, height: 768 } });
  const { page } = app;

  // Clean page.
  const weight = await startWeight(page);
  await page.goto(`${base}/clean.html`, { waitUntil: 'load' });
  const c = {};
  const rt = await pageWeight(page, { exclude: [/\.svg$/] });
  const cdp = await weight.stop({ exclude: [/\.svg$/] });
  c.weight = { resourceTiming: rt, cdp: { total: cdp.total, excluded: cdp.excluded, pending: cdp.pending, failed: cdp.failed } };
  const bodies = ['/clean.html', '/clean.css'].reduce((n, p) => n + Buffer.byteLength(FILES[p]), 0);
  expect('weight: resource timing lists the page and its stylesheet', same(rt.urls.map((u) => u.url).sort(), ['/clean.css', '/clean.html']), rt.urls);
  expect('weight: the svg excluded', rt.excluded.requests === 1 && cdp.excluded.requests === 1, [rt.excluded, cdp.excluded]);
  expect('weight: encodedBodySize is what was served', rt.total.encodedBodySize === bodies && rt.total.decodedBodySize === bodies, [rt.total, bodies]);
  expect('weight: transferSize is bodies + 300 per response', rt.total.transferSize === bodies + 300 * rt.total.requests, rt.total);
  expect('weight: CDP agrees on requests and body bytes', cdp.total.requests === rt.total.requests && cdp.total.bodyBytes === bodies, cdp.total);
  expect('weight: CDP counts headers too', cdp.total.bytes > cdp.total.bodyBytes && cdp.pending === 0 && cdp.failed.length === 0, cdp.total);

  const a = await audit(page);
  out.axe = a.axe;
  c.audit = { violations: a.violations, passes: a.passes, incomplete: a.incomplete, incompleteRules: a.incompleteRules };
  expect('clean: no axe violations', a.violations.length === 0 && a.passes > 10, a);
  c.overlaps = await overlaps(page);
  expect('clean: no overlaps', c.overlaps.length === 0, c.overlaps);
  c.overflowX = await overflowX(page);
  expect('clean: no horizontal overflow', c.overflowX.offenders.length === 0 && c.overflowX.scrollWidth <= c.overflowX.clientWidth, c.overflowX);
  c.contrast = await contrast(page);
  expect('clean: no contrast failures, the caption over the video unknown',
    c.contrast.failed === 0 && c.contrast.checked >= 10 && c.contrast.unknown === 1 && /figcaption/.test(c.contrast.unknowns[0].el), c.contrast);
  const cleanTabs = await tabOrder(page, 9);
  c.tabOrder = cleanTabs.map((t) => ({ el: t.el, inViewport: t.inViewport, visible: t.focus.visible }));
  const ids = ['skip', 'live', 'events', 'vid', 'scroller', 'q', 'go', 'remember', 'volume'];
  const ids2 = cleanTabs.map((t) => t.focus.id);
  expect('clean: tab order', same(ids2.slice(0, ids.length), ids), ids2);
  expect('clean: every stop visibly focused and in view', cleanTabs.slice(0, ids.length).every((t) => t.focus.visible && t.inViewport), cleanTabs);
  expect('clean: the checkbox has the browser ring', cleanTabs[7].focus.outlineStyle === 'auto', cleanTabs[7].focus);
  c.screenshot = await screenshot(page, shots, 'clean');
  expect('clean: screenshot', readFileSync(c.screenshot).subarray(1, 4).toString() === 'PNG', c.screenshot);
  c.log = app.log;
  expect('clean: nothing in the log', app.log.consoleErrors.length + app.log.pageErrors.length + app.log.failedRequests.length === 0, app.log);
  out.clean = c;

  // Bad page, same browser.
  await page.goto(`${base}/bad.html`, { waitUntil: 'load' });
  const b = {};
  const ba = await audit(page);
  b.audit = { violations: ba.violations, passes: ba.passes, incomplete: ba.incomplete };
  expect('bad: axe finds the grey text and the unlabelled input',
    same(ba.violations.map((v) => v.id).sort(), ['color-contrast', 'label']) &&
    same(ba.violations.map((v) => v.nodes.length), [1, 1]) &&
    ba.violations.find((v) => v.id === 'label').nodes[0].target === '#nolabel' &&
    /#aaaaaa/.test(ba.violations.find((v) => v.id === 'color-contrast').nodes[0].summary), ba.violations);
  b.auditScoped = {
    exclude: (await audit(page, { exclude: ['.grey'] })).violations.map((v) => v.id),
    include: (await audit(page, { include: '#nolabel' })).violations.map((v) => v.id),
  };
  expect('bad: audit include/exclude', same(b.auditScoped, { exclude: ['label'], include: ['label'] }), b.auditScoped);
  b.overlaps = await overlaps(page);
  expect('bad: the button pair overlaps', b.overlaps.length === 1 && /#one/.test(b.overlaps[0].a) && /#two/.test(b.overlaps[0].b), b.overlaps);
  b.overflowX = await overflowX(page);
  expect('bad: the wide element overflows', b.overflowX.offenders.length === 1 && /div\.wide/.test(b.overflowX.offenders[0].el) &&
    b.overflowX.scrollWidth > b.overflowX.clientWidth, b.overflowX);
  b.contrast = await contrast(page);
  expect('bad: one contrast failure, the grey text', b.contrast.failed === 1 && /p\.grey/.test(b.contrast.failures[0].el) &&
    b.contrast.failures[0].fg === '#aaaaaa' && b.contrast.failures[0].bg === '#ffffff' && b.contrast.failures[0].ratio === 2.32, b.contrast);
  const badTabs = await tabOrder(page, 4);
  b.tabOrder = badTabs.map((t) => ({ el: t.el, inViewport: t.inViewport, visible: t.focus.visible, outlineStyle: t.focus.outlineStyle }));
  expect('bad: tab order', same(badTabs.map((t) => t.focus.id), ['one', 'two', 'nolabel', 'nooutline']), b.tabOrder);
  expect('bad: only the outline:none button lacks a focus ring', same(badTabs.map((t) => t.focus.visible), [true, true, true, false]), b.tabOrder);
  // focusVisible on its own, focus left on #nooutline by the tab order.
  b.focusVisible = await focusVisible(page);
  expect('bad: focusVisible on #nooutline', b.focusVisible.id === 'nooutline' && !b.focusVisible.visible && b.focusVisible.draws && !b.focusVisible.changed &&
    b.focusVisible.focusVisible && b.focusVisible.restored, b.focusVisible);
  await page.focus('#nolabel');
  b.focusVisibleInput = await focusVisible(page);
  expect('bad: focusVisible on #nolabel', b.focusVisibleInput.visible && b.focusVisibleInput.changed && b.focusVisibleInput.outlineWidth === '3px', b.focusVisibleInput);
  // Tab order starts from the top wherever focus was.
  b.tabAgain = (await tabOrder(page, 2)).map((t) => t.focus.id);
  expect('bad: tab order again from the top', same(b.tabAgain, ['one', 'two']), b.tabAgain);
  b.screenshot = await screenshot(page, shots, 'bad');
  expect('bad: screenshot', existsSync(b.screenshot), b.screenshot);
  out.bad = b;

  // A phone-sized viewport set later: the clean page still fits.
  await app.setViewport({ width: 360, height: 740 });
  await page.goto(`${base}/clean.html`, { waitUntil: 'load' });
  out.narrow = { overflowX: await overflowX(page), overlaps: await overlaps(page) };
  expect('narrow: clean page fits', out.narrow.overflowX.offenders.length === 0 && out.narrow.overlaps.length === 0, out.narrow);
  await app.close();
  app = null;

  // The checks under the real CSP (no bypass), on a touch phone.
  app = await openApp({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, bypassCSP: false });
  await app.page.goto(`${base}/bad.html`, { waitUntil: 'load' });
  const csp = await audit(app.page);
  out.strictCSP = { violations: csp.violations.map((v) => v.id), overlaps: (await overlaps(app.page)).length, contrastFailed: (await contrast(app.page)).failed, log: app.log };
  expect('strict CSP: the same findings', same(out.strictCSP.violations.sort(), ['color-contrast', 'label']) &&
    out.strictCSP.overlaps === 1 && out.strictCSP.contrastFailed === 1 && app.log.consoleErrors.length === 0, out.strictCSP);
} catch (e) {
  failures.push(String(e && e.stack || e));
} finally {
  if (app) await app.close();
  server.close();
  if (!opt.shots) rmSync(shots, { recursive: true, force: true });
}

out.failures = failures;
out.ok = failures.length === 0;
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
