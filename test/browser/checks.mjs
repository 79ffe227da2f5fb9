// Page checks for the UI test: accessibility (axe-core), overlapping
// elements, horizontal overflow, page weight, focus visibility, tab order,
// screenshots and text contrast. Every check returns plain JSON-serialisable
// data; the calling test decides what passes.
//
// The in-page halves of the checks share helpers (visibility, clipping,
// colour parsing, descriptions) that are installed into the page as
// window.__vigilChecks by page.evaluate, which, unlike a <script> tag, is not
// subject to the page's Content-Security-Policy.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);

// Debian's Chromium with the same flags as lib.mjs (checks-selftest.mjs
// verifies they match): no background traffic on the closed network, and
// media may play without a user gesture.
export const CHROMIUM = process.env.VIGIL_CHROMIUM || '/usr/bin/chromium';
export const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

// ---------------------------------------------------------------------------
// Browser

// openApp launches Chromium with a fresh profile and returns the context, its
// page (not yet navigated, so startWeight can be attached first), a log of
// console errors, page errors and failed requests, setViewport(size), and
// close(), which also removes the profile.
//
// opts: viewport {width, height} (default 1280x800), isMobile, hasTouch,
// bypassCSP (default true; note that with it the page reports no CSP
// violations, so a CSP check needs a context with bypassCSP: false — all the
// checks here work in either), contextOptions (more Playwright options).
export async function openApp(opts = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS,
      bypassCSP: opts.bypassCSP ?? true,
      viewport: opts.viewport || { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      isMobile: !!opts.isMobile,
      hasTouch: !!opts.hasTouch,
      ...opts.contextOptions,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  // The default Resource Timing buffer holds 250 entries; a page playing
  // HLS fills it within minutes and pageWeight would then miss requests.
  await ctx.addInitScript(() => performance.setResourceTimingBufferSize(1e6));

  // consoleErrors and pageErrors as lib.mjs names them, so a script can
  // spread the log into its result for test/browser_test.go.
  const log = { consoleErrors: [], pageErrors: [], failedRequests: [] };
  ctx.on('requestfailed', (r) => log.failedRequests.push({
    url: r.url(), method: r.method(), failure: r.failure() ? r.failure().errorText : 'failed',
  }));
  ctx.on('response', (r) => {
    if (r.status() >= 400) log.failedRequests.push({ url: r.url(), method: r.request().method(), status: r.status() });
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') log.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => log.pageErrors.push(String(e)));

  let closed = false;
  return {
    ctx, page, log,
    setViewport: (size) => page.setViewportSize(size),
    async close() {
      if (closed) return;
      closed = true;
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Accessibility audit

const AXE_SOURCE = () => readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
let axeSource;

// audit runs axe-core's WCAG 2.0/2.1 A and AA rules over the page (or over
// the include/exclude selectors) and returns
// {axe, violations: [{id, impact, help, nodes: [{target, summary}], more}],
//  passes, incomplete, inapplicable, incompleteRules: [{id, nodes}]}
// where passes/incomplete/inapplicable count rules; at most 5 nodes per
// violation are listed, more says how many were left off.
export async function audit(page, { include, exclude, timeoutMs = 60000 } = {}) {
  if (!await page.evaluate(() => !!window.axe)) {
    axeSource = axeSource || AXE_SOURCE();
    await page.evaluate(axeSource); // defines window.axe
  }
  const list = (v) => (v == null ? undefined : [].concat(v));
  const context = {};
  if (include) context.include = list(include);
  if (exclude) context.exclude = list(exclude);
  const r = await page.evaluate(async ({ context, timeoutMs }) => {
    const options = {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      // Node details only for violations; the other results are counted.
      resultTypes: ['violations'],
      // Waiting for media metadata (no-autoplay-audio) must not hang on a
      // video that never loads.
      preload: { assets: ['cssom', 'media'], timeout: 5000 },
    };
    const ctx = Object.keys(context).length ? context : document;
    let timer;
    const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`axe.run took over ${timeoutMs} ms`)), timeoutMs); });
    try {
      const res = await Promise.race([window.axe.run(ctx, options), timeout]);
      const squash = (s) => String(s || '').replace(/\s+/g, ' ').trim().slice(0, 300);
      return {
        axe: window.axe.version,
        violations: res.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: squash(n.failureSummary) })),
          more: Math.max(0, v.nodes.length - 5),
        })),
        passes: res.passes.length,
        incomplete: res.incomplete.length,
        inapplicable: res.inapplicable.length,
        incompleteRules: res.incomplete.map((v) => ({ id: v.id, nodes: v.nodes.length })),
      };
    } finally {
      clearTimeout(timer);
    }
  }, { context, timeoutMs });
  return r;
}

// ---------------------------------------------------------------------------
// In-page helpers

// installHelpers runs in the page (serialised by page.evaluate) and defines
// window.__vigilChecks once per document.
function installHelpers() {
  if (window.__vigilChecks) return;

  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION', 'OPTGROUP', 'DATALIST', 'TITLE', 'HEAD', 'META', 'LINK']);
  const BOXES = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON', 'IMG', 'VIDEO', 'CANVAS', 'SVG']);
  const ROLES = new Set(['slider', 'button', 'link']);

  const squash = (s) => String(s || '').replace(/\s+/g, ' ').trim();
  const cut = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

  // Elements worth examining: in the body, not script/style/options, not
  // the insides of an inline SVG (the <svg> itself counts).
  function elements() {
    return [...document.body.querySelectorAll('*')].filter((el) =>
      !SKIP.has(el.tagName.toUpperCase()) && !(el instanceof SVGElement && el.ownerSVGElement) &&
      !(el.tagName === 'INPUT' && el.type === 'hidden'));
  }

  function directText(el) {
    return [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.data.trim() !== '');
  }

  function label(el) {
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const t = by.split(/\s+/).map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
      if (squash(t)) return squash(t);
    }
    const direct = el.getAttribute('aria-label') || (el.labels && el.labels.length ? [...el.labels].map((l) => l.textContent).join(' ') : '') ||
      el.getAttribute('alt') || el.getAttribute('title') || el.getAttribute('placeholder');
    return squash(direct || el.textContent || (el.tagName === 'INPUT' && /^(button|submit|reset)$/.test(el.type) ? el.value : ''));
  }

  // describe: tag#id.class1.class2 "text", short enough for a failure message.
  function describe(el) {
    if (!el || el.nodeType !== 1) return String(el);
    let d = el.tagName.toLowerCase();
    if (el.id) d += '#' + el.id;
    const cls = typeof el.className === 'string' ? el.className.trim().split(/\s+/).filter(Boolean) : [];
    if (cls.length) d += '.' + cls.slice(0, 3).join('.');
    if (el.tagName === 'INPUT') d += `[type=${el.type}]`;
    const text = cut(label(el), 30);
    return text ? `${d} "${text}"` : d;
  }

  function role(el) {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit;
    const tag = el.tagName;
    if (tag === 'A' || tag === 'AREA') return el.hasAttribute('href') ? 'link' : '';
    if (tag === 'BUTTON' || tag === 'SUMMARY') return 'button';
    if (tag === 'SELECT') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
    if (tag === 'TEXTAREA') return 'textbox';
    if (tag === 'INPUT') {
      return { range: 'slider', checkbox: 'checkbox', radio: 'radio', button: 'button', submit: 'button', reset: 'button',
        image: 'button', search: 'searchbox', number: 'spinbutton' }[el.type] || 'textbox';
    }
    return '';
  }

  // shown: rendered and not hidden by display, visibility or opacity 0 (on
  // the element or an ancestor).
  function shown(el) {
    return el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true, opacityProperty: true, visibilityProperty: true });
  }

  // clipBox is the rectangle (viewport coordinates) outside which el is
  // clipped: by ancestors whose overflow is not visible — only those in its
  // containing-block chain, as an absolutely positioned box escapes an
  // overflow:hidden ancestor that is not positioned — then by the document
  // (nothing left of or above the page's origin is reachable) or, for fixed
  // boxes, by the viewport.
  function clipBox(el) {
    const box = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    const cap = (l, t, r, b) => {
      box.left = Math.max(box.left, l); box.top = Math.max(box.top, t);
      box.right = Math.min(box.right, r); box.bottom = Math.min(box.bottom, b);
    };
    let pos = getComputedStyle(el).position;
    for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a);
      // Containing block for fixed (and absolute) descendants.
      const cbAll = s.transform !== 'none' || s.filter !== 'none' || s.perspective !== 'none' ||
        s.backdropFilter !== 'none' || /\b(paint|layout|strict|content)\b/.test(s.contain) || /transform|filter/.test(s.willChange);
      const inChain = pos === 'fixed' ? cbAll : pos === 'absolute' ? s.position !== 'static' || cbAll : true;
      if (!inChain) continue;
      if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
        const r = a.getBoundingClientRect();
        const l = r.left + a.clientLeft;
        const t = r.top + a.clientTop;
        cap(s.overflowX !== 'visible' ? l : -Infinity, s.overflowY !== 'visible' ? t : -Infinity,
          s.overflowX !== 'visible' ? l + a.clientWidth : Infinity, s.overflowY !== 'visible' ? t + a.clientHeight : Infinity);
      }
      pos = s.position;
    }
    if (pos === 'fixed') cap(0, 0, window.innerWidth, window.innerHeight);
    else cap(-window.scrollX, -window.scrollY, Infinity, Infinity);
    return box;
  }

  function intersect(r, c) {
    const left = Math.max(r.left, c.left); const top = Math.max(r.top, c.top);
    const right = Math.min(r.right, c.right); const bottom = Math.min(r.bottom, c.bottom);
    return right > left && bottom > top ? { left, top, right, bottom } : null;
  }

  // fragments: el's visible rectangles after clipping — its border boxes
  // (one per line for inline elements) or, with textOnly, the line boxes of
  // its own text nodes, so a paragraph's box running under a float or an
  // absolutely positioned neighbour does not count, only its glyphs.
  function fragments(el, textOnly) {
    let rects;
    if (textOnly) {
      rects = [];
      const range = document.createRange();
      for (const n of directText(el)) {
        range.selectNodeContents(n);
        rects.push(...range.getClientRects());
      }
    } else {
      rects = [...el.getClientRects()];
    }
    let clip = clipBox(el);
    // Its own text is clipped by el itself too: by its overflow, and by a
    // CSS clip rectangle (the usual visually-hidden pattern).
    if (textOnly) clip = ownClip(el, clip);
    return rects.filter((r) => r.width > 0 && r.height > 0).map((r) => intersect(r, clip)).filter(Boolean);
  }

  function ownClip(el, box) {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const c = { ...box };
    const cap = (l, t, rt, b) => {
      c.left = Math.max(c.left, l); c.top = Math.max(c.top, t);
      c.right = Math.min(c.right, rt); c.bottom = Math.min(c.bottom, b);
    };
    if (s.overflowX !== 'visible') cap(r.left + el.clientLeft, -Infinity, r.left + el.clientLeft + el.clientWidth, Infinity);
    if (s.overflowY !== 'visible') cap(-Infinity, r.top + el.clientTop, Infinity, r.top + el.clientTop + el.clientHeight);
    const m = /^rect\(([^)]*)\)$/.exec(s.clip);
    if (m && (s.position === 'absolute' || s.position === 'fixed')) {
      const [t, rt, b, l] = m[1].split(/[\s,]+/).map((v, i) => (v === 'auto' ? [0, r.width, r.height, 0][i] : parseFloat(v)));
      cap(r.left + l, r.top + t, r.left + rt, r.top + b);
    }
    return c;
  }

  const rect = (r) => ({ x: Math.round(r.left + window.scrollX), y: Math.round(r.top + window.scrollY),
    w: Math.round(r.right - r.left), h: Math.round(r.bottom - r.top) });

  function union(rs) {
    return rs.reduce((u, r) => ({ left: Math.min(u.left, r.left), top: Math.min(u.top, r.top),
      right: Math.max(u.right, r.right), bottom: Math.max(u.bottom, r.bottom) }));
  }

  // Colours as [r, g, b, a] with r, g, b in 0..255 and a in 0..1. Computed
  // colours are usually rgb()/rgba(); anything else (oklch(), color()) is
  // painted on a canvas and read back.
  let canvas;
  function parseColor(s) {
    const m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(s);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    canvas = canvas || document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    canvas.clearRect(0, 0, 1, 1);
    canvas.fillStyle = s;
    canvas.fillRect(0, 0, 1, 1);
    const d = canvas.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  }
  const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('') +
    (c[3] !== undefined && c[3] < 1 ? Math.round(c[3] * 255).toString(16).padStart(2, '0') : '');

  // Waits for el's running CSS transitions/animations (capped at 1 s) and a
  // frame, so computed styles are final.
  async function settle(el) {
    const anims = el.getAnimations ? el.getAnimations() : [];
    await Promise.race([Promise.all(anims.map((a) => a.finished.catch(() => {}))), new Promise((r) => setTimeout(r, 1000))]);
    await new Promise((r) => requestAnimationFrame(() => r()));
  }

  // ring: the focus-indicator properties of a computed style, and whether
  // they draw one: an outline at least 2px wide that is not none or
  // transparent (outline-style auto is Chromium's focus ring, painted 2px
  // wide even at outline-width 1px), or a box-shadow.
  function ring(s) {
    const w = parseFloat(s.outlineWidth) || 0;
    const color = parseColor(s.outlineColor);
    const outline = s.outlineStyle !== 'none' && color[3] > 0 && (w >= 2 || (s.outlineStyle === 'auto' && w > 0));
    return {
      outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, outlineColor: s.outlineColor, outlineOffset: s.outlineOffset,
      boxShadow: s.boxShadow, draws: outline || s.boxShadow !== 'none',
    };
  }

  // focusInfo reports the focused element's focus indicator. To be sure the
  // indicator comes from focus, the element is blurred, its style compared,
  // and focus put back (the page sees blur/focus events).
  async function focusInfo() {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) {
      return { tag: el ? el.tagName.toLowerCase() : '', id: '', role: '', label: '', focused: false, visible: false };
    }
    await settle(el);
    const focusVisible = el.matches(':focus-visible');
    const on = ring(getComputedStyle(el));
    el.blur();
    await settle(el);
    const off = ring(getComputedStyle(el));
    el.focus({ preventScroll: true });
    await settle(el);
    const changed = ['outlineStyle', 'outlineWidth', 'outlineColor', 'boxShadow'].some((k) => on[k] !== off[k]);
    return {
      tag: el.tagName.toLowerCase(), id: el.id, role: role(el), label: cut(label(el), 60), focused: true,
      focusVisible, outlineStyle: on.outlineStyle, outlineWidth: on.outlineWidth, outlineColor: on.outlineColor,
      boxShadow: on.boxShadow, draws: on.draws, changed, visible: on.draws && changed,
      blurred: { outlineStyle: off.outlineStyle, outlineWidth: off.outlineWidth, boxShadow: off.boxShadow },
      restored: document.activeElement === el,
    };
  }

  // inViewport: some of el is visible inside the viewport.
  function inViewport(el) {
    if (!shown(el)) return false;
    const view = { left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight };
    return fragments(el, false).some((r) => intersect(r, view));
  }

  window.__vigilChecks = {
    SKIP, BOXES, ROLES, elements, directText, label, describe, role, shown, clipBox, intersect, fragments,
    rect, union, parseColor, hex, settle, ring, focusInfo, inViewport,
  };
}

const helpers = (page) => page.evaluate(installHelpers);

// ---------------------------------------------------------------------------
// Layout

// overlaps finds visible leaf-ish boxes that overlap by more than 2px in
// both axes: elements with their own text (their text's line boxes count),
// form controls, img, video, canvas, svg and role=slider/button/link
// elements (their border boxes count). Pairs where one contains the other,
// or that share a [data-overlay] container (an intentional overlay such as a
// label over a video), are allowed. Measured at scroll position 0, so a
// fixed or sticky bar counts only against what lies under it unscrolled.
// Returns [{a, b, rectA, rectB}] (page coordinates), at most max pairs.
export async function overlaps(page, { max = 20 } = {}) {
  await helpers(page);
  return page.evaluate((max) => {
    const H = window.__vigilChecks;
    const saved = [window.scrollX, window.scrollY];
    window.scrollTo({ left: 0, top: 0, behavior: 'instant' });
    try {
      const items = [];
      for (const el of H.elements()) {
        const box = H.BOXES.has(el.tagName.toUpperCase()) || H.ROLES.has(el.getAttribute('role'));
        if (!box && H.directText(el).length === 0) continue;
        if (!H.shown(el)) continue;
        const rects = H.fragments(el, !box);
        if (rects.length) items.push({ el, rects });
      }
      // Allowed when some [data-overlay] container holds both.
      const sameOverlay = (a, b) => {
        for (let o = a.closest('[data-overlay]'); o; o = o.parentElement && o.parentElement.closest('[data-overlay]')) {
          if (o.contains(b)) return true;
        }
        return false;
      };
      const cross = (p, q) => Math.min(p.right, q.right) - Math.max(p.left, q.left) > 2 &&
        Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 2;
      const out = [];
      for (let i = 0; i < items.length && out.length < max; i++) {
        for (let j = i + 1; j < items.length && out.length < max; j++) {
          const a = items[i]; const b = items[j];
          if (a.el.contains(b.el) || b.el.contains(a.el) || sameOverlay(a.el, b.el)) continue;
          let hit = null;
          for (const p of a.rects) for (const q of b.rects) if (!hit && cross(p, q)) hit = [p, q];
          if (hit) out.push({ a: H.describe(a.el), b: H.describe(b.el), rectA: H.rect(hit[0]), rectB: H.rect(hit[1]) });
        }
      }
      return out;
    } finally {
      window.scrollTo({ left: saved[0], top: saved[1], behavior: 'instant' });
    }
  }, max);
}

// overflowX reports whether the page scrolls sideways and which elements
// stick out: {scrollWidth, innerWidth, clientWidth, count, offenders:
// [{el, left, right, width}]}. An offender is wider than the viewport or
// extends past its right edge, after clipping by overflow ancestors (so a
// wide table inside an overflow-x:auto wrapper is fine); only the outermost
// of nested offenders are listed, at most max of them; count counts all.
export async function overflowX(page, { max = 10 } = {}) {
  await helpers(page);
  return page.evaluate((max) => {
    const H = window.__vigilChecks;
    const vw = document.documentElement.clientWidth;
    const sticks = new Map();
    for (const el of H.elements()) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const c = H.intersect(r, H.clipBox(el));
      if (!c) continue;
      const right = c.right + window.scrollX;
      if (c.right - c.left > vw + 0.5 || right > vw + 0.5) {
        sticks.set(el, { el: H.describe(el), left: Math.round(c.left + window.scrollX), right: Math.round(right), width: Math.round(r.width) });
      }
    }
    const offenders = [...sticks].filter(([el]) => !sticks.has(el.parentElement)).map(([, v]) => v);
    return {
      scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, clientWidth: vw,
      count: sticks.size, offenders: offenders.slice(0, max),
    };
  }, max);
}

// ---------------------------------------------------------------------------
// Page weight

const regexps = (exclude) => [].concat(exclude || []).map((e) => (e instanceof RegExp ? e : new RegExp(e)));
const short = (url, origin) => (url.startsWith(origin + '/') ? url.slice(origin.length) : url);

// pageWeight sums Resource Timing sizes over the navigation and every
// resource the page fetched, leaving out URLs that match an exclude regexp:
// {total: {requests, transferSize, encodedBodySize, decodedBodySize},
//  excluded: {same}, urls: [{url, type, count, cached, transferSize,
//  encodedBodySize, decodedBodySize}]} with urls per distinct URL, largest
// first, same-origin URLs as paths. Chromium reports transferSize as
// encodedBodySize + 300 (a fixed allowance for headers), and 0 for responses
// from cache (counted in cached).
export async function pageWeight(page, { exclude } = {}) {
  const res = regexps(exclude);
  const { origin, entries } = await page.evaluate(() => ({
    origin: location.origin,
    entries: [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((e) => ({
      url: e.name, type: e.initiatorType, transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize,
    })),
  }));
  const zero = () => ({ requests: 0, transferSize: 0, encodedBodySize: 0, decodedBodySize: 0 });
  const total = zero();
  const excluded = zero();
  const urls = new Map();
  for (const e of entries) {
    const sum = res.some((re) => re.test(e.url)) ? excluded : total;
    sum.requests++;
    sum.transferSize += e.transferSize;
    sum.encodedBodySize += e.encodedBodySize;
    sum.decodedBodySize += e.decodedBodySize;
    if (sum === excluded) continue;
    const url = short(e.url, origin);
    const u = urls.get(url) || { url, type: e.type, count: 0, cached: 0, transferSize: 0, encodedBodySize: 0, decodedBodySize: 0 };
    u.count++;
    if (e.transferSize === 0 && e.encodedBodySize > 0) u.cached++;
    u.transferSize += e.transferSize;
    u.encodedBodySize += e.encodedBodySize;
    u.decodedBodySize += e.decodedBodySize;
    urls.set(url, u);
  }
  return { total, excluded, urls: [...urls.values()].sort((a, b) => b.transferSize - a.transferSize) };
}

// startWeight measures what crosses the network through the DevTools
// protocol, independently of Resource Timing. Call it before page.goto.
// stop({exclude, settleMs}) waits up to settleMs (default 2000) for
// requests still loading (other than excluded ones), stops measuring and
// returns {total: {requests, bytes, headerBytes, bodyBytes}, excluded: {same},
// pending, failed: [{url, error}], urls: [{url, type, count, cached, bytes,
// bodyBytes}]}: bytes is Network.loadingFinished's encodedDataLength
// (headers and body as received), headerBytes the response headers' share.
export async function startWeight(page) {
  const cdp = await page.context().newCDPSession(page);
  const reqs = new Map();
  const get = (id) => reqs.get(id) || {};
  cdp.on('Network.requestWillBeSent', (e) => {
    const prev = reqs.get(e.requestId);
    // A redirect reuses the request id: the redirect response counts too.
    const carried = prev && e.redirectResponse ? { bytes: e.redirectResponse.encodedDataLength || 0, headerBytes: e.redirectResponse.encodedDataLength || 0 } : { bytes: 0, headerBytes: 0 };
    reqs.set(e.requestId, { url: e.request.url, type: e.type || '', ...carried, body: 0, done: false, cached: false, error: '' });
  });
  cdp.on('Network.requestServedFromCache', (e) => { get(e.requestId).cached = true; });
  cdp.on('Network.responseReceived', (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    r.headerBytes += e.response.encodedDataLength || 0;
    if (e.response.fromDiskCache || e.response.fromPrefetchCache) r.cached = true;
  });
  cdp.on('Network.dataReceived', (e) => { get(e.requestId).body += e.encodedDataLength || 0; });
  cdp.on('Network.loadingFinished', (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.bytes += e.encodedDataLength;
    r.done = true;
  });
  cdp.on('Network.loadingFailed', (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.done = true;
    r.error = e.errorText + (e.canceled ? ' (canceled)' : '');
  });
  await cdp.send('Network.enable');

  return {
    async stop({ exclude, settleMs = 2000 } = {}) {
      const res = regexps(exclude);
      const network = ([, r]) => /^(https?|wss?):/.test(r.url);
      const isExcluded = (r) => res.some((re) => re.test(r.url));
      const deadline = Date.now() + settleMs;
      while (Date.now() < deadline && [...reqs].filter(network).some(([, r]) => !r.done && !isExcluded(r))) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await cdp.detach().catch(() => {});
      const origin = await page.evaluate(() => location.origin).catch(() => '');
      const zero = () => ({ requests: 0, bytes: 0, headerBytes: 0, bodyBytes: 0 });
      const total = zero();
      const excluded = zero();
      const failed = [];
      const urls = new Map();
      let pending = 0;
      for (const [, r] of [...reqs].filter(network)) {
        // A request still loading counts what arrived of its body so far.
        const bytes = r.done ? r.bytes : r.headerBytes + r.body;
        const bodyBytes = Math.max(0, bytes - r.headerBytes);
        const sum = isExcluded(r) ? excluded : total;
        sum.requests++;
        sum.bytes += bytes;
        sum.headerBytes += Math.min(bytes, r.headerBytes);
        sum.bodyBytes += bodyBytes;
        if (sum === excluded) continue;
        if (!r.done) pending++;
        if (r.error) failed.push({ url: short(r.url, origin), error: r.error });
        const url = short(r.url, origin);
        const u = urls.get(url) || { url, type: r.type, count: 0, cached: 0, bytes: 0, bodyBytes: 0 };
        u.count++;
        if (r.cached) u.cached++;
        u.bytes += bytes;
        u.bodyBytes += bodyBytes;
        urls.set(url, u);
      }
      return { total, excluded, pending, failed, urls: [...urls.values()].sort((a, b) => b.bytes - a.bytes) };
    },
  };
}

// ---------------------------------------------------------------------------
// Keyboard focus

// focusVisible reports the focused element's focus indicator: {tag, id,
// role, label, focused, focusVisible (matches :focus-visible), outlineStyle,
// outlineWidth, outlineColor, boxShadow, draws, changed, visible, blurred,
// restored}. draws: an outline >= 2px (not none or transparent; Chromium's
// outline-style auto ring counts, it is painted 2px wide) or a box-shadow;
// changed: the outline or box-shadow differs once the element is blurred
// (focus is then put back; restored says it was); visible = draws && changed.
// With nothing focused, {tag: 'body', focused: false, visible: false}.
export async function focusVisible(page) {
  await helpers(page);
  return page.evaluate(() => window.__vigilChecks.focusInfo());
}

// resetFocus blurs whatever has focus and scrolls to the top, so that the
// next Tab starts keyboard navigation from the top of the document.
// Blurring alone is not enough: Chromium resumes Tab after the element that
// had focus. Focusing the body (briefly focusable) moves the sequential
// navigation starting point to the top.
export async function resetFocus(page) {
  await page.evaluate(() => {
    if (document.activeElement) document.activeElement.blur();
    window.scrollTo({ left: 0, top: 0, behavior: 'instant' });
    const b = document.body;
    const had = b.getAttribute('tabindex');
    b.setAttribute('tabindex', '-1');
    b.focus({ preventScroll: true });
    if (had === null) b.removeAttribute('tabindex'); else b.setAttribute('tabindex', had);
  });
}

// tabOrder starts keyboard navigation from the top of the document, presses
// Tab n times and returns, per press, {el, inViewport, focus} where el
// describes the focused element, inViewport says some of it is visible in
// the viewport after the browser scrolled it there, and focus is
// focusVisible's report. Focus leaving the page shows as el 'body'.
export async function tabOrder(page, n) {
  await helpers(page);
  await resetFocus(page);
  const seq = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    seq.push(await page.evaluate(async () => {
      const H = window.__vigilChecks;
      const el = document.activeElement;
      const body = !el || el === document.body || el === document.documentElement;
      return { el: body ? 'body' : H.describe(el), inViewport: !body && H.inViewport(el), focus: await H.focusInfo() };
    }));
  }
  return seq;
}

// ---------------------------------------------------------------------------
// Screenshots

// screenshot saves a full-page PNG as dir/name.png and returns its path.
export async function screenshot(page, dir, name) {
  mkdirSync(dir, { recursive: true });
  const path = resolve(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// ---------------------------------------------------------------------------
// Contrast

// contrast checks WCAG 2 AA text contrast independently of axe: for every
// visible element with its own text (disabled controls are exempt), the text
// colour against the background composed from its ancestors' background
// colours and opacities down to the first opaque one (the canvas colour
// below all). Text over a background image, or overlapping a video, img,
// canvas, iframe or another element's background (e.g. a label laid over a
// video), is "unknown" and skipped. Thresholds: 4.5, or 3 for large text
// (>= 24px, or >= 18.66px and bold). Returns {checked, unknown, failed,
// failures: [{el, ratio, threshold, fg, bg, fontSize, fontWeight}] (at most
// max), unknowns: [{el, reason}] (at most 10)}.
export async function contrast(page, { max = 20 } = {}) {
  await helpers(page);
  return page.evaluate((max) => {
    const H = window.__vigilChecks;
    const parse = (s) => H.parseColor(s);
    const over = (top, below) => { // top [r,g,b,a] over opaque below
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
    };
    const mix = (below, above, o) => [0, 1, 2].map((i) => above[i] * o + below[i] * (1 - o)).concat(1);
    const lum = (c) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const s = v / 255;
        return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
      const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };

    // The canvas behind everything: the Canvas system colour of the root's
    // colour scheme (white unless the page asks for dark).
    const probe = document.createElement('div');
    probe.style.cssText = 'position:absolute;width:0;height:0;background-color:Canvas';
    document.documentElement.appendChild(probe);
    const canvasColor = parse(getComputedStyle(probe).backgroundColor);
    probe.remove();
    canvasColor[3] = 1;

    // Elements that paint something other than a flat colour, or a colour
    // not among a text's ancestors, that text might sit on.
    const painted = [];
    for (const el of H.elements()) {
      const s = getComputedStyle(el);
      const media = /^(VIDEO|IMG|CANVAS|IFRAME|EMBED|OBJECT|PICTURE)$/.test(el.tagName) || el.tagName.toUpperCase() === 'SVG';
      if (!media && s.backgroundImage === 'none' && parse(s.backgroundColor)[3] === 0) continue;
      if (!H.shown(el)) continue;
      const rects = H.fragments(el, false);
      if (rects.length) painted.push({ el, rects, reason: media ? el.tagName.toLowerCase() : s.backgroundImage !== 'none' ? 'background-image' : 'background' });
    }

    let checked = 0;
    let unknown = 0;
    const failures = [];
    const unknowns = [];
    let failed = 0;
    for (const el of H.elements()) {
      if (H.directText(el).length === 0 || !H.shown(el)) continue;
      if (el.closest(':disabled, [aria-disabled="true"]')) continue;
      const rects = H.fragments(el, true);
      if (!rects.length) continue;

      // Backdrop from the ancestors, nearest first, up to an opaque one.
      const chain = [];
      let why = '';
      for (let a = el; a; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.backgroundImage !== 'none') { why = `background-image on ${H.describe(a)}`; break; }
        const bg = parse(s.backgroundColor);
        const opacity = parseFloat(s.opacity);
        chain.push({ bg, opacity });
        if (bg[3] === 1 && opacity === 1) break;
      }
      // Anything painted under (or over) the text that is not an ancestor.
      if (!why) {
        for (const p of painted) {
          if (p.el.contains(el) || el.contains(p.el)) continue;
          if (p.rects.some((q) => rects.some((r) => Math.min(q.right, r.right) - Math.max(q.left, r.left) > 2 &&
            Math.min(q.bottom, r.bottom) - Math.max(q.top, r.top) > 2))) {
            why = `${p.reason} of ${H.describe(p.el)}`;
            break;
          }
        }
      }
      if (why) {
        unknown++;
        if (unknowns.length < 10) unknowns.push({ el: H.describe(el), reason: why });
        continue;
      }

      // Compose from the outermost layer in: each element's background over
      // what is below, its subtree then blended in by its opacity.
      const s = getComputedStyle(el);
      let fgColor = parse(s.color);
      const fill = parse(s.webkitTextFillColor);
      if (s.webkitTextFillColor && fill.join() !== fgColor.join()) fgColor = fill;
      const render = (i, below, text) => {
        const layer = chain[i];
        const drawn = over(layer.bg, below);
        const inner = i === 0 ? (text ? over(fgColor, drawn) : drawn) : render(i - 1, drawn, text);
        return mix(below, inner, layer.opacity);
      };
      const fg = render(chain.length - 1, canvasColor, true);
      const bg = render(chain.length - 1, canvasColor, false);
      const r = ratio(fg, bg);
      const size = parseFloat(s.fontSize);
      const weight = parseInt(s.fontWeight, 10) || 400;
      const threshold = size >= 24 || (size >= 18.66 && weight >= 700) ? 3 : 4.5;
      checked++;
      if (r < threshold) {
        failed++;
        if (failures.length < max) {
          failures.push({ el: H.describe(el), ratio: Math.round(r * 100) / 100, threshold, fg: H.hex(fg), bg: H.hex(bg), fontSize: s.fontSize, fontWeight: weight });
        }
      }
    }
    return { checked, unknown, failed, failures, unknowns };
  }, max);
}
