// Events page: the live feed (server-sent events) above the stored events,
// filtered by camera, person, type and time; each plays its recording.
import { api, urls } from './api.js';
import { field, fill, fromLocalInput, go, h, localInput } from './dom.js';
import { TYPE_NAMES, eventCard } from './eventcard.js';

const MAX_CARDS = 300;

export function mount(root, route) {
  const q = route.query;
  const camera = h('select', {}, h('option', { value: '' }, 'All cameras'));
  const person = h('input', { type: 'search', autocomplete: 'off', maxlength: 255, placeholder: 'Anyone', value: q.get('external_id') || '' });
  const type = h('select', {}, h('option', { value: '' }, 'All types'),
    Object.entries(TYPE_NAMES).map(([v, label]) => h('option', { value: v }, label)));
  type.value = q.get('type') || '';
  const since = h('input', { type: 'datetime-local' });
  const until = h('input', { type: 'datetime-local' });
  if (q.get('since')) since.value = localInput(new Date(q.get('since')));
  if (q.get('until')) until.value = localInput(new Date(q.get('until')));
  const liveState = h('span', { class: 'badge off' }, 'Connecting');
  const list = h('ul', { class: 'events', 'aria-label': 'Events', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const more = h('button', { type: 'button', class: 'ghost', hidden: true, onclick: () => page(cursor) }, 'Older events');
  const note = h('p', { class: 'muted' });
  let cursor = '';
  let feed = null;
  const shown = new Set();

  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); apply(); } },
    field('Camera', camera), field('Person', person), field('Type', type),
    field('From', since), field('Until', until),
    h('div', { class: 'field end' }, h('button', { type: 'submit' }, 'Filter')),
    h('div', { class: 'field end' }, h('button', { type: 'button', class: 'ghost', onclick: () => go('#/events') }, 'Reset')));

  fill(root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Events'), h('p', { class: 'muted' }, 'Who was seen, where and when. Newest first.')),
      h('div', { class: 'row' }, h('span', { class: 'sr-only' }, 'Live feed:'), liveState)),
    form, note, list, more);

  api.streams().then((streams) => {
    for (const s of streams) camera.append(h('option', { value: s.name }, s.name));
    camera.value = q.get('stream') || '';
  }).catch(() => {});

  function filters() {
    return {
      stream: camera.value || q.get('stream') || '',
      type: type.value,
      external_id: person.value.trim(),
      since: fromLocalInput(since.value),
      until: fromLocalInput(until.value),
    };
  }

  function apply() {
    const f = filters();
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v instanceof Date ? v.toISOString() : v);
    go('#/events' + (p.toString() ? '?' + p : ''));
  }

  const matches = (e, f) => (!f.stream || e.stream === f.stream) && (!f.type || e.type === f.type)
    && (!f.external_id || (e.faces || []).some((x) => (x.matches || []).some((m) => m.external_id === f.external_id)));

  function add(e, atTop) {
    if (shown.has(e.id)) return;
    shown.add(e.id);
    const card = eventCard(e);
    if (atTop) {
      card.classList.add('fresh');
      list.prepend(card);
      // A feed left open all day keeps only the newest cards.
      while (list.children.length > MAX_CARDS) {
        shown.delete(list.lastElementChild.dataset.id);
        list.lastElementChild.remove();
        more.hidden = true;
        note.textContent = `Showing the newest ${MAX_CARDS}; set a time range to see older events.`;
      }
    } else {
      list.append(card);
    }
    if (shown.size === 1) note.textContent = ''; // the first event replaces "no events yet"
  }

  async function page(from) {
    const f = filters();
    try {
      const r = await api.events({ ...f, cursor: from, limit: 50 });
      r.events.forEach((e) => add(e, false));
      cursor = r.next_cursor;
      more.hidden = !cursor;
      if (!shown.size) note.textContent = 'No events yet. Events appear when detection is on for a camera (Settings) and a face is seen.';
    } catch (e) {
      note.textContent = 'Cannot load events: ' + e.message;
    }
  }

  // The live feed shows events as they are published, unless the view
  // ends in the past.
  const f = filters();
  if (!f.until || f.until > new Date()) {
    feed = new EventSource(urls.liveEvents({ stream: f.stream, type: f.type, external_id: f.external_id }));
    feed.onopen = () => { liveState.textContent = 'Live'; liveState.className = 'badge ok'; };
    feed.onerror = () => { liveState.textContent = 'Reconnecting'; liveState.className = 'badge off'; };
    feed.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (matches(e, f)) add(e, true);
    };
  } else {
    liveState.textContent = 'Not live';
  }
  page('');

  return () => { if (feed) feed.close(); };
}
