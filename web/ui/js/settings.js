// Settings page: streams (sources, retention, detection), storage per
// stream, and notifiers with their delivery status and dead letters.
import { api, isValidName, namePattern } from './api.js';
import { confirmDialog, field, fill, fmtAgo, fmtBytes, fmtDuration, formDialog, h, toast } from './dom.js';
import { TYPE_NAMES } from './eventcard.js';

const KEEP = [['24h', '1 day'], ['72h', '3 days'], ['168h', '7 days'], ['336h', '14 days'], ['720h', '30 days'], ['2160h', '90 days'], ['0s', 'Forever']];
const COOLDOWNS = [['0s', 'None'], ['30s', '30 s'], ['1m0s', '1 min'], ['5m0s', '5 min'], ['15m0s', '15 min'], ['1h0m0s', '1 h']];

// hours normalises a Go duration ("168h0m0s") to whole hours ("168h") so it
// matches a KEEP choice.
const hours = (d) => {
  const m = /^(\d+)h0m0s$/.exec(d || '');
  return m ? m[1] + 'h' : d === '0s' || !d ? '0s' : d;
};

export function mount(root) {
  let closed = false;
  const streamsEl = h('div', { class: 'stack' });
  const storageEl = h('div');
  const notifiersEl = h('div', { class: 'stack' });
  fill(root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Settings'),
      h('p', { class: 'muted' }, 'Everything here is also in the HTTP API (docs/api.md), for scripts.'))),
    h('section', { 'aria-labelledby': 'set-streams', class: 'stack' },
      h('div', { class: 'row' }, h('h2', { id: 'set-streams', class: 'grow' }, 'Cameras'),
        h('button', { type: 'button', onclick: () => editStream(null) }, 'Add camera')),
      streamsEl),
    h('section', { 'aria-labelledby': 'set-storage', class: 'stack' }, h('h2', { id: 'set-storage' }, 'Storage'), storageEl),
    h('section', { 'aria-labelledby': 'set-notifiers', class: 'stack' },
      h('div', { class: 'row' }, h('h2', { id: 'set-notifiers', class: 'grow' }, 'Notifiers'),
        h('button', { type: 'button', onclick: () => editNotifier(null) }, 'Add notifier')),
      notifiersEl));

  let streams = [];
  async function loadStreams() {
    try { streams = await api.streams(); } catch (e) { fill(streamsEl, h('p', { class: 'error' }, e.message)); return; }
    if (closed) return;
    fill(streamsEl, streams.length ? h('ul', { class: 'cards' }, streams.map(streamCard))
      : h('p', { class: 'muted' }, 'No cameras. Add one that vigil pulls over RTSP, or publish to rtsp://HOST:8554/NAME.'));
    const total = streams.reduce((n, s) => n + ((s.status && s.status.bytes_used) || 0), 0);
    fill(storageEl,
      h('p', {}, `${fmtBytes(total)} stored in all.`),
      h('ul', { class: 'bars' }, streams.map((s) => {
        const used = (s.status && s.status.bytes_used) || 0;
        const max = s.retention && s.retention.max_bytes;
        return h('li', {},
          h('span', { class: 'bar-name' }, s.name),
          h('span', { class: 'meter', role: 'img', 'aria-label': `${s.name}: ${fmtBytes(used)}` },
            h('span', { style: { width: (total ? (100 * used) / total : 0) + '%' } })),
          h('span', { class: 'bar-value' }, fmtBytes(used) + (max ? ` of ${fmtBytes(max)}` : '')));
      })));
  }

  function streamCard(s) {
    const st = s.status || {};
    const det = s.detect || {};
    return h('li', { class: 'card', dataset: { stream: s.name } },
      h('div', { class: 'row' }, h('h3', { class: 'grow' }, s.name),
        h('span', { class: 'badge ' + (st.online ? 'ok' : 'off') }, st.online ? 'Live' : 'Offline')),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Source'), h('dd', {}, s.source || 'publishes to vigil'),
        h('dt', {}, 'Keeps'), h('dd', {}, keepLabel(s.retention)),
        h('dt', {}, 'Detection'), h('dd', {}, det.enabled ? `${det.fps} fps · ${(det.collections || []).join(', ') || 'no collections'}` : 'off'),
        st.error ? [h('dt', {}, 'Error'), h('dd', { class: 'error' }, st.error)] : null),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'small ghost', 'aria-label': `Edit ${s.name}`, onclick: () => editStream(s) }, 'Edit'),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${s.name}`, onclick: () => deleteStream(s) }, 'Delete')));
  }

  function keepLabel(r) {
    const age = hours(r && r.max_age);
    const k = KEEP.find(([v]) => v === age);
    const bytes = r && r.max_bytes ? `, at most ${fmtBytes(r.max_bytes)}` : '';
    return (k ? k[1] : fmtDuration(age)) + bytes;
  }

  async function editStream(s) {
    const collections = await api.collections().catch(() => []);
    const name = h('input', { required: true, pattern: namePattern, maxlength: 128, autocomplete: 'off', value: s ? s.name : '', disabled: !!s });
    const source = h('input', { type: 'url', autocomplete: 'off', placeholder: 'rtsp://user:pass@192.0.2.10/stream1', value: (s && s.source) || '' });
    const keep = h('select', {}, KEEP.map(([v, label]) => h('option', { value: v }, label)));
    keep.value = s ? hours(s.retention && s.retention.max_age) : '168h';
    if (!keep.value) keep.value = '168h';
    const maxBytes = h('input', { autocomplete: 'off', placeholder: 'e.g. 20GiB', value: s && s.retention && s.retention.max_bytes ? String(s.retention.max_bytes) : '' });
    const det = (s && s.detect) || {};
    const detect = h('input', { type: 'checkbox', checked: !!det.enabled });
    const fps = h('input', { type: 'number', min: '0.1', max: '30', step: '0.1', value: String(det.fps || 2) });
    const colls = collections.map((c) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: c.id, checked: (det.collections || []).includes(c.id) }), c.id));
    formDialog(s ? `Edit ${s.name}` : 'Add a camera', [
      field('Name', name, 'Letters, digits, _ . and -. Publishers use rtsp://HOST:8554/NAME.'),
      field('RTSP source', source, 'Leave empty for a camera that publishes to vigil.'),
      h('div', { class: 'row wrap' }, field('Keep recordings', keep), field('At most', maxBytes, 'Optional size limit.')),
      h('fieldset', {}, h('legend', {}, 'Face detection'),
        h('label', { class: 'check' }, detect, 'Detect and match faces'),
        field('Frames per second', fps),
        colls.length ? h('div', { class: 'checks', role: 'group', 'aria-label': 'Collections to match' }, h('span', { class: 'muted' }, 'Match against: '), colls)
          : h('p', { class: 'muted' }, 'No collections yet: faces are reported as seen, not recognised.')),
    ], async () => {
      const n = s ? s.name : name.value.trim();
      if (!isValidName(n)) throw new Error('name: letters, digits, _ . and - only');
      const body = {
        retention: { max_age: keep.value, max_bytes: maxBytes.value.trim() || 0 },
        detect: { enabled: detect.checked, fps: Number(fps.value) || 2, collections: colls.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value) },
      };
      if (source.value.trim()) body.source = source.value.trim();
      await api.putStream(n, body);
      toast(`Saved ${n}.`);
      loadStreams();
    });
  }

  async function deleteStream(s) {
    if (!await confirmDialog(`Delete ${s.name} and all of its recordings?`)) return;
    try { await api.deleteStream(s.name); toast(`Deleted ${s.name}.`); } catch (e) { toast(e.message, 'error'); }
    loadStreams();
  }

  async function loadNotifiers() {
    let list;
    try { list = await api.notifiers(); } catch (e) { fill(notifiersEl, h('p', { class: 'error' }, e.message)); return; }
    if (closed) return;
    fill(notifiersEl, list.length ? h('ul', { class: 'cards' }, list.map(notifierCard))
      : h('p', { class: 'muted' }, 'No notifiers. Add a webhook or an email to be told when someone is seen.'));
  }

  function notifierCard(n) {
    const st = n.status || {};
    const dead = st.dead_letters || [];
    const result = h('span', { class: 'muted', 'aria-live': 'polite' });
    const f = n.filter || {};
    const filterText = [
      f.streams && f.streams.length ? 'cameras ' + f.streams.join(', ') : 'all cameras',
      f.types && f.types.length ? f.types.map((t) => TYPE_NAMES[t] || t).join(', ') : 'all events',
      f.external_ids && f.external_ids.length ? 'people ' + f.external_ids.join(', ') : null,
    ].filter(Boolean).join(' · ');
    return h('li', { class: 'card', dataset: { notifier: n.name } },
      h('div', { class: 'row' }, h('h3', { class: 'grow' }, n.name),
        h('span', { class: 'badge ' + (st.disabled || n.disabled ? 'off' : 'ok') }, st.disabled || n.disabled ? 'Disabled' : n.type)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'To'), h('dd', {}, n.type === 'email' ? ((n.email && n.email.to) || []).join(', ') : n.url),
        h('dt', {}, 'Sends'), h('dd', {}, filterText),
        h('dt', {}, 'Delivered'), h('dd', {}, `${st.delivered || 0} delivered, ${st.pending || 0} pending, ${st.failed || 0} failed attempts, ${st.suppressed || 0} held back by cooldown`),
        st.disabled_reason ? [h('dt', {}, 'Why disabled'), h('dd', { class: 'error' }, st.disabled_reason)] : null),
      dead.length ? h('details', {}, h('summary', {}, `${dead.length} dead letter${dead.length === 1 ? '' : 's'}`),
        h('ul', { class: 'dead' }, dead.slice(-20).reverse().map((d) => h('li', {},
          h('code', {}, d.event_id), ` on ${d.stream}, ${d.attempts} attempts, ${fmtAgo(d.time)}: ${d.last_error}`)))) : null,
      h('div', { class: 'row wrap' },
        h('button', { type: 'button', class: 'small', onclick: async () => {
          result.textContent = 'Sending…';
          try { await api.testNotifier(n.name); result.textContent = 'Test delivered.'; } catch (e) { result.textContent = 'Test failed: ' + e.message; }
        } }, 'Send test'),
        h('button', { type: 'button', class: 'small ghost', 'aria-label': `Edit ${n.name}`, onclick: () => editNotifier(n) }, 'Edit'),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${n.name}`, onclick: async () => {
          if (!await confirmDialog(`Delete the notifier ${n.name}?`)) return;
          try { await api.deleteNotifier(n.name); } catch (e) { toast(e.message, 'error'); }
          loadNotifiers();
        } }, 'Delete'),
        result));
  }

  function editNotifier(n) {
    const name = h('input', { required: true, pattern: namePattern, maxlength: 128, autocomplete: 'off', value: n ? n.name : '', disabled: !!n });
    const type = h('select', {}, h('option', { value: 'webhook' }, 'Webhook'), h('option', { value: 'email' }, 'Email'));
    type.value = n ? n.type : 'webhook';
    const url = h('input', { type: 'url', autocomplete: 'off', placeholder: 'https://hooks.example.com/vigil', value: (n && n.url) || '' });
    const secret = h('input', { autocomplete: 'off', placeholder: 'whsec_…', value: (n && n.secret) || '' });
    const em = (n && n.email) || {};
    const smtp = h('input', { autocomplete: 'off', placeholder: 'mail.example.com:587', value: em.smtp || '' });
    const from = h('input', { type: 'email', autocomplete: 'off', value: em.from || '' });
    const to = h('input', { autocomplete: 'off', placeholder: 'a@example.com, b@example.com', value: (em.to || []).join(', ') });
    const f = (n && n.filter) || {};
    const streamsIn = h('input', { autocomplete: 'off', placeholder: 'all', value: (f.streams || []).join(', ') });
    const types = Object.entries(TYPE_NAMES).map(([v, label]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: v, checked: (f.types || []).includes(v) }), label));
    const people = h('input', { autocomplete: 'off', placeholder: 'anyone', value: (f.external_ids || []).join(', ') });
    const cooldown = h('select', {}, COOLDOWNS.map(([v, label]) => h('option', { value: v }, label)));
    cooldown.value = (n && n.cooldown) || '0s';
    const web = h('div', { class: 'stack' }, field('URL', url), field('Secret', secret, 'Optional whsec_ key: requests are signed (Standard Webhooks).'));
    const mail = h('div', { class: 'stack' }, field('SMTP server', smtp), field('From', from), field('To', to));
    const show = () => { web.hidden = type.value !== 'webhook'; mail.hidden = type.value !== 'email'; };
    type.addEventListener('change', show);
    show();
    const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
    formDialog(n ? `Edit ${n.name}` : 'Add a notifier', [
      h('div', { class: 'row wrap' }, field('Name', name), field('Type', type)),
      web, mail,
      h('fieldset', {}, h('legend', {}, 'Which events'),
        h('div', { class: 'checks', role: 'group', 'aria-label': 'Event types (none checked: all)' }, types),
        field('Cameras', streamsIn, 'Comma-separated; empty for all.'),
        field('People', people, 'Comma-separated names; empty for anyone.'),
        field('Cooldown', cooldown, 'Hold back repeats of the same person on the same camera.')),
    ], async () => {
      const nm = n ? n.name : name.value.trim();
      if (!isValidName(nm)) throw new Error('name: letters, digits, _ . and - only');
      const body = {
        type: type.value,
        filter: { streams: list(streamsIn.value), types: types.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value), external_ids: list(people.value) },
        cooldown: cooldown.value,
      };
      if (n && n.max_deliver) body.max_deliver = n.max_deliver;
      if (n && n.template) body.template = n.template;
      if (n && n.allow_private) body.allow_private = true;
      if (type.value === 'webhook') {
        body.url = url.value.trim();
        if (secret.value.trim()) body.secret = secret.value.trim();
      } else {
        body.email = { ...em, smtp: smtp.value.trim(), from: from.value.trim(), to: list(to.value) };
      }
      await api.putNotifier(nm, body);
      toast(`Saved ${nm}.`);
      loadNotifiers();
    });
  }

  loadStreams();
  loadNotifiers();
  // Refresh statuses, but never under the keyboard: a list holding the
  // focus waits.
  const timer = setInterval(() => {
    if (!streamsEl.contains(document.activeElement)) loadStreams();
    if (!notifiersEl.contains(document.activeElement)) loadNotifiers();
  }, 10000);
  return () => { closed = true; clearInterval(timer); };
}
