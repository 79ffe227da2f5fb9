// Faces page: collections, the people enrolled in each with their faces,
// enrolment from photos, and deletion of a person with all their templates.
import { api, isValidName, namePattern, urls } from './api.js';
import { confirmDialog, field, fill, go, h, toast } from './dom.js';

export function mount(root, route) {
  let closed = false;
  let results = null; // the last enrolment's per-photo results, kept across reloads
  const selected = route.params[0] || '';
  const side = h('nav', { class: 'side', 'aria-label': 'Collections' });
  const main = h('div', { class: 'grow' });
  fill(root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Faces'),
      h('p', { class: 'muted' }, 'People vigil recognises, in collections that cameras match against.'))),
    h('div', { class: 'split' }, side, main));

  async function load() {
    let collections;
    try {
      collections = await api.collections();
    } catch (e) {
      fill(main, h('p', { class: 'error' }, 'Cannot load collections: ' + e.message));
      return;
    }
    if (closed) return;
    const current = collections.find((c) => c.id === selected) || (!selected && collections[0]);
    fill(side,
      h('h2', { class: 'sr-only' }, 'Collections'),
      collections.length ? h('ul', { class: 'side-list' }, collections.map((c) => h('li', {},
        h('a', { href: '#/faces/' + encodeURIComponent(c.id), 'aria-current': current && c.id === current.id ? 'page' : null },
          h('span', {}, c.id), h('span', { class: 'count' }, String(c.faces)))))) : null,
      newCollectionForm());
    if (selected && !current) {
      fill(main, h('section', { class: 'empty' }, h('h2', {}, `No collection called ${selected}`)));
    } else if (!current) {
      fill(main, h('section', { class: 'empty' }, h('h2', {}, 'No collections yet'),
        h('p', {}, 'Create a collection (for example “staff” or “family”), enrol people from photos, then turn on detection for a camera in Settings and pick the collection.')));
    } else {
      await showCollection(current);
    }
  }

  function newCollectionForm() {
    const id = h('input', { required: true, pattern: namePattern, maxlength: 128, autocomplete: 'off', placeholder: 'staff' });
    return h('form', { class: 'card new-coll', onsubmit: async (e) => {
      e.preventDefault();
      const v = id.value.trim();
      if (!isValidName(v)) { toast('A collection id is letters, digits, _ . and -.', 'error'); return; }
      try {
        await api.putCollection(v);
        go('#/faces/' + encodeURIComponent(v));
      } catch (err) { toast(err.message, 'error'); }
    } }, field('New collection', id), h('button', { type: 'submit' }, 'Create'));
  }

  async function showCollection(c) {
    const faces = await api.faces(c.id).catch(() => []);
    if (closed) return;
    // People: faces grouped by external_id; faces without one stand alone.
    const people = new Map();
    for (const f of faces) {
      const key = f.external_id || '';
      if (!people.has(key)) people.set(key, []);
      people.get(key).push(f);
    }
    const threshold = h('input', { type: 'number', min: '0.01', max: '1', step: '0.01', value: String(c.threshold) });
    const grid = h('ul', { class: 'people', 'aria-label': `People in ${c.id}` });
    for (const [who, list] of people) grid.append(personCard(c, who, list));
    fill(main,
      h('section', { class: 'stack' },
        h('div', { class: 'row wrap' },
          h('h2', { class: 'grow' }, c.id, h('span', { class: 'muted' }, ` · ${faces.length} face${faces.length === 1 ? '' : 's'}, ${[...people.keys()].filter(Boolean).length} people`)),
          h('form', { class: 'row', onsubmit: async (e) => {
            e.preventDefault();
            try { await api.putCollection(c.id, Number(threshold.value)); toast('Threshold saved.'); } catch (err) { toast(err.message, 'error'); }
          } }, field('Match threshold', threshold), h('button', { type: 'submit', class: 'small' }, 'Save')),
          h('button', { type: 'button', class: 'small danger', onclick: async () => {
            if (!await confirmDialog(`Delete the collection ${c.id} with all ${faces.length} faces?`)) return;
            try { await api.deleteCollection(c.id); go('#/faces'); } catch (err) { toast(err.message, 'error'); }
          } }, 'Delete collection')),
        enrolForm(c),
        faces.length ? grid : h('p', { class: 'muted' }, 'Nobody enrolled yet: add a person with a few photos of their face.')));
  }

  function personCard(c, who, faces) {
    const shown = faces.slice(0, 4);
    return h('li', { class: 'person card', dataset: { person: who } },
      h('div', { class: 'faces-row' }, shown.map((f) => h('img', {
        src: urls.crop(c.id, f.face_id), alt: '', width: 64, height: 64, loading: 'lazy',
        onerror: (e) => e.target.replaceWith(h('span', { class: 'thumb blank', 'aria-hidden': 'true' }, (who || '?').slice(0, 1).toUpperCase())),
      }))),
      h('h3', {}, who || 'No name'),
      h('p', { class: 'muted' }, `${faces.length} face${faces.length === 1 ? '' : 's'}`),
      h('div', { class: 'row wrap' },
        who ? h('a', { class: 'button small ghost', href: '#/events?external_id=' + encodeURIComponent(who) }, 'Events') : null,
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${who || 'this face'}`, onclick: async () => {
          if (!await confirmDialog(`Delete ${who || 'this face'} and all ${faces.length} of their faces from ${c.id}?`)) return;
          try {
            for (const f of faces) await api.deleteFace(c.id, f.face_id);
            toast(`Deleted ${who || 'the face'}.`);
          } catch (err) { toast(err.message, 'error'); }
          load();
        } }, 'Delete')));
  }

  function enrolForm(c) {
    const name = h('input', { required: true, maxlength: 255, autocomplete: 'off', placeholder: 'Alice' });
    const files = h('input', { type: 'file', accept: 'image/*', multiple: true, required: true });
    const out = results && results.id === c.id ? results.el : h('ul', { class: 'results', 'aria-live': 'polite' });
    results = { id: c.id, el: out };
    const submit = h('button', { type: 'submit' }, 'Enrol');
    return h('form', { class: 'card enrol', onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      out.replaceChildren();
      let enrolled = 0;
      for (const file of files.files) {
        const line = h('li', {}, `${file.name}: uploading…`);
        out.append(line);
        try {
          const r = await api.enrol(c.id, file, name.value.trim(), true);
          enrolled += r.faces.length;
          line.textContent = r.faces.length ? `${file.name}: enrolled` : `${file.name}: face not usable (${(r.unindexed[0] || { reasons: [] }).reasons.join(', ')})`;
          line.className = r.faces.length ? 'ok' : 'warn';
        } catch (err) {
          line.textContent = `${file.name}: ${err.message}`;
          line.className = 'error';
        }
      }
      submit.disabled = false;
      if (enrolled) { toast(`Enrolled ${enrolled} face${enrolled === 1 ? '' : 's'} of ${name.value.trim()}.`); load(); }
    } },
    h('h3', {}, 'Add a person'),
    h('div', { class: 'row wrap' }, field('Name', name), field('Photos', files, 'One face per photo works best; the largest face is used.'),
      h('div', { class: 'field end' }, submit)),
    out);
  }

  load();
  return () => { closed = true; };
}
