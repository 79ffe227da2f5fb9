// UI: drives vigil's browser UI through a new user's main jobs and checks
// every page. Run by test/ui_test.go, which starts vigil with two cameras
// (cam1: a test pattern; lobby: a face, detection on, collection "staff")
// and an event hook (GET HOOK/publish?stream=&type= publishes a face event
// on vigil's NATS and answers {id, publishedMs}).
// Usage: node ui.mjs --base URL --hook URL --face IMAGE --artifacts DIR
// Prints one JSON line: {wall, faces, events, camera, review, ...log}.
import { args, sleep } from './lib.mjs';
import {
  audit, contrast, focusVisible, openApp, overflowX, overlaps, pageWeight, resetFocus, screenshot, startWeight,
} from './checks.mjs';

const a = args(['base', 'hook', 'face', 'artifacts']);
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const out = { wall: {}, faces: {}, events: {}, camera: {}, review: [] };
const app = await openApp({ viewport: DESKTOP });
const { page } = app;
// Every request the UI makes, as "METHOD /path?query", for the check that
// it uses only the documented API.
const requests = new Set();
app.ctx.on('request', (r) => {
  const u = new URL(r.url());
  // blob: URLs are hls.js feeding the video element, not requests.
  if (/^https?:$/.test(u.protocol) && u.origin === new URL(a.base).origin) requests.add(`${r.method()} ${u.pathname}${u.search}`);
});
const go = (hash) => page.goto(`${a.base}/ui/${hash}`);
const getJSON = async (path) => (await fetch(a.base + path)).json();
const attr = (sel, name) => page.locator(sel).first().getAttribute(name);

// Wall: both tiles play; the first plays within 2 s of navigation; the
// page's assets (everything but /hls/ video) weigh under 300 KB.
async function wall() {
  const weight = await startWeight(page);
  await go('');
  const first = await page.waitForFunction(() => {
    const v = [...document.querySelectorAll('.wall video')].find((x) => x.currentTime > 0 && !x.paused);
    return v ? performance.now() : false;
  }, null, { polling: 'raf', timeout: 30000 });
  out.wall.firstTileMs = await first.jsonValue();
  await page.waitForFunction(() => {
    const vs = [...document.querySelectorAll('.wall video')];
    return vs.length === 2 && vs.every((v) => v.currentTime > 0);
  }, null, { timeout: 30000 });
  const times = () => page.evaluate(() => [...document.querySelectorAll('.wall li')].map((li) => ({
    stream: li.dataset.stream, t: li.querySelector('video').currentTime,
  })));
  const t1 = await times();
  await sleep(3000);
  const t2 = await times();
  out.wall.videos = t2.map((x, i) => ({ stream: x.stream, advanced: x.t - t1[i].t }));
  const rt = await pageWeight(page, { exclude: ['/hls/'] });
  const cdp = await weight.stop({ exclude: ['/hls/', '/api/v1/events/live'] });
  out.wall.weight = {
    transferBytes: rt.total.transferSize, cdpBytes: cdp.total.bytes, requests: rt.total.requests,
    urls: cdp.urls.map((u) => ({ url: u.url, bytes: u.bytes })),
  };
}

// Faces: enrol a person from an uploaded photo and see them listed with
// the face's crop; create a collection from the page.
async function faces() {
  await go('#/faces/staff');
  await page.getByLabel('Name', { exact: true }).fill('Alice');
  await page.getByLabel('Photos').setInputFiles(a.face);
  await page.getByRole('button', { name: 'Enrol' }).click();
  await page.waitForSelector('.person[data-person="Alice"]', { timeout: 20000 });
  out.faces.listed = true;
  out.faces.cropLoaded = await page.waitForFunction(() => {
    const img = document.querySelector('.person[data-person="Alice"] img');
    return !!img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 10000 }).then(() => true, () => false);
  await page.getByLabel('New collection').fill('visitors');
  await page.getByRole('button', { name: 'Create' }).click();
  out.faces.newCollection = await page.waitForSelector('.side-list a[aria-current="page"]:has-text("visitors")', { timeout: 10000 })
    .then(() => true, () => false);
}

// Events: an event published on NATS shows in the live feed; its face
// thumbnail loads.
async function liveEvent() {
  await go('#/events');
  await page.waitForSelector('.page-head .badge.ok', { timeout: 10000 }); // the feed is connected
  const r = await (await fetch(`${a.hook}/publish?stream=lobby&type=face.matched`)).json();
  await page.waitForSelector(`li.event[data-id="${r.id}"]`, { timeout: 10000 });
  out.events.latencyMs = Date.now() - r.publishedMs;
  out.events.thumbnail = await page.waitForSelector(`li.event[data-id="${r.id}"] .thumb img.placed`, { timeout: 10000 })
    .then(() => true, () => false);
}

// Who is this: enrol the face of an unknown-face event the detector
// published for lobby.
async function whoIsThis() {
  await go('#/events?stream=lobby&type=face.unknown');
  const button = page.locator('li.event[data-type="face.unknown"] button:has-text("Who is this?")').first();
  await button.waitFor({ timeout: 60000 });
  await button.click();
  const dialog = page.locator('dialog[open]');
  await dialog.getByLabel('Name').fill('Bob');
  await dialog.getByRole('button', { name: 'Enrol' }).click();
  await page.waitForFunction(() => !document.querySelector('dialog[open]') || document.querySelector('dialog[open] .error').textContent,
    null, { timeout: 20000 });
  out.faces.whoIsThisError = await page.evaluate(() => {
    const e = document.querySelector('dialog[open] .error');
    return e ? e.textContent : '';
  });
  const listed = await getJSON('/api/v1/collections/staff/faces');
  out.faces.whoIsThis = listed.faces.some((f) => f.external_id === 'Bob');
  await page.keyboard.press('Escape');
}

// playingAt waits for the camera page's on-screen time to be set (the
// player clears it on every new position) and returns it.
async function playingAt(near, within) {
  const h = await page.waitForFunction(([near, within]) => {
    const d = document.querySelector('.playing-at').getAttribute('datetime');
    if (!d) return false;
    return near == null || Math.abs(Date.parse(d) - near) < within ? d : false;
  }, [near, within], { timeout: 20000 });
  return h.jsonValue();
}

// Camera: a click 2 minutes back on the timeline plays from there; the
// timeline works from the keyboard; a range makes a clip; a still saves.
async function camera() {
  const deadline = Date.now() + 240000;
  for (;;) {
    const { spans } = await getJSON('/api/v1/streams/cam1/timeline');
    if (spans.length && Date.parse(spans[0].start) <= Date.now() - 130000) break;
    if (Date.now() > deadline) throw new Error('cam1 never had 2 minutes recorded: ' + JSON.stringify(spans));
    await sleep(1000);
  }
  await go('#/camera/cam1');
  await page.waitForSelector('.tl-span', { timeout: 20000 });
  await playingAt(null, 0); // live is playing
  const track = page.locator('.tl-track');
  const box = await track.boundingBox();
  const vmin = Number(await track.getAttribute('aria-valuemin'));
  const vmax = Number(await track.getAttribute('aria-valuemax'));
  const want = Date.now() / 1000 - 120;
  const x = box.x + ((want - vmin) / (vmax - vmin)) * box.width;
  const clicked = Date.now();
  await page.mouse.click(x, box.y + box.height / 2);
  const target = await track.getAttribute('data-cursor');
  const at = await playingAt(Date.parse(target), 30000);
  out.camera.startMs = Date.now() - clicked;
  out.camera.target = target;
  out.camera.playingAt = at;
  const ct = () => page.evaluate(() => document.querySelector('.player video').currentTime);
  const c1 = await ct();
  await sleep(2000);
  out.camera.advanced = (await ct()) - c1;

  // Keyboard: Tab from the top reaches the timeline with a visible focus;
  // three ArrowRights move the moment three steps on and playback follows.
  await resetFocus(page);
  let tabs = 0;
  for (; tabs < 80; tabs++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.classList.contains('tl-track'))) break;
  }
  out.camera.keyTabs = tabs < 80 ? tabs + 1 : 0;
  out.camera.keyFocusVisible = (await focusVisible(page)).visible;
  const vnow = async () => Number(await track.getAttribute('aria-valuenow'));
  out.camera.keyStep = (Number(await track.getAttribute('aria-valuemax')) - Number(await track.getAttribute('aria-valuemin'))) / 60;
  out.camera.keyBefore = await vnow();
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  out.camera.keyAfter = await vnow();
  out.camera.keyPlayingAt = await playingAt(out.camera.keyAfter * 1000, 3000);
  out.camera.zoomBefore = await page.locator('.tl-zoom').textContent();
  await page.keyboard.press('+');
  out.camera.zoomAfter = await page.locator('.tl-zoom').textContent();

  // Drag: press at one moment, move to another (a still of the moment under
  // the pointer shows), release: playback starts where the pointer let go.
  {
    await page.getByRole('button', { name: 'Now', exact: true }).click(); // the view ends at the present
    const b = await track.boundingBox();
    const lo = Number(await track.getAttribute('aria-valuemin'));
    const hi = Number(await track.getAttribute('aria-valuemax'));
    const xAt = (sec) => b.x + ((sec - lo) / (hi - lo)) * b.width;
    const from = Date.now() / 1000 - 100;
    const to = Date.now() / 1000 - 70;
    await page.mouse.move(xAt(from), b.y + b.height / 2);
    await page.mouse.down();
    await page.mouse.move(xAt(to), b.y + b.height / 2, { steps: 8 });
    out.camera.dragPreview = await page.waitForFunction(() => {
      const p = document.querySelector('.tl-preview');
      const img = p && p.querySelector('img');
      return !p.hidden && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 5000 }).then(() => true, () => false);
    await page.mouse.up();
    out.camera.dragTarget = await track.getAttribute('data-cursor');
    out.camera.dragPlayingAt = await playingAt(Date.parse(out.camera.dragTarget), 3000);
  }

  // A range: mark start here, two steps on, mark end; the clip link works.
  await page.getByRole('button', { name: 'Mark start' }).click();
  await track.focus();
  for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
  await page.getByRole('button', { name: 'Mark end' }).click();
  const href = await page.locator('a:has-text("Download clip")').getAttribute('href');
  out.camera.clipHref = href;
  const head = await page.evaluate(async (href) => {
    const ctl = new AbortController();
    const r = await fetch(href, { signal: ctl.signal });
    ctl.abort();
    return { status: r.status, type: r.headers.get('content-type') };
  }, href);
  out.camera.clipStatus = head.status;
  out.camera.clipType = head.type;
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.getByRole('button', { name: 'Save still' }).click()]);
  out.camera.stillStatus = (await fetch(download.url())).status;
  await download.cancel().catch(() => {});
}

// Settings: add a camera that pulls from an RTSP source (nothing answers
// there, so it shows its error) and a webhook notifier, and send a test.
async function settings() {
  await go('#/settings');
  await page.getByRole('button', { name: 'Add camera' }).click();
  let dialog = page.locator('dialog[open]');
  await dialog.getByLabel('Name').fill('yard');
  await dialog.getByLabel('RTSP source').fill('rtsp://127.0.0.1:9/stream1');
  await dialog.getByLabel('Keep recordings').selectOption('72h');
  await dialog.getByRole('button', { name: 'Save' }).click();
  out.settings = {};
  out.settings.cameraAdded = await page.waitForSelector('.card[data-stream="yard"]', { timeout: 10000 }).then(() => true, () => false);
  await page.getByRole('button', { name: 'Add notifier' }).click();
  dialog = page.locator('dialog[open]');
  await dialog.getByLabel('Name').fill('ops');
  await dialog.getByLabel('URL').fill(`${a.hook}/webhook`);
  await dialog.getByRole('button', { name: 'Save' }).click();
  const card = page.locator('.card[data-notifier="ops"]');
  out.settings.notifierAdded = await card.waitFor({ timeout: 10000 }).then(() => true, () => false);
  await card.getByRole('button', { name: 'Send test' }).click();
  await page.waitForFunction(() => /Test (delivered|failed)/.test(document.querySelector('.card[data-notifier="ops"]').textContent), null, { timeout: 20000 });
  out.settings.testResult = await card.locator('.row span.muted').textContent();
}

// tabCheck presses Tab through the page and reports the controls it never
// reaches and those it reaches without a visible focus indicator. The
// media controls of a <video> draw their own focus ring inside the
// element, so videos are checked for reachability only.
async function tabCheck() {
  const n = await page.evaluate(() => {
    const sel = 'a[href], button, input, select, textarea, video[controls], [tabindex]:not([tabindex="-1"])';
    const shown = (el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden' && !el.closest('[hidden], [inert], [aria-hidden="true"]');
    };
    const els = [...document.querySelectorAll(sel)].filter((el) => !el.disabled && el.tabIndex >= 0 && shown(el));
    els.forEach((el, i) => { el.dataset.tabcheck = String(i); });
    return els.length;
  });
  await resetFocus(page);
  const reached = new Set();
  const noFocus = [];
  // A video's controls take several Tab stops, and a live feed adds
  // controls while this runs.
  for (let i = 0; i < 3 * n + 12 && reached.size < n; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      return { id: el && el.dataset ? el.dataset.tabcheck : undefined, tag: el ? el.tagName : '' };
    });
    if (info.id == null || reached.has(info.id)) continue;
    reached.add(info.id);
    if (info.tag !== 'VIDEO') {
      const f = await focusVisible(page);
      if (!f.visible) noFocus.push(`${f.tag}#${f.id} "${f.label}" (${f.outlineStyle} ${f.outlineWidth}, ${f.boxShadow})`);
    }
  }
  const unreached = await page.evaluate((ids) => [...document.querySelectorAll('[data-tabcheck]')]
    .filter((el) => !ids.includes(el.dataset.tabcheck))
    .map((el) => `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40)}"`), [...reached]);
  return { tabs: n, unreached, noFocusRing: noFocus };
}

// Review: every page at both sizes: a screenshot, axe's WCAG 2.1 AA rules,
// overlapping elements, sideways scrolling, text contrast, and (at desktop
// size) keyboard reachability with a visible focus.
async function review() {
  const pages = [['wall', ''], ['camera', '#/camera/lobby'], ['events', '#/events'], ['faces', '#/faces/staff'], ['settings', '#/settings']];
  for (const [size, vp] of [['1440x900', DESKTOP], ['390x844', PHONE]]) {
    await app.setViewport(vp);
    for (const [name, hash] of pages) {
      const errorsBefore = app.log.pageErrors.length;
      await go(hash);
      await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
      await sleep(2500); // videos start, thumbnails load
      const r = { page: name, size };
      r.screenshot = await screenshot(page, a.artifacts, `${name}-${size}`);
      const ax = await audit(page);
      r.axe = ax.violations;
      r.overlaps = await overlaps(page);
      r.overflow = (await overflowX(page)).offenders;
      r.contrast = (await contrast(page)).failures;
      if (size === '1440x900') Object.assign(r, await tabCheck());
      r.errors = app.log.pageErrors.slice(errorsBefore);
      out.review.push(r);
    }
  }
}

try {
  await wall();
  await faces();
  await liveEvent();
  await whoIsThis();
  await settings();
  await camera();
  await review();
} catch (e) {
  out.error = String((e && e.stack) || e);
  await screenshot(page, a.artifacts, 'failure').catch(() => {});
} finally {
  out.consoleErrors = app.log.consoleErrors;
  out.pageErrors = app.log.pageErrors;
  out.failedRequests = app.log.failedRequests;
  out.requests = [...requests].sort();
  await app.close();
}
console.log(JSON.stringify(out));
