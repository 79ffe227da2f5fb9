package fragments

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"vigil/chunk"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// notices collects OnFragment calls.
type notices struct {
	mu    sync.Mutex
	frags map[string][]Fragment
}

func (n *notices) add(stream string, f Fragment) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.frags == nil {
		n.frags = make(map[string][]Fragment)
	}
	n.frags[stream] = append(n.frags[stream], f)
}

func (n *notices) get(stream string) []Fragment {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Fragment(nil), n.frags[stream]...)
}

// testConfig is a store config in dir with a fake clock and retention
// that only runs when a test asks.
func testConfig(dir string, clock *fakeClock, n *notices) Config {
	return Config{
		Dir:            dir,
		FreeReserve:    -1,
		RetentionEvery: time.Hour,
		Now:            clock.Now,
		OnFragment:     n.add,
		Logger:         testLogger(),
	}
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func allFragments(t *testing.T, s *Store, stream string) []Fragment {
	t.Helper()
	frags, next, err := s.Fragments(stream, Query{Limit: MaxLimit})
	if err != nil || next != "" {
		t.Fatalf("list: %v, next %q", err, next)
	}
	return frags
}

// chunkIDs lists the chunk files of a stream directory and fails on any
// other file.
func chunkIDs(t *testing.T, dir string) []uint64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []uint64
	for _, e := range ents {
		id, ok := chunk.ParseFileName(e.Name())
		if !ok {
			t.Fatalf("unexpected file %s in %s", e.Name(), dir)
		}
		ids = append(ids, id)
	}
	return ids
}

// checkConsistent asserts the store's invariants for a stream: every
// indexed fragment reads back and verifies, and every chunk file on disk
// holds an indexed fragment.
func checkConsistent(t *testing.T, s *Store, stream string) []Fragment {
	t.Helper()
	frags := allFragments(t, s, stream)
	files := map[uint64]bool{}
	for _, f := range frags {
		rc, size, err := s.OpenMP4(stream, f.Number)
		if err != nil {
			t.Fatalf("fragment %d: %v", f.Number, err)
		}
		rc.Close()
		if size <= f.Size {
			t.Fatalf("fragment %d: mp4 of %d bytes for a %d-byte fragment", f.Number, size, f.Size)
		}
		v, err := s.lookup(stream, f.Number)
		if err != nil {
			t.Fatal(err)
		}
		files[v.File] = true
	}
	var used int64
	for _, id := range chunkIDs(t, filepath.Join(s.cfg.Dir, stream)) {
		if !files[id] {
			t.Fatalf("chunk file %d holds no indexed fragment", id)
		}
		fi, err := os.Stat(filepath.Join(s.cfg.Dir, stream, chunk.FileName(id)))
		if err != nil {
			t.Fatal(err)
		}
		used += fi.Size()
	}
	if u := s.Usage(stream); u != used {
		t.Fatalf("usage %d, files on disk %d", u, used)
	}
	return frags
}

// within fails unless a and b are at most d apart.
func within(t *testing.T, what string, a, b time.Time, d time.Duration) {
	t.Helper()
	if diff := a.Sub(b); diff > d || diff < -d {
		t.Fatalf("%s: %v is %v from %v", what, a, diff, b)
	}
}

// testLogger discards logs unless VIGIL_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
