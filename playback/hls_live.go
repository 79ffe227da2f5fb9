package playback

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"vigil/fragments"
)

// liveState is what keeps a stream's live playlist consistent from one
// reload to the next: the discontinuity sequence number of each segment of
// the last window, the fragment each run's EXT-X-MAP names, and the target
// duration, which must not shrink.
type liveState struct {
	mu      sync.Mutex
	dsn     []numberDSN
	lastDSN uint64
	maps    map[uint64]uint64 // run -> fragment number
	target  int
}

type numberDSN struct{ number, dsn uint64 }

func (s *Server) liveState(stream string) *liveState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.live[stream]
	if st == nil {
		st = &liveState{maps: make(map[uint64]uint64)}
		s.live[stream] = st
	}
	return st
}

// tailSlack is how many more fragments than the window livePlaylist
// reads, so that a fragment dated before its predecessors still shows.
const tailSlack = 4

// livePlaylist renders the newest LiveWindow fragments. Media sequence
// numbers are fragment numbers, so the window is the newest run of
// consecutively numbered fragments (a number lost to a crash or a failed
// write starts it afresh).
func (s *Server) livePlaylist(stream string) (*mediaPlaylist, error) {
	tail, err := s.cfg.Store.Tail(stream, s.cfg.LiveWindow+1+tailSlack)
	if err != nil {
		return nil, fmt.Errorf("live playlist of %s: %w", stream, err)
	}
	if len(tail) == 0 {
		return nil, fmt.Errorf("%w: %s has no recording", ErrNoMedia, stream)
	}
	// Tail is in server time order, which can differ from number order
	// when a run's time anchor steps back (a camera clock running fast);
	// the live edge is the highest number.
	slices.SortFunc(tail, func(a, b fragments.Fragment) int { return cmp.Compare(a.Number, b.Number) })
	i := len(tail) - 1
	for i > 0 && tail[i-1].Number+1 == tail[i].Number && len(tail)-i < s.cfg.LiveWindow {
		i--
	}
	win := tail[i:]
	var pred *fragments.Fragment
	if i > 0 && tail[i-1].Number+1 == win[0].Number {
		pred = &tail[i-1]
	}

	st := s.liveState(stream)
	st.mu.Lock()
	defer st.mu.Unlock()
	dseq, fresh := st.sequence(win, pred)
	l := segmentList{buf: make([]byte, 0, 160*len(win)), mapNumber: func(f fragments.Fragment) uint64 {
		return st.mapNumber(s.cfg.Store, stream, f)
	}}
	for _, f := range win {
		l.add(f)
	}
	for run := range st.maps {
		if !runIn(win, run) {
			delete(st.maps, run)
		}
	}
	target := targetDuration(l.maxMS)
	if !fresh {
		target = max(target, st.target)
	}
	st.target = target
	h := header{kind: kindLive, target: target, sequence: win[0].Number, dseq: dseq}
	return &mediaPlaylist{body: render(h, &l), lastSeq: win[len(win)-1].Number, target: target, kind: kindLive}, nil
}

func runIn(win []fragments.Fragment, run uint64) bool {
	for _, f := range win {
		if f.Run == run {
			return true
		}
	}
	return false
}

// sequence returns the discontinuity sequence number of win[0] and
// remembers every segment's, so that a segment keeps its number from one
// reload to the next. fresh means win shares no segment with the previous
// window: numbering continues past the last one.
func (st *liveState) sequence(win []fragments.Fragment, pred *fragments.Fragment) (uint64, bool) {
	disc := make([]bool, len(win))
	disc[0] = pred == nil || discontinuous(*pred, win[0])
	for i := 1; i < len(win); i++ {
		disc[i] = discontinuous(win[i-1], win[i])
	}
	var base uint64
	fresh := true
	var before uint64 // discontinuities after win[0] up to win[i]
	for i, f := range win {
		if i > 0 && disc[i] {
			before++
		}
		if d, ok := st.find(f.Number); ok && d >= before {
			base, fresh = d-before, false
			break
		}
	}
	if fresh && len(st.dsn) > 0 {
		base = st.lastDSN + 1
	}
	st.dsn = st.dsn[:0]
	d := base
	for i, f := range win {
		if i > 0 && disc[i] {
			d++
		}
		st.dsn = append(st.dsn, numberDSN{f.Number, d})
	}
	st.lastDSN = d
	return base, fresh
}

func (st *liveState) find(number uint64) (uint64, bool) {
	for _, e := range st.dsn {
		if e.number == number {
			return e.dsn, true
		}
	}
	return 0, false
}

// mapNumber names the fragment whose init segment EXT-X-MAP uses for f's
// run: the one chosen when the run was first seen, while it still exists
// (retention may delete it), so that the URI does not change as the window
// slides.
func (st *liveState) mapNumber(store Store, stream string, f fragments.Fragment) uint64 {
	if m, ok := st.maps[f.Run]; ok {
		if m == f.Number {
			return m
		}
		if _, _, err := store.Locate(stream, m); err == nil {
			return m
		}
	}
	st.maps[f.Run] = f.Number
	return f.Number
}
