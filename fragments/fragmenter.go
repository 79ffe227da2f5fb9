package fragments

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	"vigil/media"
)

// Forced cuts bound a fragment when keyframes do not come: the fragment
// after a forced cut does not start on a keyframe (Fragment.Keyframe false).
const (
	maxFragmentBytes    = 32 << 20
	minForcedCutAfter   = 60 * time.Second
	forcedCutMultiplier = 2 // of FragmentTarget, when that is larger
)

// recorder is the media.Sink that fragments one stream into the store. The
// hub calls it from one goroutine; Store.Close flushes it from another.
type recorder struct {
	s   *Store
	st  *stream
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	tracks []media.Track // the session's tracks, with learned parameters
	run    *run
	w      chunkWriter
}

// run is one recording run: one init segment, one media timeline.
type run struct {
	tracks  []*track // by media track index; nil for tracks not recorded
	primary *track   // drives cuts: the first video track, else the first audio
	id      uint64   // number of the run's first fragment; 0 before it
	init    []byte
	started bool // the first keyframe arrived
	broken  bool // no init segment could be built: drop until the next Begin
	anchor  anchor
	prevEnd time.Time // server time the previous fragment of the run ends
	lastNS  int64     // run media time of the latest primary unit
	frag    fragState
	dropped uint64
}

// serverTime is the server time of run media time ns, never before the end
// of the run's previous fragment: when the anchor moves earlier, fragments
// still abut instead of overlapping.
func (ru *run) serverTime(ns int64) time.Time {
	t := ru.anchor.at(ns)
	if t.Before(ru.prevEnd) {
		return ru.prevEnd
	}
	return t
}

// fragState describes the fragment being buffered.
type fragState struct {
	open       bool // holds at least one primary sample
	startNS    int64
	serverTime time.Time
	ntp        time.Time
	key        bool
	bytes      int
}

// Begin starts a new run, flushing the previous one.
func (r *recorder) Begin(tracks []media.Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.finishRun()
	r.w.close()
	r.tracks = make([]media.Track, len(tracks))
	for i, t := range tracks {
		t.VPS, t.SPS, t.PPS = bytes.Clone(t.VPS), bytes.Clone(t.SPS), bytes.Clone(t.PPS)
		t.AACConfig = bytes.Clone(t.AACConfig)
		r.tracks[i] = t
	}
	r.run = r.newRun()
}

// Write buffers one unit and cuts a fragment when it is due.
func (r *recorder) Write(u *media.Unit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.run == nil {
		r.drop()
		return
	}
	r.write(u)
}

// End flushes the buffered media as a last fragment.
func (r *recorder) End() { r.finish(false) }

// shutdown is End for Store.Close; the recorder drops everything after it.
func (r *recorder) shutdown() { r.finish(true) }

func (r *recorder) finish(closing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.finishRun()
	r.w.close()
	r.run = nil
	r.closed = closing
}

func (r *recorder) drop() {
	if r.st != nil {
		r.st.unitsDropped.Add(1)
	}
	if r.run != nil {
		r.run.dropped++
	}
}

// newRun prepares a run for r.tracks.
func (r *recorder) newRun() *run {
	ru := &run{tracks: make([]*track, len(r.tracks))}
	id := 1
	for i, mt := range r.tracks {
		t, err := newTrack(mt, id)
		if err != nil {
			r.log.Warn("track not recorded", "track", i, "err", err)
			continue
		}
		ru.tracks[i] = t
		id++
		if ru.primary == nil || t.video() && !ru.primary.video() {
			ru.primary = t
		}
	}
	return ru
}

// restart ends the current run and starts another with the same tracks.
func (r *recorder) restart(reason string) {
	r.log.Info("new run", "reason", reason)
	r.finishRun()
	r.run = r.newRun()
}

func (r *recorder) write(u *media.Unit) {
	ru := r.run
	if ru.broken || u.Track < 0 || u.Track >= len(ru.tracks) || ru.tracks[u.Track] == nil {
		r.drop()
		return
	}
	t := ru.tracks[u.Track]
	if !ticksInRange(u.DTS, t.clock) || !ticksInRange(u.PTS, t.clock) {
		r.drop()
		return
	}
	if t.seen {
		d := u.DTS - t.lastDTS
		switch lim := nsToTicks(int64(maxJump), t.clock); {
		case (d > lim || d < -lim) && t == ru.primary:
			r.restart("timestamp jump")
			r.write(u)
			return
		case d > lim || d < -lim:
			// Another track's clock jumped: realign it to the primary.
			t.startTicks = u.DTS - nsToTicks(ru.lastNS, t.clock)
			if n := len(t.samples); n > 0 && t.samples[n-1].dur < 0 {
				t.samples[n-1].dur = t.defaultDur()
			}
			t.seen = false
		case d < 0 || d == 0 && t.video():
			r.drop()
			return
		}
	}
	key := t.isKey(u)
	if t.video() && key && t.learnParams(u.Payload) {
		r.tracks[u.Track].VPS, r.tracks[u.Track].SPS, r.tracks[u.Track].PPS = t.VPS, t.SPS, t.PPS
		if ru.started {
			r.restart("parameter sets changed")
			r.write(u)
			return
		}
	}
	recv := u.Recv
	if recv.IsZero() {
		recv = r.s.cfg.Now()
	}
	if !ru.started {
		if t != ru.primary || !key || !r.start(u, t, recv) {
			r.drop()
			return
		}
	}
	rel := u.DTS - t.startTicks
	if rel < 0 {
		r.drop()
		return
	}
	relNS := ticksToNS(rel, t.clock)
	// Fragments begin and end at the presentation time of the keyframe that
	// starts them: unlike its decode time, that does not depend on how far
	// the decoder had learnt the stream's frame reordering.
	boundaryNS := relNS
	if key && t.video() {
		boundaryNS = ticksToNS(u.PTS-t.startTicks, t.clock)
	}
	if t == ru.primary {
		ru.lastNS = relNS
		ru.anchor.observe(relNS, recv)
		if ru.frag.open && r.due(boundaryNS, key) {
			r.cut(rel, boundaryNS, false)
		}
	}
	payload := t.payload(u)
	if payload == nil {
		r.drop()
		return
	}
	if n := len(t.samples); n > 0 && t.samples[n-1].dur < 0 {
		p := &t.samples[n-1]
		p.dur = rel - p.dts
		t.lastDur = p.dur
	}
	t.samples = append(t.samples, pending{dts: rel, dur: -1, ptsOff: clampOffset(u.PTS - u.DTS), key: key, payload: payload})
	t.lastDTS, t.seen = u.DTS, true
	if t == ru.primary && !ru.frag.open {
		ru.frag = fragState{open: true, startNS: boundaryNS, ntp: u.NTP, key: key,
			bytes: ru.frag.bytes}
	} else if t == ru.primary && ru.frag.ntp.IsZero() && !u.NTP.IsZero() {
		// The producer's clock became known mid-fragment (its first sender
		// report raced the first packets): date the fragment's start from it.
		ptsNS := ticksToNS(u.PTS-t.startTicks, t.clock)
		ru.frag.ntp = u.NTP.Add(-time.Duration(ptsNS - ru.frag.startNS))
	}
	ru.frag.bytes += len(payload)
}

// start begins the run's timeline at the primary track's first keyframe u
// and builds the init segment. It reports false when that fails.
func (r *recorder) start(u *media.Unit, primary *track, recv time.Time) bool {
	ru := r.run
	init, err := buildInit(ru.tracks)
	if err != nil {
		r.log.Error("cannot record run", "err", err)
		ru.broken = true
		return false
	}
	ru.init, ru.started = init, true
	startNS := ticksToNS(u.DTS, primary.clock)
	for _, t := range ru.tracks {
		if t != nil {
			t.startTicks = nsToTicks(startNS, t.clock)
		}
	}
	primary.startTicks = u.DTS
	ru.anchor.observe(0, recv)
	return true
}

// due reports whether the primary unit at relNS closes the fragment.
func (r *recorder) due(relNS int64, key bool) bool {
	ru, target := r.run, r.s.cfg.FragmentTarget
	elapsed := time.Duration(relNS - ru.frag.startNS)
	// A camera's timestamps jitter: a GOP of the target length that comes
	// out a hair short still closes the fragment.
	if ru.primary.video() && key && elapsed >= target-target/50 || !ru.primary.video() && elapsed >= target {
		return true
	}
	return ru.frag.bytes >= maxFragmentBytes || elapsed >= max(minForcedCutAfter, forcedCutMultiplier*target)
}

// finishRun flushes the run's buffered media as a last fragment.
func (r *recorder) finishRun() {
	ru := r.run
	if ru == nil {
		return
	}
	if ru.frag.open {
		r.cut(0, 0, true)
	}
	for _, t := range ru.tracks {
		if t != nil && len(t.samples) > 0 {
			r.st.unitsDropped.Add(uint64(len(t.samples)))
			ru.dropped += uint64(len(t.samples))
			t.samples = nil
		}
	}
	if ru.dropped > 0 {
		r.log.Info("run ended", "run", ru.id, "units_dropped", ru.dropped)
	}
	r.run = nil
}
