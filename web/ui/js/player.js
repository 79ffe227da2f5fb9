// Player: one <video> element playing a stream's HLS through hls.js (window.Hls,
// vendored in /ui/vendor), live or from a moment in the past. Safari, which
// plays HLS natively, gets the playlist URL directly.
import { urls } from './api.js';

// Replays start as a bounded window (an on-demand playlist that loads once)
// and move on to the next window when it ends; near the present they are an
// open replay that grows into live.
const WINDOW_MS = 30 * 60 * 1000;

export class Player {
  // video: the element. opts.lowLatency: blocking playlist reloads (one
  // held connection per player; the wall uses plain polling so that many
  // tiles fit in the browser's six connections per host).
  // opts.onStatus(text) reports what the player is doing.
  constructor(video, opts = {}) {
    this.video = video;
    this.opts = opts;
    this.hls = null;
    this.stream = '';
    this.mode = 'idle';
    this.started = false;
    this.stalls = 0;
    this.retry = null;
    this.windowEnd = null;
    video.muted = true;
    video.playsInline = true;
    this.onPlaying = () => { this.started = true; this.status(''); };
    this.onWaiting = () => { if (this.started && !video.seeking) { this.stalls++; this.status('Buffering…'); } };
    this.onEnded = () => { if (this.windowEnd) this.playAt(this.stream, this.windowEnd); };
    video.addEventListener('playing', this.onPlaying);
    video.addEventListener('waiting', this.onWaiting);
    video.addEventListener('ended', this.onEnded);
  }

  status(text) { if (this.opts.onStatus) this.opts.onStatus(text); }

  // live plays the live edge.
  live(stream) {
    this.load(stream, 'live', urls.live(stream), null);
  }

  // playAt plays from wall-clock time `at` (a Date).
  playAt(stream, at) {
    const now = Date.now();
    let url;
    this.windowEnd = null;
    if (at.getTime() + WINDOW_MS < now - 10000) {
      this.windowEnd = new Date(at.getTime() + WINDOW_MS);
      url = `${urls.replay(stream, at)}&end=${encodeURIComponent(this.windowEnd.toISOString())}`;
    } else {
      url = urls.replay(stream, at);
    }
    this.load(stream, 'past', url, at);
  }

  load(stream, mode, url, at) {
    this.teardown();
    this.stream = stream;
    this.mode = mode;
    this.started = false;
    this.stalls = 0;
    this.url = url;
    this.target = at;
    const video = this.video;
    const Hls = window.Hls;
    if (Hls && Hls.isSupported()) {
      const hls = new Hls({
        enableWorker: true,
        lowLatencyMode: !!this.opts.lowLatency,
        liveSyncDurationCount: 2,
        backBufferLength: 30,
        maxBufferLength: 20,
        // A replay starts where it was asked for, not at the playlist's start.
        autoStartLoad: !at,
      });
      this.hls = hls;
      if (at) {
        hls.once(Hls.Events.LEVEL_LOADED, (_, data) => hls.startLoad(offsetOf(data.details.fragments, at)));
      }
      hls.on(Hls.Events.MANIFEST_PARSED, () => this.autoplay());
      hls.on(Hls.Events.ERROR, (_, data) => this.onError(data));
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;
      this.autoplay();
    } else {
      this.status('This browser cannot play HLS.');
    }
  }

  autoplay() {
    const p = this.video.play();
    if (p && p.catch) p.catch(() => this.status('Press play to start.'));
  }

  onError(data) {
    if (!data.fatal) return;
    const Hls = window.Hls;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      this.hls.recoverMediaError();
    } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      const code = data.response && data.response.code;
      this.status(code === 404 ? 'Nothing recorded here.' : 'Waiting for video…');
      // The stream may not be up yet: reload shortly, never in a tight loop.
      clearTimeout(this.retry);
      this.retry = setTimeout(() => {
        if (this.mode === 'live') this.live(this.stream);
        else if (this.target) this.playAt(this.stream, this.target);
      }, 3000);
    } else {
      this.status('Cannot play: ' + data.details);
      this.teardown();
    }
  }

  // playingDate is the wall-clock time on screen (EXT-X-PROGRAM-DATE-TIME), or null.
  playingDate() {
    return (this.hls && this.hls.playingDate) || null;
  }

  teardown() {
    clearTimeout(this.retry);
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.video.removeAttribute('src');
  }

  destroy() {
    this.teardown();
    this.video.removeEventListener('playing', this.onPlaying);
    this.video.removeEventListener('waiting', this.onWaiting);
    this.video.removeEventListener('ended', this.onEnded);
    this.mode = 'idle';
  }
}

// offsetOf returns the media time of wall-clock `at` in a playlist's
// fragments (through their program dates), or 0 when none covers it.
export function offsetOf(frags, at) {
  const t = at.getTime();
  for (const f of frags) {
    if (f.programDateTime == null) continue;
    if (t < f.programDateTime) return f.start;
    if (t < f.programDateTime + f.duration * 1000) return f.start + (t - f.programDateTime) / 1000;
  }
  return frags.length ? frags[0].start : 0;
}
