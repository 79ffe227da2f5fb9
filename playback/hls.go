package playback

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// mediaPlaylist is a rendered media playlist and what blocking reload needs.
type mediaPlaylist struct {
	body    []byte
	lastSeq uint64 // media sequence number of the last segment
	target  int
	kind    playlistKind
}

// ServePlaylist serves GET /hls/{stream}/index.m3u8:
//
//   - no parameters: live, the newest LiveWindow segments;
//   - start: replay from start, growing like live, at most VODMax long;
//   - start and end: on demand, at most VODMax long, ended by
//     EXT-X-ENDLIST once end has passed.
//
// _HLS_msn=N blocks until segment N is in the playlist (at most
// BlockTimeout), per the HLS blocking playlist reload.
func (s *Server) ServePlaylist(w http.ResponseWriter, r *http.Request, stream string) error {
	q := r.URL.Query()
	start, err := parseTime(q, "start")
	if err != nil {
		return err
	}
	end, err := parseTime(q, "end")
	if err != nil {
		return err
	}
	msn, blocking, err := parseDirectives(q)
	if err != nil {
		return err
	}
	var build func() (*mediaPlaylist, error)
	switch {
	case start.IsZero() && !end.IsZero():
		return fmt.Errorf("%w: end without start", ErrBadTime)
	case start.IsZero():
		build = func() (*mediaPlaylist, error) { return s.livePlaylist(stream) }
	case end.IsZero():
		build = func() (*mediaPlaylist, error) { return s.rangePlaylist(stream, start, start.Add(s.cfg.VODMax), true) }
	default:
		if !start.Before(end) {
			return fmt.Errorf("%w: start must be before end", ErrBadRange)
		}
		if end.Sub(start) > s.cfg.VODMax {
			return fmt.Errorf("%w: %v from start to end, over the limit of %v", ErrTooLarge, end.Sub(start), s.cfg.VODMax)
		}
		build = func() (*mediaPlaylist, error) { return s.rangePlaylist(stream, start, end, false) }
	}
	p, err := s.await(r, stream, build, msn, blocking)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	h.Set("Content-Length", strconv.Itoa(len(p.body)))
	if p.kind == kindVOD {
		h.Set("Cache-Control", "public, max-age=60")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(p.body)
	}
	return nil
}

// parseDirectives reads the blocking reload directives. _HLS_part is
// accepted (with _HLS_msn, as the spec requires) but vigil has no partial
// segments, so it waits for the whole segment.
func parseDirectives(q map[string][]string) (msn uint64, blocking bool, err error) {
	v := first(q, "_HLS_msn")
	if v == "" {
		if first(q, "_HLS_part") != "" {
			return 0, false, fmt.Errorf("%w: _HLS_part without _HLS_msn", ErrBadRequest)
		}
		return 0, false, nil
	}
	if msn, err = strconv.ParseUint(v, 10, 63); err != nil {
		return 0, false, fmt.Errorf("%w: _HLS_msn: want a whole number", ErrBadRequest)
	}
	if p := first(q, "_HLS_part"); p != "" {
		if _, err := strconv.ParseUint(p, 10, 31); err != nil {
			return 0, false, fmt.Errorf("%w: _HLS_part: want a whole number", ErrBadRequest)
		}
	}
	return msn, true, nil
}

// await builds the playlist, and when blocking, rebuilds it at each new
// fragment of the stream until it holds segment msn, the timeout passes,
// the client leaves or the server closes. A segment more than two past the
// last one is a bad request (the spec's rule).
func (s *Server) await(r *http.Request, stream string, build func() (*mediaPlaylist, error), msn uint64, blocking bool) (*mediaPlaylist, error) {
	var timer *time.Timer
	for {
		changed := s.wake.changed(stream) // before building: a fragment landing meanwhile still wakes us
		p, err := build()
		if err != nil || !blocking || p.kind == kindVOD || p.lastSeq >= msn {
			return p, err
		}
		if timer == nil {
			if msn > p.lastSeq+2 {
				return nil, fmt.Errorf("%w: _HLS_msn=%d is more than two segments past the last one (%d)", ErrBadRequest, msn, p.lastSeq)
			}
			timeout := s.cfg.BlockTimeout
			if timeout <= 0 {
				timeout = min(3*time.Duration(p.target)*time.Second, defaultBlock)
			}
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		if !wait(r.Context(), changed, timer) || s.wake.stopped() {
			return p, nil
		}
	}
}
