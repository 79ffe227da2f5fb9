// Shared by the browser checks: argument parsing, a headless Chromium with a
// fresh profile, the player page, and the one-line JSON result the Go test
// (test/browser_test.go) reads.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// Debian's Chromium; never a downloaded one. The network is closed, so no
// background traffic: without these flags Chromium floods refused connections.
const CHROMIUM = process.env.VIGIL_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

// args parses --name value options; every option is a string.
export function args(names) {
  const options = {};
  for (const n of names) options[n] = { type: 'string' };
  return parseArgs({ options }).values;
}

// withPlayer opens player.html with the given query in a fresh Chromium,
// runs fn(page, log), prints fn's result (or the error) as one JSON line and
// closes everything. log collects console errors and page errors.
export async function withPlayer(base, query, fn) {
  const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  const log = { consoleErrors: [], pageErrors: [] };
  let ctx;
  let page;
  let result;
  try {
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') log.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => log.pageErrors.push(String(e)));
    await page.goto(`${base}/ui/player.html?${new URLSearchParams(query)}`);
    result = await fn(page);
  } catch (e) {
    result = { error: String(e && e.stack || e) };
    // What the player saw, for the failure message.
    if (page) result.events = await events(page).catch(() => undefined);
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ ...result, ...log }));
}

// state reads what the page exposes as window.vigilPlayer.
export function state(page) {
  return page.evaluate(() => {
    const p = window.vigilPlayer;
    const v = p.video;
    return {
      currentTime: v.currentTime, duration: v.duration, paused: v.paused, readyState: v.readyState,
      started: p.started, stalls: p.stalls, playingDate: p.playingDate(), fragmentDate: p.fragmentDate,
      buffered: [...Array(v.buffered.length).keys()].map((i) => [v.buffered.start(i), v.buffered.end(i)]),
    };
  });
}

// events returns the page's event log, without the per-fragment entries.
export function events(page) {
  return page.evaluate(() => (window.vigilPlayer ? window.vigilPlayer.events : []).filter((e) => e.type !== 'frag'));
}

// waitPlaying waits until playback has started and the position moves.
export async function waitPlaying(page, timeoutMs) {
  await page.waitForFunction(() => window.vigilPlayer && window.vigilPlayer.started, null, { timeout: timeoutMs });
  const t = (await state(page)).currentTime;
  await page.waitForFunction((t0) => window.vigilPlayer.video.currentTime > t0 + 0.2, t, { timeout: timeoutMs });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
