package fragments

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vigil/chunk"
	"vigil/media"
)

// shifted returns m's units moved later by d, on both clocks.
func shifted(m *testMedia, d time.Duration) *testMedia {
	out := &testMedia{tracks: m.tracks, units: make([]media.Unit, len(m.units))}
	for i, u := range m.units {
		clock := int64(m.tracks[u.Track].ClockRate)
		u.DTS += nsToTicks(int64(d), clock)
		u.PTS += nsToTicks(int64(d), clock)
		u.Recv, u.NTP = u.Recv.Add(d), u.NTP.Add(d)
		out.units[i] = u
	}
	return out
}

func TestNumbersContinueAcrossRestarts(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 6})
	var n notices
	cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &n)
	var last uint64
	for session := range 3 {
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if session == 1 {
			// Numbers survive a purge too.
			if err := s.Purge("cam"); err != nil {
				t.Fatal(err)
			}
		}
		seen := len(n.get("cam"))
		feed(s.Recorder("cam"), shifted(m, time.Duration(session)*time.Minute))
		added := n.get("cam")[seen:]
		if len(added) == 0 || added[0].Number != last+1 {
			t.Fatalf("session %d: first number %d after %d", session, added[0].Number, last)
		}
		last = added[len(added)-1].Number
		checkConsistent(t, s, "cam")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChunkRotation(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	tests := []struct {
		name     string
		maxAge   time.Duration
		maxBytes int64
		minFiles int
	}{
		{"by age", 4 * time.Second, 0, 3},
		{"by size", 0, 60 << 10, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{})
			cfg.FragmentTarget, cfg.ChunkMaxAge, cfg.ChunkMaxBytes = time.Second, tt.maxAge, tt.maxBytes
			s := openStore(t, cfg)
			feed(s.Recorder("cam"), m)
			frags := checkConsistent(t, s, "cam")
			ids := chunkIDs(t, filepath.Join(cfg.Dir, "cam"))
			if len(ids) < tt.minFiles {
				t.Fatalf("%d chunk files", len(ids))
			}
			// Every file is self-describing: header, init, fragments of one run.
			count := 0
			for _, id := range ids {
				f, err := os.Open(filepath.Join(cfg.Dir, "cam", chunk.FileName(id)))
				if err != nil {
					t.Fatal(err)
				}
				fi, _ := f.Stat()
				res := chunk.Scan(f, fi.Size())
				f.Close()
				if res.Err != nil || res.Fragments[0].Fragment.Number != id {
					t.Fatalf("file %d: %v", id, res.Err)
				}
				if tt.maxBytes > 0 && len(res.Fragments) > 1 && fi.Size() > tt.maxBytes {
					t.Fatalf("file %d: %d bytes", id, fi.Size())
				}
				if tt.maxAge > 0 {
					first, last := res.Fragments[0].Fragment, res.Fragments[len(res.Fragments)-1].Fragment
					if last.ServerTime.Sub(first.ServerTime) >= tt.maxAge {
						t.Fatalf("file %d spans %v", id, last.ServerTime.Sub(first.ServerTime))
					}
				}
				count += len(res.Fragments)
			}
			if count != len(frags) {
				t.Fatalf("%d records for %d indexed fragments", count, len(frags))
			}
		})
	}
}

func TestPurge(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 6})
	cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{})
	s := openStore(t, cfg)
	feed(s.Recorder("cam"), m)
	feed(s.Recorder("other"), m)
	before := allFragments(t, s, "cam")

	// Purge in the middle of a session: the recorder goes on in a new file.
	rec := s.Recorder("cam")
	rec.Begin(m.tracks)
	later := shifted(m, time.Minute)
	half := len(later.units) / 2
	for _, u := range later.units[:half] {
		rec.Write(&u)
	}
	if err := s.Purge("cam"); err != nil {
		t.Fatal(err)
	}
	if got := allFragments(t, s, "cam"); len(got) != 0 || s.Usage("cam") != 0 {
		t.Fatalf("after purge: %d fragments, %d bytes", len(got), s.Usage("cam"))
	}
	if _, _, err := s.OpenMP4("cam", before[0].Number); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged fragment: %v", err)
	}
	for _, u := range later.units[half:] {
		rec.Write(&u)
	}
	rec.End()
	after := checkConsistent(t, s, "cam")
	if len(after) == 0 || after[0].Number <= before[len(before)-1].Number {
		t.Fatalf("numbers after purge: %+v", after)
	}
	if len(checkConsistent(t, s, "other")) == 0 {
		t.Fatal("purge touched another stream")
	}
}

func TestLookupErrors(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 4})
	s := openStore(t, testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{}))
	feed(s.Recorder("cam"), m)
	tests := []struct {
		name   string
		stream string
		number uint64
		want   error
	}{
		{"unknown number", "cam", 999, ErrNotFound},
		{"unknown stream", "nope", 1, ErrNotFound},
		{"invalid name", "../etc", 1, ErrInvalidStream},
		{"index file name", "index.db", 1, ErrInvalidStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Fragment(tt.stream, tt.number); !errors.Is(err, tt.want) {
				t.Fatalf("Fragment: %v", err)
			}
			if _, _, err := s.OpenMP4(tt.stream, tt.number); !errors.Is(err, tt.want) {
				t.Fatalf("OpenMP4: %v", err)
			}
		})
	}
	if _, _, err := s.Fragments("cam", Query{Cursor: "zz"}); !errors.Is(err, ErrInvalidCursor) {
		t.Fatal(err)
	}
	if f, err := s.Fragment("cam", 1); err != nil || f.Number != 1 {
		t.Fatal(f, err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Dir: t.TempDir(), Fsync: "always"}} {
		if _, err := Open(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestCloseWhileWriting: Close from another goroutine while the hub is in
// the middle of Writes flushes safely and loses nothing it accepted.
func TestCloseWhileWriting(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	var n notices
	cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &n)
	cfg.FragmentTarget = time.Second
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := s.Recorder("cam")
	if s.Recorder("cam") != rec {
		t.Fatal("a second recorder for the same stream")
	}
	half := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec.Begin(m.tracks)
		for i, u := range m.units {
			if i == len(m.units)/2 {
				close(half)
			}
			rec.Write(&u)
		}
		rec.End()
	}()
	<-half
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	notified := n.get("cam")
	s = openStore(t, cfg)
	frags := checkConsistent(t, s, "cam")
	if len(frags) == 0 || len(frags) != len(notified) {
		t.Fatalf("%d fragments stored, %d notified", len(frags), len(notified))
	}
}

func TestFsyncNone(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 6})
	cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{})
	cfg.Fsync = FsyncNone
	s := openStore(t, cfg)
	feed(s.Recorder("cam"), m)
	want := checkConsistent(t, s, "cam")
	s.Close()
	s = openStore(t, cfg)
	if got := checkConsistent(t, s, "cam"); len(got) != len(want) {
		t.Fatalf("%d fragments after reopening, want %d", len(got), len(want))
	}
}
