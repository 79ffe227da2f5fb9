// The UI's only way to the server: vigil's public HTTP API (docs/api.md).
// Nothing here uses a route a script could not.

// APIError carries the server's error code and message.
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body, opts = {}) {
  const init = { method, headers: {}, signal: opts.signal };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const resp = await fetch(path, init);
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!resp.ok) {
    throw new APIError(resp.status, (data && data.code) || 'http_' + resp.status,
      (data && data.error) || `${method} ${path}: ${resp.status} ${resp.statusText}`);
  }
  return data;
}

const enc = encodeURIComponent;
const qs = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v instanceof Date ? v.toISOString() : v);
  const s = q.toString();
  return s ? '?' + s : '';
};

export const api = {
  streams: () => request('GET', '/api/v1/streams').then((r) => r.streams),
  stream: (name) => request('GET', `/api/v1/streams/${enc(name)}`),
  putStream: (name, def) => request('PUT', `/api/v1/streams/${enc(name)}`, def),
  deleteStream: (name, keep) => request('DELETE', `/api/v1/streams/${enc(name)}${keep ? '?keep_recordings=true' : ''}`),
  timeline: (name, start, end) => request('GET', `/api/v1/streams/${enc(name)}/timeline${qs({ start, end })}`).then((r) => r.spans),

  events: (q) => request('GET', '/api/v1/events' + qs(q)),

  collections: () => request('GET', '/api/v1/collections').then((r) => r.collections),
  putCollection: (id, threshold) => request('PUT', `/api/v1/collections/${enc(id)}`, threshold ? { threshold } : {}),
  deleteCollection: (id) => request('DELETE', `/api/v1/collections/${enc(id)}`),
  faces: (id) => request('GET', `/api/v1/collections/${enc(id)}/faces`).then((r) => r.faces),
  deleteFace: (id, face) => request('DELETE', `/api/v1/collections/${enc(id)}/faces/${enc(face)}`),
  // enrol uploads one image (a File or Blob) for a person, keeping the crop
  // so the face library can show it.
  enrol: (id, image, externalID, largest = false) => {
    const form = new FormData();
    form.append('image', image, image.name || 'face.jpg');
    if (externalID) form.append('external_id', externalID);
    form.append('keep_crop', 'true');
    if (largest) form.append('largest', 'true');
    return request('POST', `/api/v1/collections/${enc(id)}/faces`, form);
  },

  notifiers: () => request('GET', '/api/v1/notifiers').then((r) => r.notifiers),
  putNotifier: (name, def) => request('PUT', `/api/v1/notifiers/${enc(name)}`, def),
  deleteNotifier: (name) => request('DELETE', `/api/v1/notifiers/${enc(name)}`),
  testNotifier: (name) => request('POST', `/api/v1/notifiers/${enc(name)}/test`),
};

// URLs the UI hands to media elements and download links.
export const urls = {
  live: (name) => `/hls/${enc(name)}/index.m3u8`,
  replay: (name, start) => `/hls/${enc(name)}/index.m3u8${qs({ start })}`,
  image: (name, at, width) => `/api/v1/streams/${enc(name)}/image.jpg${qs({ at, width })}`,
  clip: (name, start, end) => `/api/v1/streams/${enc(name)}/clip.mp4${qs({ start, end })}`,
  crop: (id, face) => `/api/v1/collections/${enc(id)}/faces/${enc(face)}/crop.jpg`,
  liveEvents: (q) => '/api/v1/events/live' + qs(q),
};

// isValidName mirrors the server's rule for stream, collection and notifier names.
export const namePattern = '[A-Za-z0-9_.\\-]{1,128}';
export function isValidName(s) {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(s) && s !== '.' && s !== '..';
}
