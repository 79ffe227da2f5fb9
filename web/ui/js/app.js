// vigil's browser UI: a hash router over five pages. Each page module
// exports mount(root, route) and returns a function that tears it down
// (stops players, closes event streams, clears timers).
import { fill, h } from './dom.js';

const routes = [
  { re: /^\/?$/, nav: 'wall', title: 'Live', load: () => import('./wall.js') },
  { re: /^\/camera\/([^/]+)$/, nav: 'wall', title: 'Camera', load: () => import('./camera.js') },
  { re: /^\/events$/, nav: 'events', title: 'Events', load: () => import('./events.js') },
  { re: /^\/faces(?:\/([^/]+))?$/, nav: 'faces', title: 'Faces', load: () => import('./faces.js') },
  { re: /^\/settings$/, nav: 'settings', title: 'Settings', load: () => import('./settings.js') },
];

const view = document.getElementById('view');
let teardown = null;
let generation = 0;

// parse splits "#/camera/cam1?at=…" into its path, decoded parameters and query.
export function parse(hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  for (const r of routes) {
    const m = path.match(r.re);
    if (m) return { route: r, params: m.slice(1).map((p) => (p == null ? p : decodeURIComponent(p))), query: new URLSearchParams(query) };
  }
  return null;
}

async function render() {
  const gen = ++generation;
  if (teardown) {
    try { teardown(); } catch (e) { console.error(e); }
    teardown = null;
  }
  const match = parse(location.hash);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (match && a.dataset.nav === match.route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!match) {
    document.title = 'Not found — vigil';
    fill(view, h('section', { class: 'empty' }, h('h1', {}, 'Page not found'),
      h('p', {}, h('a', { href: '#/' }, 'Back to the live wall'))));
    return;
  }
  document.title = match.route.title + ' — vigil';
  fill(view);
  view.setAttribute('aria-busy', 'true');
  let mod;
  try {
    mod = await match.route.load();
  } catch (e) {
    fill(view, h('p', { class: 'error' }, 'Could not load this page: ' + e.message));
    return;
  }
  if (gen !== generation) return; // navigated away while loading
  view.removeAttribute('aria-busy');
  teardown = mod.mount(view, match) || null;
}

window.addEventListener('hashchange', () => {
  render();
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});
render();
