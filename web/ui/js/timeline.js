// Timeline: a stream's recorded spans, gaps and event markers over a view
// from 1 minute to 7 days wide. Click or drag to scrub (a still of the
// moment follows the pointer), shift-drag to select a range, wheel or +/-
// to zoom. It is one keyboard slider: arrows step, Page keys jump, Home/End
// go to the view's edges, Enter plays.
import { urls } from './api.js';
import { fmtSpan, fmtTime, h } from './dom.js';

export const ZOOMS = [60e3, 5 * 60e3, 15 * 60e3, 3600e3, 6 * 3600e3, 86400e3, 7 * 86400e3];
const TICKS = [10e3, 30e3, 60e3, 5 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3];

export class Timeline {
  // opts: stream; onSeek(Date) plays a moment; onSelect({start, end}|null);
  // onView({start, end}) after the view changes (to load data).
  constructor(opts) {
    this.opts = opts;
    this.span = 3600e3;
    this.end = Date.now() + this.span * 0.02;
    this.follow = true; // the view's end tracks now
    this.cursor = null; // Date being played or pointed at
    this.selection = null;
    this.spans = [];
    this.events = [];
    this.dragging = false;
    this.userAt = 0; // when the user last moved the cursor

    this.spansEl = h('div', { class: 'tl-spans' });
    this.eventsEl = h('div', { class: 'tl-events' });
    this.selEl = h('div', { class: 'tl-sel', hidden: true });
    this.cursorEl = h('div', { class: 'tl-cursor' });
    this.nowEl = h('div', { class: 'tl-now' });
    this.previewImg = h('img', { alt: '', width: 160, height: 90 });
    this.previewTime = h('span');
    this.preview = h('div', { class: 'tl-preview', hidden: true, 'aria-hidden': 'true' }, this.previewImg, this.previewTime);
    this.track = h('div', {
      class: 'tl-track', role: 'slider', tabindex: '0', 'aria-label': 'Recording timeline',
      'aria-describedby': 'tl-help', 'aria-orientation': 'horizontal',
    }, this.spansEl, this.eventsEl, this.selEl, this.nowEl, this.cursorEl);
    this.axis = h('div', { class: 'tl-axis', 'aria-hidden': 'true' });
    this.zoomLabel = h('span', { class: 'tl-zoom', 'aria-live': 'polite' });
    const btn = (label, text, fn) => h('button', { type: 'button', class: 'small ghost', 'aria-label': label, title: label, onclick: fn }, text);
    this.el = h('div', { class: 'timeline' },
      h('div', { class: 'tl-toolbar' },
        btn('Earlier', '‹', () => this.pan(-0.5)),
        btn('Zoom out', '−', () => this.zoom(1)),
        this.zoomLabel,
        btn('Zoom in', '+', () => this.zoom(-1)),
        btn('Later', '›', () => this.pan(0.5)),
        h('button', { type: 'button', class: 'small ghost', onclick: () => this.toNow() }, 'Now')),
      h('div', { class: 'tl-frame' }, this.track, this.preview),
      this.axis,
      h('p', { id: 'tl-help', class: 'sr-only' },
        'Arrow keys move by a step, Shift or Page keys by a tenth of the view, Home and End to its edges; plus and minus zoom; Enter plays from the chosen moment.'));
    this.bind();
    this.render();
  }

  get start() { return this.end - this.span; }

  timeAt(clientX) {
    const r = this.track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return new Date(this.start + f * this.span);
  }

  pct(t) { return ((t - this.start) / this.span) * 100; }

  bind() {
    const tr = this.track;
    let drag = null; // {mode: 'scrub'|'select', from}
    tr.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      tr.setPointerCapture(e.pointerId);
      tr.focus({ preventScroll: true });
      const t = this.timeAt(e.clientX);
      drag = { mode: e.shiftKey ? 'select' : 'scrub', from: t };
      this.dragging = true;
      if (drag.mode === 'scrub') this.point(t, e.clientX);
      e.preventDefault();
    });
    tr.addEventListener('pointermove', (e) => {
      const t = this.timeAt(e.clientX);
      if (!drag) { this.showPreview(t, e.clientX); return; }
      if (drag.mode === 'scrub') this.point(t, e.clientX);
      else this.select(drag.from < t ? drag.from : t, drag.from < t ? t : drag.from);
    });
    const end = (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      this.dragging = false;
      this.hidePreview();
      if (d.mode === 'scrub') this.seek(this.timeAt(e.clientX));
    };
    tr.addEventListener('pointerup', end);
    tr.addEventListener('pointercancel', () => { drag = null; this.dragging = false; this.hidePreview(); });
    tr.addEventListener('pointerleave', () => { if (!drag) this.hidePreview(); });
    tr.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.zoom(e.deltaY > 0 ? 1 : -1, this.timeAt(e.clientX));
    }, { passive: false });
    let keyTimer = null;
    tr.addEventListener('keydown', (e) => {
      const base = this.cursor ? this.cursor.getTime() : Date.now();
      const small = this.span / 60;
      const big = this.span / 10;
      let t = null;
      switch (e.key) {
        case 'ArrowLeft': case 'ArrowDown': t = base - (e.shiftKey ? big : small); break;
        case 'ArrowRight': case 'ArrowUp': t = base + (e.shiftKey ? big : small); break;
        case 'PageUp': t = base - big; break;
        case 'PageDown': t = base + big; break;
        case 'Home': t = this.start; break;
        case 'End': t = Math.min(this.end, Date.now()); break;
        case '+': case '=': this.zoom(-1, this.cursor); break;
        case '-': case '_': this.zoom(1, this.cursor); break;
        case 'Enter': case ' ': if (this.cursor) this.seek(this.cursor); break;
        default: return;
      }
      e.preventDefault();
      if (t == null) return;
      t = Math.min(t, Date.now());
      this.userAt = Date.now();
      this.setCursor(new Date(t));
      this.reveal(t);
      // Like a video's own slider: the player follows once the keys rest.
      clearTimeout(keyTimer);
      keyTimer = setTimeout(() => this.seek(this.cursor), 450);
    });
  }

  // userActive: the user is moving the cursor, so playback must not.
  get userActive() { return this.dragging || Date.now() - this.userAt < 1500; }

  point(t, clientX) {
    this.userAt = Date.now();
    this.setCursor(t);
    this.showPreview(t, clientX);
  }

  seek(t) {
    if (t.getTime() > Date.now()) t = new Date();
    this.setCursor(t);
    this.opts.onSeek(t);
  }

  // showPreview puts the time and, once the pointer rests, a still of that
  // moment above the pointer.
  showPreview(t, clientX) {
    const r = this.track.getBoundingClientRect();
    const x = Math.min(r.width - 80, Math.max(80, clientX - r.left));
    this.preview.style.left = x + 'px';
    this.preview.hidden = false;
    this.previewTime.textContent = fmtTime(t, this.span > 86400e3);
    clearTimeout(this.previewTimer);
    const recorded = this.spans.some((s) => t >= s.s && t < s.e);
    this.preview.classList.toggle('no-media', !recorded);
    if (!recorded) return;
    this.previewTimer = setTimeout(() => { this.previewImg.src = urls.image(this.opts.stream, t, 160); }, 150);
  }

  hidePreview() {
    clearTimeout(this.previewTimer);
    this.preview.hidden = true;
  }

  select(start, end) {
    this.selection = start && end ? { start, end } : null;
    this.render();
    if (this.opts.onSelect) this.opts.onSelect(this.selection);
  }

  setCursor(t) {
    this.cursor = t;
    this.renderCursor();
  }

  // reveal pans so that t is in view.
  reveal(t) {
    if (t >= this.start && t <= this.end) return;
    this.follow = false;
    this.end = t + this.span / 2;
    this.changed();
  }

  setData(spans, events) {
    this.spans = spans.map((s) => ({ s: new Date(s.start).getTime(), e: new Date(s.end).getTime() }));
    this.events = events;
    this.render();
  }

  zoom(dir, around) {
    const i = ZOOMS.findIndex((z) => z >= this.span);
    const next = ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, (i < 0 ? ZOOMS.length - 1 : i) + dir))];
    if (next === this.span) return;
    const anchor = around ? around.getTime() : this.cursor ? this.cursor.getTime() : this.end;
    const f = (anchor - this.start) / this.span;
    this.span = next;
    this.end = anchor + (1 - f) * next;
    if (this.end > Date.now()) { this.end = Date.now() + next * 0.02; this.follow = true; } else this.follow = false;
    this.changed();
  }

  // zoomTo sets the view's width, keeping its end.
  zoomTo(span) {
    this.span = span;
    if (this.follow) this.end = Date.now() + span * 0.02;
    this.changed();
  }

  pan(frac) {
    this.end += frac * this.span;
    this.follow = this.end >= Date.now();
    if (this.follow) this.end = Date.now() + this.span * 0.02;
    this.changed();
  }

  toNow() {
    this.end = Date.now() + this.span * 0.02;
    this.follow = true;
    this.changed();
  }

  // tick keeps a following view at the present; called every second.
  tick() {
    if (this.follow) this.end = Date.now() + this.span * 0.02;
    this.render();
  }

  changed() {
    this.render();
    if (this.opts.onView) this.opts.onView({ start: new Date(this.start), end: new Date(this.end) });
  }

  render() {
    const start = this.start;
    const end = this.end;
    this.zoomLabel.textContent = fmtSpan(this.span);
    // Recorded spans, clipped to the view.
    this.spansEl.replaceChildren(...this.spans.filter((s) => s.e > start && s.s < end).map((s) => {
      const a = Math.max(s.s, start);
      const b = Math.min(s.e, end);
      return h('span', { class: 'tl-span', style: { left: this.pct(a) + '%', width: Math.max(0.2, this.pct(b) - this.pct(a)) + '%' } });
    }));
    this.eventsEl.replaceChildren(...this.events.filter((e) => {
      const t = new Date(e.time).getTime();
      return t >= start && t <= end;
    }).map((e) => h('span', { class: 'tl-event', dataset: { type: e.type }, style: { left: this.pct(new Date(e.time).getTime()) + '%' } })));
    if (this.selection) {
      const a = Math.max(this.selection.start.getTime(), start);
      const b = Math.min(this.selection.end.getTime(), end);
      this.selEl.hidden = b <= a;
      Object.assign(this.selEl.style, { left: this.pct(a) + '%', width: this.pct(b) - this.pct(a) + '%' });
    } else {
      this.selEl.hidden = true;
    }
    const now = Date.now();
    this.nowEl.hidden = now < start || now > end;
    this.nowEl.style.left = this.pct(now) + '%';
    this.renderAxis();
    this.renderCursor();
  }

  renderCursor() {
    const c = this.cursor;
    const tr = this.track;
    tr.setAttribute('aria-valuemin', String(Math.floor(this.start / 1000)));
    tr.setAttribute('aria-valuemax', String(Math.ceil(this.end / 1000)));
    if (!c) {
      this.cursorEl.hidden = true;
      tr.setAttribute('aria-valuetext', 'No moment chosen');
      return;
    }
    tr.setAttribute('aria-valuenow', (c.getTime() / 1000).toFixed(3));
    tr.setAttribute('aria-valuetext', fmtTime(c));
    tr.dataset.cursor = c.toISOString();
    const p = this.pct(c.getTime());
    this.cursorEl.hidden = p < 0 || p > 100;
    this.cursorEl.style.left = p + '%';
  }

  renderAxis() {
    const width = this.track.clientWidth || 600;
    const step = TICKS.find((s) => (this.span / s) * 90 <= width) || TICKS[TICKS.length - 1];
    const offset = new Date().getTimezoneOffset() * 60e3;
    const first = Math.ceil((this.start - offset) / step) * step + offset;
    const labels = [];
    for (let t = first; t <= this.end; t += step) {
      const d = new Date(t);
      const midnight = d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0;
      const text = step >= 86400e3 || (midnight && step >= 3600e3)
        ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
        : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: step < 60e3 ? '2-digit' : undefined, hour12: false });
      const p = this.pct(t);
      if (p < 3 || p > 97) continue; // keep labels inside the track
      labels.push(h('span', { style: { left: p + '%' } }, text));
    }
    this.axis.replaceChildren(...labels);
  }
}
