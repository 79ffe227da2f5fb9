// Live: plays /hls/{stream}/index.m3u8 and samples currentTime once a second.
// Usage: node live.mjs --base http://HOST:PORT --stream NAME [--seconds 10] [--startup-timeout 30]
// Prints {startupMs, samples:[{wall, currentTime}], advanced, stalls, waiting, hlsErrors, ...}.
import { args, withPlayer, state, events, waitPlaying, sleep } from './lib.mjs';

const a = args(['base', 'stream', 'seconds', 'startup-timeout']);
const seconds = Number(a.seconds || 10);
const startupTimeout = 1000 * Number(a['startup-timeout'] || 30);

await withPlayer(a.base, { stream: a.stream }, async (page) => {
  const t0 = Date.now();
  await waitPlaying(page, startupTimeout);
  const startupMs = Date.now() - t0;
  const first = await state(page);
  const samples = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const s = await state(page);
    samples.push({ wall: (Date.now() - t0) / 1000, currentTime: s.currentTime, paused: s.paused });
  }
  const last = await state(page);
  const log = await events(page);
  return {
    startupMs,
    samples,
    advanced: last.currentTime - first.currentTime,
    // Startup ends once the position has moved (waitPlaying): a 'waiting'
    // before that is hls.js settling on the first fragment, not a stall.
    stalls: last.stalls - first.stalls,
    waiting: log.filter((e) => e.type === 'waiting'),
    hlsErrors: log.filter((e) => e.type === 'hls-error'),
    cspViolations: log.filter((e) => e.type === 'csp-violation'),
    playingDate: last.playingDate,
    buffered: last.buffered,
    // The fragments played, for a failure message: sequence number, date, when.
    frags: await page.evaluate(() => window.vigilPlayer.events.filter((e) => e.type === 'frag').map((e) => [e.sn, e.date, e.ms])),
  };
});
