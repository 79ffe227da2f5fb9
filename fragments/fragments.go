// Package fragments records live media into GOP-aligned fMP4 fragments,
// stores them in per-stream chunk files (see package chunk and
// docs/format.md), indexes them in bbolt, serves them back and applies
// retention. A Store is one component: Open starts it, Close stops it and
// waits.
package fragments

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Store. Zero values take the documented defaults.
type Config struct {
	// Dir is the root of the store (e.g. <data>/streams): it holds
	// index.db and one directory per stream. Created if missing.
	Dir string
	// FragmentTarget is the media duration after which a fragment is cut at
	// the next keyframe. Default 2s.
	FragmentTarget time.Duration
	// ChunkMaxAge is the media duration after which a chunk file is
	// rotated. Default 60s.
	ChunkMaxAge time.Duration
	// ChunkMaxBytes is the size after which a chunk file is rotated.
	// Default 64 MiB.
	ChunkMaxBytes int64
	// Fsync is "fragment" (default: fsync the chunk file before indexing
	// each fragment) or "none" (leave it to the OS; recovery still cuts
	// what a crash tore).
	Fsync string
	// FreeReserve is the free disk space, in bytes, that retention keeps on
	// Dir's filesystem by deleting the oldest chunk files of any stream.
	// 0 means min(5% of the filesystem, 2 GiB); -1 turns it off.
	FreeReserve int64
	// RetentionEvery is how often retention runs. Default 10s.
	RetentionEvery time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnFragment, when set, is called after a fragment is durable and
	// indexed, from the recorder's goroutine. It must not block long.
	OnFragment func(stream string, f Fragment)
	// ObserveIndexLatency, when set, receives the time from a fragment's
	// close (the cut) to its index commit, for every fragment stored.
	ObserveIndexLatency func(time.Duration)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Fsync policies.
const (
	FsyncFragment = "fragment"
	FsyncNone     = "none"
)

// Defaults.
const (
	DefaultFragmentTarget = 2 * time.Second
	DefaultChunkMaxAge    = 60 * time.Second
	DefaultChunkMaxBytes  = 64 << 20
	DefaultRetentionEvery = 10 * time.Second
	// MaxFreeReserve caps the default free-disk reserve.
	MaxFreeReserve = 2 << 30
)

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("fragments: config: dir is empty")
	}
	if c.FragmentTarget <= 0 {
		c.FragmentTarget = DefaultFragmentTarget
	}
	if c.ChunkMaxAge <= 0 {
		c.ChunkMaxAge = DefaultChunkMaxAge
	}
	if c.ChunkMaxBytes <= 0 {
		c.ChunkMaxBytes = DefaultChunkMaxBytes
	}
	switch c.Fsync {
	case "":
		c.Fsync = FsyncFragment
	case FsyncFragment, FsyncNone:
	default:
		return fmt.Errorf("fragments: config: fsync %q: want %q or %q", c.Fsync, FsyncFragment, FsyncNone)
	}
	if c.RetentionEvery <= 0 {
		c.RetentionEvery = DefaultRetentionEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Retention limits one stream's recordings. Zero fields are unlimited.
type Retention struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// Fragment is the metadata of one stored fragment.
type Fragment struct {
	Number       uint64
	Run          uint64    // recording run: fragments of one run share an init segment
	ProducerTime time.Time // zero when the camera gave no RTCP time
	ServerTime   time.Time
	Duration     time.Duration
	Size         int64 // bytes of the fragment (moof+mdat)
	Keyframe     bool  // starts on a keyframe; false only after a forced cut (see fragmenter)
	Checksum     uint32
}

// Query selects fragments overlapping [Start, End). Zero Start or End is
// unbounded. Limit defaults to DefaultLimit and is capped at MaxLimit.
// Cursor continues a previous listing.
type Query struct {
	Start, End time.Time
	Limit      int
	Cursor     string
}

// Query limits.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Errors callers branch on.
var (
	ErrNotFound      = errors.New("not found")
	ErrInvalidCursor = errors.New("invalid cursor")
	ErrInvalidStream = errors.New("invalid stream name")
	ErrClosed        = errors.New("store closed")
)

// validStream reports whether name may name a stream: 1–128 characters of
// [A-Za-z0-9_.-], not "." or "..", and not indexFile (which shares Dir).
func validStream(name string) bool {
	if len(name) == 0 || len(name) > 128 || name == "." || name == ".." || name == indexFile {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func checkStream(name string) error {
	if !validStream(name) {
		return fmt.Errorf("%w: %q", ErrInvalidStream, name)
	}
	return nil
}
