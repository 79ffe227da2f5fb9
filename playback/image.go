package playback

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"vigil/fragments"
)

// MaxImageWidth is the widest image.jpg served.
const MaxImageWidth = 3840

// ServeImage serves GET /api/v1/streams/{stream}/image.jpg?at=&width=: the
// frame shown at `at`, decoded by Config.Frame from the fragment that
// contains it (its run's init segment and the fragment, read from the
// chunk file), scaled to width pixels (0 or absent: the original size).
func (s *Server) ServeImage(w http.ResponseWriter, r *http.Request, stream string) error {
	q := r.URL.Query()
	at, err := parseTime(q, "at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("%w: at is required", ErrBadTime)
	}
	width := 0
	if v := first(q, "width"); v != "" {
		if width, err = strconv.Atoi(v); err != nil || width < 0 || width > MaxImageWidth {
			return fmt.Errorf("%w: width: want a whole number from 0 to %d", ErrBadRequest, MaxImageWidth)
		}
	}
	var f fragments.Fragment
	found := false
	err = s.cfg.Store.Range(stream, at, at.Add(time.Nanosecond), func(x fragments.Fragment) bool {
		if !x.ServerTime.After(at) {
			f, found = x, true
		}
		return !found
	})
	if err != nil {
		return fmt.Errorf("image of %s: %w", stream, err)
	}
	if !found {
		return fmt.Errorf("%w: %s has no recording at %s", ErrNoMedia, stream, at.UTC().Format(time.RFC3339Nano))
	}
	if s.cfg.Frame == nil {
		return fmt.Errorf("%w: still images are not available in this build", ErrUnavailable)
	}
	f, loc, err := s.locate(stream, f.Number)
	if err != nil {
		return err
	}
	file, err := s.open(loc.Path, loc.Offset+loc.Length)
	if err != nil {
		return err
	}
	defer file.Close()
	mp4 := io.MultiReader(io.NewSectionReader(file, loc.InitOffset, loc.InitLength), io.NewSectionReader(file, loc.Offset, loc.Length))
	jpeg, err := s.cfg.Frame(mp4, at.Sub(f.ServerTime), width)
	if err != nil {
		return fmt.Errorf("image of %s at %s: %w", stream, at.UTC().Format(time.RFC3339Nano), err)
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(jpeg)))
	h.Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(jpeg)
	}
	return nil
}
