// Camera page: one stream's player (live or from any recorded moment), its
// timeline, clip and still downloads, and the events in view.
import { api, urls } from './api.js';
import { Player } from './player.js';
import { Timeline } from './timeline.js';
import { fill, fmtBytes, fmtDuration, fmtRate, fmtSpan, fmtTime, h, toast } from './dom.js';
import { eventCard } from './eventcard.js';

const CLIP_MAX_MS = 3600e3; // the clip route's limit
const SHOWN_EVENTS = 12; // events listed under the timeline

export function mount(root, route) {
  const name = route.params[0];
  const at = route.query.get('at');
  let closed = false;
  let stream = null;

  const video = h('video', { controls: true, muted: true, playsInline: true, autoplay: true, 'aria-label': `Video of ${name}` });
  const statusEl = h('span', { class: 'player-msg', role: 'status' });
  const playingAt = h('time', { class: 'playing-at' });
  const badge = h('span', { class: 'badge' });
  const facts = h('dl', { class: 'facts' });
  const liveBtn = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'true', onclick: () => goLive() }, 'Live');
  const pastBtn = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'false', onclick: () => goPast() }, 'Past');
  const selText = h('span', { class: 'muted sel-text', 'aria-live': 'polite' }, 'No range selected. Shift-drag on the timeline or mark a start and an end.');
  const clipLink = h('a', { class: 'button', 'aria-disabled': 'true', download: '' }, 'Download clip');
  const eventsList = h('ul', { class: 'events compact', 'aria-label': 'Events in view' });
  const eventsNote = h('p', { class: 'muted' });

  const player = new Player(video, { lowLatency: true, onStatus: (t) => { statusEl.textContent = t; } });
  const timeline = new Timeline({
    stream: name,
    onSeek: (t) => playAt(t),
    onSelect: (sel) => showSelection(sel),
    onView: () => scheduleLoad(),
  });
  let mark = null;

  fill(root,
    h('div', { class: 'page-head' },
      h('div', { class: 'row' },
        h('a', { href: '#/', class: 'button small ghost', 'aria-label': 'Back to the live wall' }, '‹ Live'),
        h('h1', {}, name), badge),
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Playback mode' }, liveBtn, pastBtn)),
    h('div', { class: 'player', 'data-overlay': '' }, video, h('div', { class: 'player-top' }, playingAt, statusEl)),
    timeline.el,
    h('div', { class: 'row wrap actions' },
      h('button', { type: 'button', class: 'small ghost', onclick: () => markAt('start') }, 'Mark start'),
      h('button', { type: 'button', class: 'small ghost', onclick: () => markAt('end') }, 'Mark end'),
      h('button', { type: 'button', class: 'small ghost', onclick: () => timeline.select(null) }, 'Clear'),
      selText,
      h('span', { class: 'grow' }),
      clipLink,
      h('button', { type: 'button', onclick: saveStill }, 'Save still')),
    h('div', { class: 'columns' },
      h('section', { 'aria-labelledby': 'cam-events' }, h('h2', { id: 'cam-events' }, 'Events in view'), eventsNote, eventsList),
      h('section', { 'aria-labelledby': 'cam-about' }, h('h2', { id: 'cam-about' }, 'Camera'), facts)));

  function setMode(mode) {
    // The on-screen time is unknown until the new position plays.
    playingAt.removeAttribute('datetime');
    playingAt.textContent = '';
    liveBtn.setAttribute('aria-pressed', String(mode === 'live'));
    pastBtn.setAttribute('aria-pressed', String(mode === 'past'));
  }

  function goLive() {
    setMode('live');
    timeline.toNow();
    history.replaceState(null, '', '#/camera/' + encodeURIComponent(name));
    player.live(name);
  }

  function goPast() {
    const c = timeline.cursor;
    playAt(c && c.getTime() < Date.now() - 10e3 ? c : new Date(Date.now() - 5 * 60e3));
  }

  function playAt(t) {
    // A moment with no recording plays from the next recording after it.
    const ms = t.getTime();
    const spans = timeline.spans;
    if (spans.length && !spans.some((s) => ms >= s.s && ms < s.e)) {
      const next = spans.find((s) => s.s > ms);
      if (!next) {
        statusEl.textContent = `Nothing recorded after ${fmtTime(t)}.`;
        return;
      }
      t = new Date(next.s);
    }
    setMode('past');
    timeline.setCursor(t);
    timeline.reveal(t.getTime());
    history.replaceState(null, '', `#/camera/${encodeURIComponent(name)}?at=${encodeURIComponent(t.toISOString())}`);
    statusEl.textContent = 'Loading ' + fmtTime(t) + '…';
    player.playAt(name, t);
  }

  // The on-screen time drives the timeline's cursor and the clock.
  video.addEventListener('timeupdate', () => {
    const d = player.playingDate();
    if (!d) return;
    playingAt.dateTime = d.toISOString();
    playingAt.textContent = fmtTime(d);
    if (!timeline.userActive) timeline.setCursor(d);
  });

  function markAt(which) {
    const t = timeline.cursor || player.playingDate();
    if (!t) { toast('Play or point at a moment first.'); return; }
    mark = mark || {};
    mark[which] = t;
    const s = mark.start || (timeline.selection && timeline.selection.start);
    const e = mark.end || (timeline.selection && timeline.selection.end);
    if (s && e) timeline.select(s < e ? s : e, s < e ? e : s);
    else selText.textContent = `Start ${fmtTime(t)}; now mark the end.`;
  }

  // showSelection describes the selected range and arms the clip link when
  // the range makes a clip.
  function showSelection(sel) {
    const len = sel ? sel.end - sel.start : 0;
    const ok = sel && len <= CLIP_MAX_MS;
    if (!sel) {
      mark = null;
      selText.textContent = 'No range selected.';
    } else if (!ok) {
      selText.textContent = `${fmtSpan(len)} selected: a clip is at most 1 h.`;
    } else {
      selText.textContent = `${fmtTime(sel.start)} to ${fmtTime(sel.end, false)} (${fmtSpan(len)})`;
    }
    if (ok) {
      clipLink.href = urls.clip(name, sel.start, sel.end);
      clipLink.removeAttribute('aria-disabled');
    } else {
      clipLink.removeAttribute('href');
      clipLink.setAttribute('aria-disabled', 'true');
    }
  }

  function saveStill() {
    const t = player.playingDate() || timeline.cursor;
    if (!t) { toast('Nothing on screen yet.'); return; }
    const a = h('a', { href: urls.image(name, t), download: `${name}-${t.toISOString()}.jpg` });
    document.body.append(a);
    a.click();
    a.remove();
  }

  // Spans and events for the view, reloaded when it moves and every 10 s.
  let loadTimer = null;
  let loading = null;
  let firstLoad = true;
  function scheduleLoad() {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(load, 200);
  }
  async function load() {
    if (loading) loading.abort();
    const ctl = new AbortController();
    loading = ctl;
    const start = new Date(timeline.start);
    const end = new Date(timeline.end);
    try {
      const [spans, ev] = await Promise.all([
        api.timeline(name, start, end),
        api.events({ stream: name, since: start, until: end, limit: 1000 }),
      ]);
      if (ctl.signal.aborted || closed) return;
      // A camera recording for only a few minutes gets a closer first view.
      if (firstLoad && !at && spans.length && new Date(spans[0].start) > Date.now() - 15 * 60e3) {
        firstLoad = false;
        timeline.zoomTo(15 * 60e3);
        return;
      }
      firstLoad = false;
      timeline.setData(spans, ev.events);
      fill(eventsList, ev.events.slice(0, SHOWN_EVENTS).map(eventCard));
      const all = h('a', { href: '#/events?stream=' + encodeURIComponent(name) }, 'all events of ' + name);
      if (!ev.events.length) fill(eventsNote, 'No events in this part of the timeline.');
      else if (ev.events.length > SHOWN_EVENTS) fill(eventsNote, `The newest ${SHOWN_EVENTS} of ${ev.events.length}${ev.next_cursor ? '+' : ''}; see `, all, '.');
      else fill(eventsNote);
      if (!spans.length) eventsNote.append(' Nothing recorded here.');
    } catch (e) {
      if (!closed) fill(eventsNote, 'Cannot load the timeline: ' + e.message);
    }
  }

  async function loadStream() {
    try {
      stream = await api.stream(name);
    } catch (e) {
      if (e.code === 'stream_not_found') {
        fill(root, h('section', { class: 'empty' }, h('h1', {}, `No camera called ${name}`),
          h('p', {}, h('a', { href: '#/' }, 'Back to the live wall'))));
        closed = true;
        player.destroy();
      }
      return;
    }
    const st = stream.status || {};
    badge.textContent = st.online ? 'Live' : 'Offline';
    badge.className = 'badge ' + (st.online ? 'ok' : 'off');
    const rows = [
      ['Status', st.online ? `live since ${fmtTime(st.since)}` : st.error || 'offline'],
      ['Video', [st.codec, st.width && `${st.width}×${st.height}`, st.fps && `${Math.round(st.fps)} fps`, fmtRate(st.bitrate)].filter(Boolean).join(', ') || '—'],
      ['Source', stream.source || 'published to vigil'],
      ['Stored', fmtBytes(st.bytes_used)],
      ['Keeps', fmtDuration(stream.retention && stream.retention.max_age)],
      ['Detection', stream.detect && stream.detect.enabled ? `${stream.detect.fps} fps, ${(stream.detect.collections || []).join(', ') || 'no collections'}` : 'off'],
    ];
    fill(facts, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  const ticker = setInterval(() => timeline.tick(), 1000);
  const poller = setInterval(() => { loadStream(); if (timeline.follow) load(); }, 10000);
  loadStream();
  if (at && !Number.isNaN(Date.parse(at))) playAt(new Date(at));
  else goLive();
  load();

  return () => {
    closed = true;
    clearInterval(ticker);
    clearInterval(poller);
    clearTimeout(loadTimer);
    if (loading) loading.abort();
    player.destroy();
  };
}
