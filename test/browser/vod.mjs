// VOD: plays /hls/{stream}/index.m3u8?start=&end=, seeks to the middle of
// the media timeline, and reports the wall-clock time (PROGRAM-DATE-TIME)
// playing there; then seeks by date with vigilPlayer.seekToDate.
// Usage: node vod.mjs --base URL --stream NAME --start T --end U [--date D]
// Prints {duration, live, firstDate, middle:{target, targetDate, ...}, byDate:{...}, ...}.
import { args, withPlayer, state, events, waitPlaying } from './lib.mjs';

const a = args(['base', 'stream', 'start', 'end', 'date']);

// seekAndPlay seeks with how() in the page and waits until playing resumes
// past the target. It returns the state there, and targetDate: the playing
// date taken back to the seek target (playingDate less the time played
// since), so a slow machine does not widen the figure.
async function seekAndPlay(page, how, arg) {
  const target = await page.evaluate(how, arg);
  const handle = await page.waitForFunction((t) => {
    const v = window.vigilPlayer.video;
    const d = window.vigilPlayer.playingDate();
    if (v.seeking || v.paused || v.readyState < 3 || v.currentTime < t + 0.2 || !d) return false;
    return new Date(Date.parse(d) - (v.currentTime - t) * 1000).toISOString();
  }, target, { timeout: 20000 });
  const targetDate = await handle.jsonValue();
  return { target, targetDate, ...(await state(page)) };
}

await withPlayer(a.base, { stream: a.stream, start: a.start, end: a.end }, async (page) => {
  await waitPlaying(page, 30000);
  const s = await state(page);
  const vod = await page.evaluate(() => {
    const h = window.vigilPlayer.hls;
    const d = h.levels[Math.max(h.currentLevel, 0)].details;
    return { live: d.live, fragments: d.fragments.length, firstDate: new Date(d.fragments[0].programDateTime).toISOString(),
      datesOnEvery: d.fragments.every((f) => f.programDateTime != null) };
  });
  const middle = await seekAndPlay(page, (mid) => { window.vigilPlayer.video.currentTime = mid; return mid; }, s.duration / 2);
  let byDate = null;
  if (a.date) {
    byDate = await seekAndPlay(page, (d) => {
      if (!window.vigilPlayer.seekToDate(d)) throw new Error('seekToDate: no fragment covers ' + d);
      return window.vigilPlayer.video.currentTime;
    }, a.date);
  }
  const log = await events(page);
  return {
    duration: s.duration, ...vod, middle, byDate, stalls: (await state(page)).stalls,
    waiting: log.filter((e) => e.type === 'waiting'),
    hlsErrors: log.filter((e) => e.type === 'hls-error'),
    cspViolations: log.filter((e) => e.type === 'csp-violation'),
  };
});
