package playback

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vigil/fragments"
)

// Clip limits: an init segment or a moof larger than these is not one
// vigil wrote.
const (
	maxInit          = 1 << 20
	maxMoof          = 16 << 20
	maxClipFragments = 100_000
)

// ServeClip serves GET /api/v1/streams/{stream}/clip.mp4?start=&end=: one
// fragmented MP4 from the keyframe fragment at or before start through the
// fragment containing end, streamed from the chunk files. The init segment
// declares the clip's duration (mehd, mvhd, tkhd); each moof is copied and
// patched (mfhd sequence numbers from 1, tfdt rebased so the clip starts at
// 0) and each mdat is sent straight from the file.
//
// A clip crossing into a run whose init segment differs (another codec
// configuration) ends at that run boundary. Across runs with identical init
// segments it continues, the next run's media placed right after the
// previous run's, so a recording gap is cut out rather than shown.
func (s *Server) ServeClip(w http.ResponseWriter, r *http.Request, stream string) error {
	start, end, err := parseSpan(r.URL.Query(), s.cfg.ClipMax)
	if err != nil {
		return err
	}
	c, err := s.planClip(stream, start, end)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Content-Length", strconv.FormatInt(c.size, 10))
	h.Set("Content-Disposition", `attachment; filename="`+stream+"-"+start.UTC().Format("20060102T150405.000Z")+`.mp4"`)
	h.Set("Cache-Control", "private, max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if err := c.write(w); err != nil {
		return fmt.Errorf("%w: clip of %s: %w", ErrAborted, stream, err)
	}
	return nil
}

// clip is a planned clip: its patched init segment and its fragments.
type clip struct {
	s     *Server
	init  []byte
	info  initInfo
	parts []clipPart
	size  int64
}

type clipPart struct {
	f   fragments.Fragment
	loc fragments.Location
}

// planClip finds the clip's fragments and reads its init segment: all the
// checks that can fail before anything is sent.
func (s *Server) planClip(stream string, start, end time.Time) (*clip, error) {
	first, err := s.firstFragment(stream, start, end)
	if err != nil {
		return nil, err
	}
	frags, err := s.fragmentsFrom(stream, first, end, maxClipFragments)
	if err != nil {
		return nil, err
	}
	c := &clip{s: s}
	var raw []byte // the first run's init segment as stored
	var dur time.Duration
	for i, f := range frags {
		f, loc, err := s.locate(stream, f.Number)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			break // deleted meanwhile: the clip ends there
		}
		if i == 0 || f.Run != c.parts[len(c.parts)-1].f.Run {
			init, err := s.readInit(loc)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				raw = init
			} else if !bytes.Equal(init, raw) {
				break // another codec configuration: the clip ends at the run boundary
			}
		}
		c.parts = append(c.parts, clipPart{f, loc})
		c.size += loc.Length
		dur += f.Duration
	}
	if len(c.parts) == 0 {
		return nil, fmt.Errorf("%w: %s has no recording in the range", ErrNoMedia, stream)
	}
	if c.init, c.info, err = patchInit(raw, dur); err != nil {
		return nil, fmt.Errorf("clip of %s: init segment of fragment %d: %w", stream, first.Number, err)
	}
	c.size += int64(len(c.init))
	return c, nil
}

// readInit reads a run's init segment from a chunk file.
func (s *Server) readInit(loc fragments.Location) ([]byte, error) {
	if loc.InitLength <= 0 || loc.InitLength > maxInit {
		return nil, fmt.Errorf("init segment of %d bytes in %s", loc.InitLength, loc.Path)
	}
	file, err := s.open(loc.Path, loc.InitOffset+loc.InitLength)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b := make([]byte, loc.InitLength)
	if _, err := file.ReadAt(b, loc.InitOffset); err != nil {
		return nil, fmt.Errorf("read init segment: %w", err)
	}
	return b, nil
}
