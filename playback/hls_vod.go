package playback

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"vigil/fragments"
)

// rangePlaylist renders the fragments from the keyframe fragment at or
// before start through the last one starting before end. replay marks a
// replay from start (end is then start+VODMax): it grows like a live
// playlist and players start it at its beginning. Either is complete, with
// EXT-X-ENDLIST, once end has passed; until then it grows at its end
// (EXT-X-PLAYLIST-TYPE:EVENT for a range asked with an end).
//
// Media sequence numbers count from the first fragment's number, one per
// segment, so they stay put as the playlist grows.
func (s *Server) rangePlaylist(stream string, start, end time.Time, replay bool) (*mediaPlaylist, error) {
	first, err := s.firstFragment(stream, start, end)
	if err != nil {
		return nil, err
	}
	list, err := s.fragmentsFrom(stream, first, end, 0)
	if err != nil {
		return nil, err
	}
	l := segmentList{buf: make([]byte, 0, 128*len(list))}
	for _, f := range list {
		l.add(f)
	}
	if l.n == 0 {
		return nil, fmt.Errorf("%w: %s has no recording from %s", ErrNoMedia, stream, start.UTC().Format(time.RFC3339Nano))
	}
	ended := !end.After(s.cfg.Now())
	h := header{target: targetDuration(l.maxMS), sequence: first.Number, ended: ended}
	switch {
	case ended:
		h.kind = kindVOD
	case replay:
		h.kind = kindReplay
	default:
		h.kind = kindEvent
	}
	return &mediaPlaylist{body: render(h, &l), lastSeq: first.Number + uint64(l.n) - 1, target: h.target, kind: h.kind}, nil
}

// fragmentsFrom lists the fragments from first up to end in media order, at
// most limit (0: no limit). Range gives server time order; fragment
// numbers give media order, and the two differ only when a run's time
// anchor stepped back by more than a fragment (tiny fragments from a
// camera whose clock runs fast): then the list is sorted by number.
func (s *Server) fragmentsFrom(stream string, first fragments.Fragment, end time.Time, limit int) ([]fragments.Fragment, error) {
	var list []fragments.Fragment
	sorted := true
	err := s.cfg.Store.Range(stream, first.ServerTime.Add(-1), end, func(f fragments.Fragment) bool {
		// Fragments overlapping the first one's start but older come first.
		if f.Number < first.Number {
			return true
		}
		if n := len(list); n > 0 && f.Number < list[n-1].Number {
			sorted = false
		}
		list = append(list, f)
		return limit == 0 || len(list) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("fragments of %s: %w", stream, err)
	}
	if !sorted {
		slices.SortFunc(list, func(a, b fragments.Fragment) int { return cmp.Compare(a.Number, b.Number) })
	}
	return list, nil
}

// keyframeLookback bounds how far before a fragment without a keyframe (a
// forced cut, after a minute without one) playback looks for the keyframe
// fragment that precedes it.
var keyframeLookback = [...]time.Duration{2 * time.Minute, 10 * time.Minute}

// firstFragment returns the fragment a player must start with to show
// start: the first fragment overlapping [start, end), or when that one
// does not start with a keyframe, the newest keyframe fragment before it.
// ErrNoMedia when nothing overlaps.
func (s *Server) firstFragment(stream string, start, end time.Time) (fragments.Fragment, error) {
	var f fragments.Fragment
	found := false
	err := s.cfg.Store.Range(stream, start, end, func(x fragments.Fragment) bool {
		f, found = x, true
		return false
	})
	if err != nil {
		return f, fmt.Errorf("fragments of %s: %w", stream, err)
	}
	if !found {
		return f, fmt.Errorf("%w: %s has no recording from %s to %s", ErrNoMedia, stream,
			start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano))
	}
	if f.Keyframe {
		return f, nil
	}
	for _, back := range keyframeLookback {
		var key fragments.Fragment
		ok := false
		err := s.cfg.Store.Range(stream, f.ServerTime.Add(-back), f.ServerTime, func(x fragments.Fragment) bool {
			if x.Keyframe && x.Number != f.Number && x.ServerTime.Before(f.ServerTime) {
				key, ok = x, true
			}
			return true
		})
		if err != nil {
			return f, fmt.Errorf("fragments of %s: %w", stream, err)
		}
		if ok {
			return key, nil
		}
	}
	return f, nil
}
