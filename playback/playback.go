// Package playback serves recorded and live video back: HLS playlists (live
// with blocking reload, replay from a time, on demand), init segments and
// fragments sent straight from the chunk files by byte range, MP4 clips,
// still images and the recording timeline.
//
// Handlers have the form func(w, r, stream, ...) error. They check their own
// parameters and return an error wrapping one of the sentinels below before
// writing anything; the HTTP edge (package web) maps it to a status. Once a
// handler has started a response it can only abort it: it then returns an
// error wrapping ErrAborted.
package playback

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"vigil/fragments"
)

// Store is the fragment store as playback reads it.
type Store interface {
	// Locate returns a fragment's metadata and where its bytes and its
	// run's init segment are; fragments.ErrNotFound when it does not exist.
	Locate(stream string, number uint64) (fragments.Fragment, fragments.Location, error)
	// Range calls fn with the fragments overlapping [start, end) in server
	// time order until fn returns false; zero times are unbounded.
	Range(stream string, start, end time.Time, fn func(fragments.Fragment) bool) error
	// Tail returns the newest n fragments, oldest first.
	Tail(stream string, n int) ([]fragments.Fragment, error)
	// Timeline returns the continuous recorded spans within [start, end).
	Timeline(stream string, start, end time.Time) ([]fragments.Span, error)
}

// FrameFunc decodes the frame shown at `at` after the start of an MP4 made
// of an init segment and one fragment, scaled to width (0 = original), as
// JPEG. Package playback/frame provides one.
type FrameFunc func(mp4 io.Reader, at time.Duration, width int) ([]byte, error)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// Store is where fragments are found. Required.
	Store Store
	// LiveWindow is the number of segments in a live playlist. Default 5.
	LiveWindow int
	// VODMax is the longest span a replay or on-demand playlist covers.
	// Default 24h.
	VODMax time.Duration
	// ClipMax is the longest clip.mp4. Default 1h.
	ClipMax time.Duration
	// BlockTimeout is how long a blocking playlist reload (_HLS_msn) waits
	// for its segment before answering with the playlist as it is. Default
	// three times the playlist's target duration, at most 10 s.
	BlockTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Open opens a chunk file for reading. Default os.Open. Tests wrap it to
	// see every file playback opens.
	Open func(name string) (*os.File, error)
	// Frame decodes still images for image.jpg. When nil, image.jpg answers
	// ErrUnavailable.
	Frame FrameFunc
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultLiveWindow = 5
	DefaultVODMax     = 24 * time.Hour
	DefaultClipMax    = time.Hour
	// defaultBlock caps the default blocking reload timeout.
	defaultBlock = 10 * time.Second
)

// Errors the HTTP edge maps to statuses. Handlers wrap them with details.
var (
	ErrBadRequest  = errors.New("bad request")           // 400 bad_request: a malformed parameter
	ErrBadTime     = errors.New("bad time")              // 400 bad_time: a time that is not RFC 3339
	ErrBadRange    = errors.New("bad range")             // 400 bad_range: start after end, or an impossible range
	ErrNotFound    = errors.New("not found")             // 404 not_found: no such fragment or file
	ErrNoMedia     = errors.New("no media")              // 404 no_media: nothing recorded where asked
	ErrTooLarge    = errors.New("too large")             // 413 too_large: a range over the configured limit
	ErrUnsatisfied = errors.New("range not satisfiable") // 416: a Range header outside the resource
	ErrUnavailable = errors.New("unavailable")           // 503 unavailable: a feature not wired in
	// ErrAborted means the response had started when the handler failed:
	// nothing more can be sent, and the client sees a short body.
	ErrAborted = errors.New("response aborted")
)

// Server serves playback. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	log  *slog.Logger
	wake notifier

	mu   sync.Mutex
	live map[string]*liveState // per stream: what keeps live playlists stable across reloads
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.LiveWindow <= 0 {
		cfg.LiveWindow = DefaultLiveWindow
	}
	if cfg.VODMax <= 0 {
		cfg.VODMax = DefaultVODMax
	}
	if cfg.ClipMax <= 0 {
		cfg.ClipMax = DefaultClipMax
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Open == nil {
		cfg.Open = os.Open
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "playback"),
		wake: notifier{waiters: make(map[string]chan struct{}), closed: make(chan struct{})},
		live: make(map[string]*liveState),
	}
}

// Notify tells blocked playlist requests that a fragment of stream was
// stored. Wire it to fragments.Config.OnFragment. It never blocks.
func (s *Server) Notify(stream string, f fragments.Fragment) { s.wake.notify(stream) }

// Close releases every blocked playlist request (they answer at once) and
// makes later ones answer without waiting. Requests in flight otherwise
// finish normally; the HTTP server owns and waits for them.
func (s *Server) Close() error {
	s.wake.close()
	return nil
}

// parseTime parses an RFC 3339 time query value; missing is the zero time.
func parseTime(q map[string][]string, key string) (time.Time, error) {
	v := first(q, key)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %q is not an RFC 3339 time (e.g. 2026-11-26T10:00:00.000Z)", ErrBadTime, key, truncate(v))
	}
	return t, nil
}

// parseSpan parses start and end, both required, with start < end and
// end-start <= limit.
func parseSpan(q map[string][]string, limit time.Duration) (start, end time.Time, err error) {
	if start, err = parseTime(q, "start"); err != nil {
		return
	}
	if end, err = parseTime(q, "end"); err != nil {
		return
	}
	switch {
	case start.IsZero() || end.IsZero():
		err = fmt.Errorf("%w: start and end are both required", ErrBadTime)
	case !start.Before(end):
		err = fmt.Errorf("%w: start must be before end", ErrBadRange)
	case end.Sub(start) > limit:
		err = fmt.Errorf("%w: %v from start to end, over the limit of %v", ErrTooLarge, end.Sub(start), limit)
	}
	return
}

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// truncate bounds a client's value quoted back in an error message.
func truncate(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}
