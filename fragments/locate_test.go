package fragments

import (
	"bytes"
	"io"
	"os"
	"slices"
	"testing"
	"time"
)

// The bytes Locate points at are exactly what OpenMP4 serves; Range and
// Tail agree with the listing.
func TestLocateRangeTail(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	s := openStore(t, smallChunks(t, &fakeClock{t: wallBase}))
	feed(s.Recorder("cam"), m)
	frags := allFragments(t, s, "cam")
	if len(frags) < 4 {
		t.Fatalf("%d fragments", len(frags))
	}
	for _, f := range frags {
		got, loc, err := s.Locate("cam", f.Number)
		if err != nil || got != f {
			t.Fatalf("Locate(%d) = %+v, %v", f.Number, got, err)
		}
		file, err := os.ReadFile(loc.Path)
		if err != nil {
			t.Fatal(err)
		}
		located := append(slices.Clone(file[loc.InitOffset:loc.InitOffset+loc.InitLength]), file[loc.Offset:loc.Offset+loc.Length]...)
		rd, _, err := s.OpenMP4("cam", f.Number)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(rd)
		if !bytes.Equal(located, want) {
			t.Fatalf("fragment %d: located bytes differ from OpenMP4", f.Number)
		}
	}
	if _, _, err := s.Locate("cam", 99999); err == nil {
		t.Fatal("located a missing fragment")
	}

	var ranged []Fragment
	s.Range("cam", time.Time{}, time.Time{}, func(f Fragment) bool { ranged = append(ranged, f); return true })
	if !slices.Equal(ranged, frags) {
		t.Fatalf("Range gave %d fragments, listing %d", len(ranged), len(frags))
	}
	// A window strictly inside the second fragment yields just that one;
	// stopping early stops.
	mid := frags[1].ServerTime.Add(frags[1].Duration / 2)
	ranged = nil
	s.Range("cam", mid, mid.Add(time.Millisecond), func(f Fragment) bool { ranged = append(ranged, f); return true })
	if len(ranged) != 1 || ranged[0] != frags[1] {
		t.Fatalf("Range inside fragment 2: %+v", ranged)
	}
	n := 0
	s.Range("cam", time.Time{}, time.Time{}, func(Fragment) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Range went on after fn returned false: %d calls", n)
	}
	tail, err := s.Tail("cam", 2)
	if err != nil || !slices.Equal(tail, frags[len(frags)-2:]) {
		t.Fatalf("Tail(2) = %+v, %v", tail, err)
	}
}

// Two recordings 10 s apart make two spans; clipping, retention and purge
// keep the cached spans equal to spans rebuilt from the index.
func TestTimeline(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	clock := &fakeClock{t: wallBase}
	s := openStore(t, smallChunks(t, clock))
	if sp, err := s.Timeline("cam", time.Time{}, time.Time{}); err != nil || len(sp) != 0 {
		t.Fatalf("empty stream: %v %v", sp, err)
	}
	rec := s.Recorder("cam")
	feed(rec, m)
	feed(rec, shifted(m, 22*time.Second)) // 12 s of media, 10 s gap, 12 s more
	frags := allFragments(t, s, "cam")
	spans, err := s.Timeline("cam", time.Time{}, time.Time{})
	if err != nil || len(spans) != 2 {
		t.Fatalf("spans %v, %v", spans, err)
	}
	first, last := frags[0], frags[len(frags)-1]
	if !spans[0].Start.Equal(first.ServerTime) || !spans[1].End.Equal(last.ServerTime.Add(last.Duration)) {
		t.Fatalf("spans %v do not match fragments %v .. %v", spans, first.ServerTime, last.ServerTime)
	}
	if gap := spans[1].Start.Sub(spans[0].End); gap < 9*time.Second || gap > 11*time.Second {
		t.Fatalf("gap %v, want about 10 s", gap)
	}
	clipStart, clipEnd := spans[0].End.Add(-time.Second), spans[1].Start.Add(time.Second)
	clipped, _ := s.Timeline("cam", clipStart, clipEnd)
	if len(clipped) != 2 || !clipped[0].Start.Equal(clipStart) || !clipped[1].End.Equal(clipEnd) {
		t.Fatalf("clipped %v", clipped)
	}
	if inGap, _ := s.Timeline("cam", spans[0].End.Add(time.Second), spans[1].Start.Add(-time.Second)); len(inGap) != 0 {
		t.Fatalf("spans inside the gap: %v", inGap)
	}

	// Retention by age deletes the oldest files: the cached spans follow.
	clock.Set(spans[0].Start.Add(30 * time.Second))
	s.SetRetention("cam", Retention{MaxAge: 20 * time.Second})
	s.RunRetention()
	after, _ := s.Timeline("cam", time.Time{}, time.Time{})
	rebuilt, _ := s.buildSpans("cam")
	if !slices.Equal(after, rebuilt) || len(after) == 0 || !after[0].Start.After(spans[0].Start) {
		t.Fatalf("after retention: cached %v, rebuilt %v (before %v)", after, rebuilt, spans)
	}
	if err := s.Purge("cam"); err != nil {
		t.Fatal(err)
	}
	if sp, _ := s.Timeline("cam", time.Time{}, time.Time{}); len(sp) != 0 {
		t.Fatalf("after purge: %v", sp)
	}
}

// A synthetic history opens as a store and answers queries.
func TestLoadSynthetic(t *testing.T) {
	dir := t.TempDir()
	if err := LoadSynthetic(dir, "cam", wallBase, 5000, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir, &fakeClock{t: wallBase}, &notices{})
	s := openStore(t, cfg)
	spans, err := s.Timeline("cam", time.Time{}, time.Time{})
	if err != nil || len(spans) != 1 || spans[0].End.Sub(spans[0].Start) != 10000*time.Second {
		t.Fatalf("spans %v %v", spans, err)
	}
	if f, ok := s.Last("cam"); !ok || f.Number != 5000 {
		t.Fatalf("last %+v", f)
	}
}

// BenchmarkHistory30Days measures queries over 30 days of 2 s fragments
// (1.3 million): the timeline of all of it, and walking the 43,200
// fragments of one day as a VOD playlist does.
func BenchmarkHistory30Days(b *testing.B) {
	dir := b.TempDir()
	const n = 30 * 24 * 1800
	t0 := time.Now()
	if err := LoadSynthetic(dir, "cam", wallBase, n, 2*time.Second); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d synthetic fragments in %v", n, time.Since(t0).Round(time.Millisecond))
	s, err := Open(Config{Dir: dir, FreeReserve: -1, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 = time.Now()
	if _, err := s.Timeline("cam", time.Time{}, time.Time{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("first timeline query (builds the span index): %v", time.Since(t0).Round(time.Millisecond))
	end := wallBase.Add(n * 2 * time.Second)
	b.Run("timeline", func(b *testing.B) {
		for b.Loop() {
			if sp, _ := s.Timeline("cam", wallBase, end); len(sp) != 1 {
				b.Fatal("spans")
			}
		}
	})
	b.Run("range-24h", func(b *testing.B) {
		day := wallBase.Add(15 * 24 * time.Hour)
		for b.Loop() {
			count := 0
			s.Range("cam", day, day.Add(24*time.Hour), func(Fragment) bool { count++; return true })
			if count != 43200 {
				b.Fatalf("%d fragments in a day", count)
			}
		}
	})
}
