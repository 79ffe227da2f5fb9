// Live wall: every stream as a tile playing live, with its status and last
// event; a click opens the camera page.
import { api, urls } from './api.js';
import { Player } from './player.js';
import { fill, fmtAgo, h } from './dom.js';
import { eventLabel } from './eventcard.js';

const GRIDS = [['auto', 'Auto'], ['1', '1'], ['2', '2×2'], ['3', '3×3'], ['4', '4×4']];
const REFRESH_MS = 5000;

export function mount(root) {
  const tiles = new Map(); // name → tile
  const lastEvent = new Map(); // stream → newest event
  let grid = localStorage.getItem('vigil.grid') || 'auto';
  let closed = false;

  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const list = h('ul', { class: 'wall', 'aria-label': 'Cameras' });
  const gridButtons = GRIDS.map(([value, label]) => h('button', {
    type: 'button', class: 'seg', 'aria-pressed': String(value === grid), 'aria-label': value === 'auto' ? 'Auto grid' : `Grid ${label}`,
    onclick: () => setGrid(value),
  }, label));
  const body = h('div');
  fill(root,
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, 'Live'), summary),
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Grid size' }, gridButtons)),
    body);

  function setGrid(value) {
    grid = value;
    localStorage.setItem('vigil.grid', value);
    list.dataset.grid = value;
    gridButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(GRIDS[i][0] === value)));
  }
  setGrid(grid);

  // Players run only for tiles on screen.
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const tile = e.target.tile;
      tile.visible = e.isIntersecting;
      tile.sync();
    }
  }, { threshold: 0.05 });

  function makeTile(s) {
    const video = h('video', { muted: true, playsInline: true, autoplay: true, 'aria-hidden': 'true', tabIndex: -1 });
    const still = h('img', { alt: '', class: 'still', hidden: true });
    const badge = h('span', { class: 'badge' });
    const info = h('span', { class: 'tile-info' });
    const last = h('span', { class: 'tile-event' });
    const msg = h('span', { class: 'tile-msg' });
    const link = h('a', { class: 'tile', href: '#/camera/' + encodeURIComponent(s.name), 'data-overlay': '' },
      video, still, msg,
      h('span', { class: 'tile-top' }, h('span', { class: 'tile-name' }, s.name), badge),
      h('span', { class: 'tile-bottom' }, info, last));
    const li = h('li', { dataset: { stream: s.name } }, link);
    const tile = {
      li, visible: false, stream: s, player: null,
      sync() {
        const online = tile.stream.status && tile.stream.status.online;
        if (tile.visible && online && !tile.player) {
          tile.player = new Player(video, { onStatus: (t) => { msg.textContent = t; } });
          tile.player.live(s.name);
          still.hidden = true;
          video.hidden = false;
        } else if ((!tile.visible || !online) && tile.player) {
          tile.player.destroy();
          tile.player = null;
        }
        if (!online) {
          video.hidden = true;
          const lf = tile.stream.status && tile.stream.status.last_fragment;
          if (lf && tile.visible && !still.src) {
            still.src = urls.image(s.name, new Date(new Date(lf.server_time).getTime() + 500), 480);
            still.hidden = false;
            still.onerror = () => { still.hidden = true; };
          }
        }
      },
      update(s2) {
        tile.stream = s2;
        const st = s2.status || {};
        badge.textContent = st.online ? 'Live' : 'Offline';
        badge.className = 'badge ' + (st.online ? 'ok' : 'off');
        info.textContent = st.online ? [st.width && `${st.width}×${st.height}`, st.fps && `${Math.round(st.fps)} fps`].filter(Boolean).join(' · ')
          : (st.error ? st.error : st.since ? `offline, ${fmtAgo(st.since)}` : 'waiting for a publisher');
        msg.textContent = st.online ? msg.textContent : '';
        tile.sync();
      },
      showEvent(e) {
        last.textContent = e ? `${eventLabel(e)} · ${fmtAgo(e.time)}` : '';
        last.dataset.type = e ? e.type : '';
      },
    };
    li.tile = tile;
    tile.update(s);
    tile.showEvent(lastEvent.get(s.name));
    seen.observe(li);
    return tile;
  }

  function render(streams) {
    const names = new Set(streams.map((s) => s.name));
    for (const [name, tile] of tiles) {
      if (!names.has(name)) {
        if (tile.player) tile.player.destroy();
        seen.unobserve(tile.li);
        tile.li.remove();
        tiles.delete(name);
      }
    }
    for (const s of streams) {
      const tile = tiles.get(s.name);
      if (tile) tile.update(s);
      else tiles.set(s.name, makeTile(s));
    }
    // Keep DOM order = name order.
    for (const s of streams) list.append(tiles.get(s.name).li);
    const online = streams.filter((s) => s.status && s.status.online).length;
    summary.textContent = `${streams.length} camera${streams.length === 1 ? '' : 's'}, ${online} live`;
    if (streams.length === 0) fill(body, emptyState());
    else if (body.firstChild !== list) fill(body, list);
  }

  let timer = null;
  async function refresh() {
    try {
      render(await api.streams());
    } catch (e) {
      summary.textContent = 'Cannot reach vigil: ' + e.message;
    }
    if (!closed) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();

  // Last event per stream: the newest stored ones, then the live feed.
  api.events({ limit: 200 }).then((r) => {
    for (const e of r.events.slice().reverse()) lastEvent.set(e.stream, e);
    for (const [name, tile] of tiles) tile.showEvent(lastEvent.get(name));
  }).catch(() => {});
  const feed = new EventSource(urls.liveEvents({}));
  feed.onmessage = (m) => {
    const e = JSON.parse(m.data);
    lastEvent.set(e.stream, e);
    const tile = tiles.get(e.stream);
    if (tile) tile.showEvent(e);
  };

  return () => {
    closed = true;
    clearTimeout(timer);
    feed.close();
    seen.disconnect();
    for (const tile of tiles.values()) if (tile.player) tile.player.destroy();
  };
}

// emptyState teaches how to get a first camera in.
function emptyState() {
  const host = location.hostname || 'localhost';
  const cmd = `ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=25 -c:v libx264 -preset veryfast -tune zerolatency -f rtsp rtsp://${host}:8554/cam1`;
  return h('section', { class: 'empty' },
    h('h2', {}, 'No cameras yet'),
    h('p', {}, 'Publish any RTSP stream to vigil and it appears here, recording. For a test pattern:'),
    h('pre', { class: 'cmd', tabindex: '0', 'aria-label': 'Example command' }, h('code', {}, cmd)),
    h('p', {}, 'A camera publishes to ', h('code', {}, `rtsp://${host}:8554/NAME`), ' (8554 is the default RTSP port). ',
      'To pull from a camera instead, ', h('a', { href: '#/settings' }, 'add an RTSP source in Settings'), '.'));
}
