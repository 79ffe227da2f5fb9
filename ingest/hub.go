package ingest

import (
	"slices"
	"sync"

	"vigil/media"
)

// Hub fans one stream's media out to sinks through bounded queues.
// Publisher-side calls (Begin, Write, End) never block on a sink: each sink
// has its own queue and goroutine, and a full queue drops units instead of
// waiting.
//
// Units are shared between sinks and must be treated as read-only.
type Hub struct {
	name string

	mu      sync.Mutex
	subs    []*subscription
	tracks  []media.Track // current session's tracks, valid while active
	video   int           // index of the video track in tracks, -1 if none
	active  bool
	closed  bool
	unitsIn int64
	bytesIn int64
	gone    SinkStats // totals of cancelled subscriptions
}

// HubStats is a snapshot of a hub's counters.
type HubStats struct {
	UnitsIn int64 // units written by the publisher
	BytesIn int64 // payload bytes written by the publisher
	// Dropped counts units lost to full queues over the hub's lifetime,
	// including those of cancelled subscriptions.
	Dropped int64
	Sinks   []SinkStats
}

// SinkStats are one subscription's counters.
type SinkStats struct {
	Name      string
	Delivered int64 // units handed to the sink
	// Dropped counts units lost because the queue was full, and the units
	// skipped after such a loss until the next video keyframe.
	Dropped int64
	// Skipped counts units not delivered because the subscription joined
	// mid-session or a session began, until its first video keyframe.
	Skipped int64
	Queued  int // units waiting in the queue now
}

// NewHub returns an empty hub for the stream name.
func NewHub(name string) *Hub {
	return &Hub{name: name, video: -1}
}

// Name is the stream's name.
func (h *Hub) Name() string { return h.name }

// Subscribe starts delivering the stream to s from a new goroutine, in order,
// through a queue of at most queue units (minimum 1). A subscriber joining
// mid-session first gets Begin with the current tracks, then units from the
// next video keyframe on.
//
// cancel stops the delivery and waits for the goroutine: units still queued
// are discarded, and a sink left inside a session gets a final End. Calling
// cancel more than once is harmless. Subscribing to a closed hub returns a
// no-op cancel and never calls s.
func (h *Hub) Subscribe(name string, queue int, s media.Sink) (cancel func()) {
	sub := newSubscription(name, max(queue, 1), s)

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return func() {}
	}
	if h.active {
		sub.begin(h.tracks)
	}
	h.subs = append(h.subs, sub)
	h.mu.Unlock()

	go sub.run()

	return func() { h.unsubscribe(sub, false) }
}

func (h *Hub) unsubscribe(sub *subscription, drain bool) {
	h.mu.Lock()
	i := slices.Index(h.subs, sub)
	if i >= 0 {
		h.subs = slices.Delete(h.subs, i, i+1)
	}
	h.mu.Unlock()

	sub.stop(drain)

	if i >= 0 {
		st := sub.stats()
		h.mu.Lock()
		h.gone.Delivered += st.Delivered
		h.gone.Dropped += st.Dropped
		h.gone.Skipped += st.Skipped
		h.mu.Unlock()
	}
}

// Begin starts a session (or a new recording run within one) with tracks.
// Every subscriber then waits for a video keyframe before getting units.
func (h *Hub) Begin(tracks []media.Track) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.tracks = slices.Clone(tracks)
	h.video = slices.IndexFunc(h.tracks, func(t media.Track) bool { return t.Codec.IsVideo() })
	h.active = true
	for _, s := range h.subs {
		s.begin(h.tracks)
	}
}

// Write hands u to every subscriber. It never blocks on a sink. Units written
// outside a session (before Begin or after End) are ignored.
func (h *Hub) Write(u *media.Unit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.active {
		return
	}
	h.unitsIn++
	h.bytesIn += int64(u.Size())
	resume := u.Key && (h.video < 0 || u.Track == h.video)
	for _, s := range h.subs {
		s.pushUnit(u, resume)
	}
}

// End ends the current session. It is a no-op outside a session.
func (h *Hub) End() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.active {
		return
	}
	h.active = false
	h.tracks = nil
	h.video = -1
	for _, s := range h.subs {
		s.pushControl(item{end: true})
	}
}

// Tracks returns the current session's tracks, or nil outside a session.
func (h *Hub) Tracks() []media.Track {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.tracks)
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := HubStats{UnitsIn: h.unitsIn, BytesIn: h.bytesIn, Dropped: h.gone.Dropped}
	for _, s := range h.subs {
		ss := s.stats()
		st.Dropped += ss.Dropped
		st.Sinks = append(st.Sinks, ss)
	}
	return st
}

// Close ends the hub: later publisher calls and subscriptions are ignored.
// Each subscription first delivers what is already queued (so a recorder
// gets the tail of the stream and its End), then stops; Close waits for all.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	subs := slices.Clone(h.subs)
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { h.unsubscribe(s, true) })
	}
	wg.Wait()
}
