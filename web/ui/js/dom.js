// Small DOM helpers shared by every page: an element builder, toasts,
// confirmation dialogs and formatting of times, sizes and durations.

// h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child).
// Attributes starting with "on" become listeners; null/false ones are skipped;
// children may be strings, nodes, arrays or null.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Styles only as objects: the page's CSP refuses style attributes.
    else if (k === 'style') Object.assign(el.style, v);
    else if (k in el && typeof v !== 'string' && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// clear empties an element and appends new children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// toast shows a short message at the bottom of the page.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: 'toast ' + kind }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// confirmDialog asks a yes/no question in a modal dialog; resolves true on yes.
export function confirmDialog(question, yes = 'Delete') {
  return new Promise((resolve) => {
    const d = h('dialog', { class: 'dialog', 'aria-label': question },
      h('p', {}, question),
      h('form', { method: 'dialog', class: 'row end' },
        h('button', { value: 'no', class: 'ghost' }, 'Cancel'),
        h('button', { value: 'yes', class: 'danger' }, yes)));
    d.addEventListener('close', () => { d.remove(); resolve(d.returnValue === 'yes'); });
    document.body.append(d);
    d.showModal();
  });
}

// time formats: a Date (or RFC 3339 string) as local date and time.
export function fmtTime(t, withDate = true) {
  const d = t instanceof Date ? t : new Date(t);
  const opts = { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
  if (withDate) Object.assign(opts, { year: 'numeric', month: 'short', day: 'numeric' });
  return d.toLocaleString(undefined, opts);
}

// fmtAgo: "12 s ago", "3 min ago", "2 h ago", "4 d ago".
export function fmtAgo(t, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

// fmtBytes: 1536 → "1.5 KiB".
export function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  n = Number(n) || 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + ' ' + units[i];
}

// fmtSpan: a duration in ms as "7 d", "6 h", "15 min", "1 min", "30 s".
export function fmtSpan(ms) {
  const s = ms / 1000;
  if (s >= 86400) return +(s / 86400).toFixed(1) + ' d';
  if (s >= 3600) return +(s / 3600).toFixed(1) + ' h';
  if (s >= 60) return +(s / 60).toFixed(1) + ' min';
  return Math.round(s) + ' s';
}

// fmtRate: bits per second as "2.4 Mbit/s".
export function fmtRate(bps) {
  if (!bps) return '';
  if (bps >= 1e6) return (bps / 1e6).toFixed(1) + ' Mbit/s';
  return Math.round(bps / 1e3) + ' kbit/s';
}

// localInput/fromLocalInput convert between Date and <input type=datetime-local>.
export function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
export function fromLocalInput(v) {
  return v ? new Date(v) : null;
}

// uid returns a page-unique id for label/input pairs.
let seq = 0;
export function uid(prefix = 'f') { return prefix + '-' + (++seq); }

// field wraps a control with its label (and optional help), wiring for/id.
export function field(label, control, help) {
  if (!control.id) control.id = uid();
  const helpEl = help ? h('small', { id: control.id + '-help', class: 'help' }, help) : null;
  if (helpEl) control.setAttribute('aria-describedby', helpEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, helpEl);
}

// go navigates to a hash route, re-rendering even when it is the current one.
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// formDialog shows a modal form; onSubmit runs on submit and closes the
// dialog when it resolves, or shows its error and keeps the form open.
export function formDialog(title, body, onSubmit, submitLabel = 'Save') {
  const titleId = uid('dlg');
  const errorEl = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, submitLabel);
  const d = h('dialog', { class: 'dialog wide', 'aria-labelledby': titleId },
    h('form', { class: 'stack' },
      h('h2', { id: titleId }, title),
      body,
      errorEl,
      h('div', { class: 'row end' },
        h('button', { type: 'button', class: 'ghost', onclick: () => d.close() }, 'Cancel'),
        submit)));
  d.querySelector('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    errorEl.textContent = '';
    submit.disabled = true;
    try {
      await onSubmit();
      d.close();
    } catch (err) {
      errorEl.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

// fmtDuration renders a Go duration ("168h0m0s") for people ("7 d");
// "0s" or empty is "forever".
export function fmtDuration(d) {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?$/.exec(d || '');
  if (!m) return d;
  const ms = ((+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0)) * 1000;
  return ms ? fmtSpan(ms) : 'forever';
}
