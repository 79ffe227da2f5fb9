// Event presentation shared by the wall, the camera page and the events
// feed: labels, face thumbnails cropped from the event's frame, the event
// card, and "who is this?" (enrol a face from an event).
import { api, urls } from './api.js';
import { field, fmtAgo, fmtTime, formDialog, h, toast, uid } from './dom.js';

export const TYPE_NAMES = {
  'face.matched': 'Recognised',
  'face.unknown': 'Unknown face',
  'face.detected': 'Face',
};

// bestMatch is the highest-similarity match over the event's faces, or null.
export function bestMatch(e) {
  let best = null;
  for (const f of e.faces || []) {
    for (const m of f.matches || []) if (!best || m.similarity > best.similarity) best = m;
  }
  return best;
}

export function eventLabel(e) {
  const m = bestMatch(e);
  if (m) return `${m.external_id || m.face_id} ${Math.round(m.similarity * 100)} %`;
  return TYPE_NAMES[e.type] || e.type;
}

// cameraLink opens the camera page at the event's moment.
export function cameraHref(e) {
  return `#/camera/${encodeURIComponent(e.stream)}?at=${encodeURIComponent(e.time)}`;
}

// faceSquare is the square around a face's box (ratios of a W×H frame) in
// pixels: its centre and side, `grow` times the box's longer side.
function faceSquare(b, W, H, grow) {
  return {
    cx: (b.left + b.width / 2) * W,
    cy: (b.top + b.height / 2) * H,
    side: Math.max(b.width * W, b.height * H) * grow,
  };
}

// faceThumb shows one face of the event: the event's frame, scaled and
// shifted so the face's box (with a margin) fills a square.
export function faceThumb(e, face, size = 72) {
  const box = h('span', { class: 'thumb', style: { width: size + 'px', height: size + 'px' } });
  if (!face || !face.bbox) return box;
  const img = h('img', { alt: '', loading: 'lazy', decoding: 'async', width: size, height: size });
  img.onload = () => {
    const W = img.naturalWidth;
    const H = img.naturalHeight;
    const sq = faceSquare(face.bbox, W, H, 1.3);
    const scale = size / sq.side;
    img.style.width = W * scale + 'px';
    img.style.height = H * scale + 'px';
    img.style.left = (size / 2 - sq.cx * scale) + 'px';
    img.style.top = (size / 2 - sq.cy * scale) + 'px';
    img.classList.add('placed');
  };
  img.onerror = () => { img.remove(); box.classList.add('gone'); box.title = 'Frame no longer recorded'; };
  img.src = urls.image(e.stream, e.time, 640);
  box.append(img);
  return box;
}

// eventCard is one event as a list item: thumbnail, who, where, when and
// actions (play the recording; for a face nobody matched, "who is this?").
export function eventCard(e) {
  const face = (e.faces || [])[0];
  const m = bestMatch(e);
  const who = m ? (m.external_id || m.face_id) : (TYPE_NAMES[e.type] || e.type);
  const more = (e.faces || []).length > 1 ? ` +${e.faces.length - 1}` : '';
  const actions = [h('a', { class: 'button small', href: cameraHref(e), 'aria-label': `Play ${e.stream} at ${fmtTime(e.time)}` }, 'Play')];
  if (face && !m) {
    actions.push(h('button', { type: 'button', class: 'small ghost', onclick: () => whoIsThis(e, face) }, 'Who is this?'));
  }
  return h('li', { class: 'event', dataset: { id: e.id, type: e.type } },
    h('a', { href: cameraHref(e), tabindex: '-1', 'aria-hidden': 'true', class: 'thumb-link' }, faceThumb(e, face)),
    h('div', { class: 'event-body' },
      h('p', { class: 'event-who' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), who, more,
        m ? h('span', { class: 'sim' }, ` ${Math.round(m.similarity * 100)} %`) : null),
      h('p', { class: 'muted' }, e.stream, ' · ', h('time', { datetime: e.time, title: fmtTime(e.time) }, fmtAgo(e.time)))),
    h('div', { class: 'event-actions' }, actions));
}

// cropFace cuts the face (with a margin) out of the event's full frame, as
// a JPEG blob the face detector will find again.
async function cropFace(e, face) {
  const resp = await fetch(urls.image(e.stream, e.time));
  if (!resp.ok) throw new Error(resp.status === 404 ? 'the frame is no longer recorded' : `image: ${resp.status}`);
  const bmp = await createImageBitmap(await resp.blob());
  const W = bmp.width;
  const H = bmp.height;
  const { cx, cy, side } = faceSquare(face.bbox, W, H, 2);
  const x = Math.max(0, cx - side / 2);
  const y = Math.max(0, cy - side / 2);
  const w = Math.min(W - x, side);
  const ht = Math.min(H - y, side);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(w);
  canvas.height = Math.round(ht);
  canvas.getContext('2d').drawImage(bmp, x, y, w, ht, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('cannot encode the crop'))), 'image/jpeg', 0.92));
}

// whoIsThis asks for a name and a collection and enrols the event's face.
export async function whoIsThis(e, face) {
  let collections = [];
  try { collections = await api.collections(); } catch (err) { toast(err.message, 'error'); return; }
  const listId = uid('people');
  const name = h('input', { required: true, maxlength: 255, autocomplete: 'off', list: listId });
  const people = h('datalist', { id: listId });
  const coll = collections.length
    ? h('select', {}, collections.map((c) => h('option', { value: c.id }, c.id)))
    : h('input', { required: true, value: 'people', pattern: '[A-Za-z0-9_.\\-]+', maxlength: 128 });
  const fillPeople = async () => {
    const id = coll.value;
    if (!collections.some((c) => c.id === id)) return;
    const faces = await api.faces(id).catch(() => []);
    people.replaceChildren(...[...new Set(faces.map((f) => f.external_id).filter(Boolean))].map((p) => h('option', { value: p })));
  };
  coll.addEventListener('change', fillPeople);
  fillPeople();
  formDialog('Who is this?', [
    h('div', { class: 'row' }, faceThumb(e, face, 120), h('p', { class: 'muted' }, `${e.stream}, ${fmtTime(e.time)}`)),
    field('Name', name, 'Their face is enrolled under this name and recognised from now on.'),
    people,
    field('Collection', coll),
  ], async () => {
    const id = coll.value.trim();
    if (!collections.some((c) => c.id === id)) await api.putCollection(id);
    const res = await api.enrol(id, await cropFace(e, face), name.value.trim(), true);
    if (!res.faces.length) throw new Error('the face could not be enrolled: ' + (res.unindexed[0] || { reasons: [] }).reasons.join(', '));
    toast(`Enrolled ${name.value.trim()} in ${id}.`);
  }, 'Enrol');
}
