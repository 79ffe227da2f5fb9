package fragments

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// recordFiles records m into stream with small chunk files and returns the
// resulting layout.
func recordFiles(t *testing.T, s *Store, stream string, m *testMedia) *layout {
	t.Helper()
	feed(s.Recorder(stream), m)
	var numbers []uint64
	for _, f := range allFragments(t, s, stream) {
		numbers = append(numbers, f.Number)
	}
	l := scanLayout(t, filepath.Join(s.cfg.Dir, stream), numbers)
	if len(l.files) < 4 {
		t.Fatalf("only %d chunk files", len(l.files))
	}
	return l
}

// newest is the end of the newest fragment in file i.
func (l *layout) newest(i int) time.Time {
	var n time.Time
	for _, r := range l.scans[i].Fragments {
		if end := r.Fragment.ServerTime.Add(r.Fragment.Duration); end.After(n) {
			n = end
		}
	}
	return n
}

func (l *layout) size(i int) int64 { return l.scans[i].End }

func smallChunks(t *testing.T, clock *fakeClock) Config {
	cfg := testConfig(t.TempDir(), clock, &notices{})
	cfg.FragmentTarget, cfg.ChunkMaxAge = time.Second, 2*time.Second
	return cfg
}

// remaining checks that the stream kept exactly files[from:] of l.
func remaining(t *testing.T, s *Store, stream string, l *layout, from int) {
	t.Helper()
	if got := chunkIDs(t, filepath.Join(s.cfg.Dir, stream)); !slices.Equal(got, l.files[from:]) {
		t.Fatalf("kept files %v, want %v", got, l.files[from:])
	}
	var want []uint64
	for i := from; i < len(l.files); i++ {
		want = append(want, l.numbersIn(i)...)
	}
	var got []uint64
	for _, f := range checkConsistent(t, s, stream) {
		got = append(got, f.Number)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("indexed %v, want %v", got, want)
	}
}

func TestRetentionByAge(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 12})
	clock := &fakeClock{t: wallBase}
	s := openStore(t, smallChunks(t, clock))
	l := recordFiles(t, s, "cam", m)
	s.SetRetention("cam", Retention{MaxAge: time.Hour})

	s.RunRetention()
	remaining(t, s, "cam", l, 0) // nothing is an hour old yet

	// An hour and 5 s later: files whose newest fragment ended before
	// wallBase+5s go, oldest first.
	clock.Set(wallBase.Add(time.Hour + 5*time.Second))
	cutoff := wallBase.Add(5 * time.Second)
	keep := 0
	for keep < len(l.files) && l.newest(keep).Before(cutoff) {
		keep++
	}
	if keep == 0 || keep == len(l.files) {
		t.Fatalf("bad test: cutoff keeps %d of %d files", keep, len(l.files))
	}
	s.RunRetention()
	remaining(t, s, "cam", l, keep)
	var deleted uint64
	for i := range keep {
		deleted += uint64(len(l.scans[i].Fragments))
	}
	if got := s.Stats().FragmentsDeleted; got != deleted {
		t.Fatalf("%d fragments deleted, stats say %d", deleted, got)
	}
}

func TestRetentionByBytes(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	s := openStore(t, smallChunks(t, &fakeClock{t: wallBase}))
	l := recordFiles(t, s, "cam", m)
	limit := s.Usage("cam") / 3
	s.SetRetention("cam", Retention{MaxBytes: limit})
	s.RunRetention()

	// The fewest oldest files whose deletion brings usage under the limit.
	usage, keep := s.Usage("cam"), 0
	total := int64(0)
	for i := range l.files {
		total += l.size(i)
	}
	for total > limit {
		total -= l.size(keep)
		keep++
	}
	remaining(t, s, "cam", l, keep)
	if usage > limit {
		t.Fatalf("usage %d over %d", usage, limit)
	}
}

// TestRetentionWhileRecording runs retention passes while a recorder
// writes: usage stays under MaxBytes plus the chunk being written, the
// chunk being written survives, and Write never waits for deletions.
func TestRetentionWhileRecording(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	cfg := smallChunks(t, &fakeClock{t: wallBase})
	cfg.ChunkMaxBytes = 48 << 10
	s := openStore(t, cfg)
	const limit = 100 << 10
	s.SetRetention("cam", Retention{MaxBytes: limit})

	var slowest time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec := s.Recorder("cam")
		rec.Begin(m.tracks)
		for lap := range 5 {
			for _, u := range shifted(m, time.Duration(lap)*12*time.Second).units {
				start := time.Now()
				rec.Write(&u)
				slowest = max(slowest, time.Since(start))
			}
		}
		rec.End()
	}()
	passes := 0
	for running := true; running; passes++ {
		select {
		case <-done:
			running = false
		default:
		}
		s.RunRetention()
		// Bound: the limit, plus the file being written (ChunkMaxBytes), plus
		// a fragment appended since the pass.
		if u := s.Usage("cam"); u > limit+cfg.ChunkMaxBytes+64<<10 {
			t.Fatalf("usage %d after a pass", u)
		}
	}
	s.RunRetention()
	frags := checkConsistent(t, s, "cam")
	if u := s.Usage("cam"); u > limit {
		t.Fatalf("usage %d after recording", u)
	}
	if st := s.Stats(); st.FragmentsDeleted == 0 || st.Streams["cam"].WriteErrors != 0 || len(frags) == 0 {
		t.Fatalf("stats %+v, %d fragments left", st, len(frags))
	}
	// A liveness bound, not a benchmark: Write includes an fsync and an
	// index commit per fragment, never a file deletion.
	if slowest > 2*time.Second {
		t.Fatalf("a Write took %v", slowest)
	}
	t.Logf("%d retention passes, slowest Write %v", passes, slowest)
}

// TestRetentionSparesActiveFile: the file a recorder is writing is never
// deleted, however old or large.
func TestRetentionSparesActiveFile(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 12})
	clock := &fakeClock{t: wallBase.Add(24 * time.Hour)}
	s := openStore(t, smallChunks(t, clock))
	s.SetRetention("cam", Retention{MaxAge: time.Minute, MaxBytes: 1})
	rec := s.Recorder("cam")
	rec.Begin(m.tracks)
	for _, u := range m.units {
		rec.Write(&u)
	}
	s.RunRetention()
	ids := chunkIDs(t, filepath.Join(s.cfg.Dir, "cam"))
	if len(ids) != 1 {
		t.Fatalf("files left while recording: %v", ids)
	}
	rec.End() // flushes into the surviving file
	frags := checkConsistent(t, s, "cam")
	if v, err := s.lookup("cam", frags[len(frags)-1].Number); err != nil || v.File != ids[0] {
		t.Fatalf("last fragment in file %d: %v", v.File, err)
	}
	s.RunRetention() // no longer active: it goes
	if len(chunkIDs(t, filepath.Join(s.cfg.Dir, "cam"))) != 0 || s.Usage("cam") != 0 {
		t.Fatal("idle file kept")
	}
}

// TestFreeDiskReserve: below the reserve, the oldest files of any stream
// go first, and no more than needed.
func TestFreeDiskReserve(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 12})
	cfg := smallChunks(t, &fakeClock{t: wallBase})
	cfg.FreeReserve = 1 << 30
	s := openStore(t, cfg)
	newer := recordFiles(t, s, "newer", shifted(m, time.Hour))
	older := recordFiles(t, s, "older", m)

	// A fake filesystem whose free space grows as files go.
	start := s.Usage("newer") + s.Usage("older")
	deficit := older.size(0) + older.size(1)/2
	var mu sync.Mutex
	s.statfs = func(string) (uint64, uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		freed := start - s.Usage("newer") - s.Usage("older")
		return uint64(cfg.FreeReserve - deficit + freed), 4 << 30, nil
	}
	s.RunRetention()
	remaining(t, s, "older", older, 2)
	remaining(t, s, "newer", newer, 0)
	s.RunRetention() // the reserve is met: nothing more goes
	remaining(t, s, "older", older, 2)
}

func TestFreeReserveDefault(t *testing.T) {
	tests := []struct {
		name    string
		cfg     int64
		total   uint64
		reserve int64
	}{
		{"5% of a small disk", 0, 10 << 30, (10 << 30) / 20},
		{"capped at 2 GiB", 0, 1 << 40, MaxFreeReserve},
		{"explicit", 12345, 1 << 40, 12345},
		{"off", -1, 1 << 40, 0},
	}
	for _, tt := range tests {
		s := &Store{cfg: Config{FreeReserve: tt.cfg}, log: testLogger(),
			statfs: func(string) (uint64, uint64, error) { return 0, tt.total, nil }}
		if got := s.freeReserve(); got != tt.reserve {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.reserve)
		}
	}
}

// TestRetentionLoop: the goroutine applies retention on its own.
func TestRetentionLoop(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 12})
	clock := &fakeClock{t: wallBase}
	cfg := smallChunks(t, clock)
	cfg.RetentionEvery = 5 * time.Millisecond
	s := openStore(t, cfg)
	recordFiles(t, s, "cam", m)
	s.SetRetention("cam", Retention{MaxAge: time.Hour})
	clock.Set(wallBase.Add(2 * time.Hour))
	deadline := time.Now().Add(10 * time.Second)
	for s.Usage("cam") != 0 || len(chunkIDs(t, filepath.Join(s.cfg.Dir, "cam"))) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("retention did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.retMu.Lock() // let the pass that deleted them finish
	s.retMu.Unlock()
	checkConsistent(t, s, "cam")
}
