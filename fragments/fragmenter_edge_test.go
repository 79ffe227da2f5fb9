package fragments

import (
	"slices"
	"testing"
	"time"

	"vigil/media"
)

// keyIndexes are the positions of video keyframes in m.units.
func keyIndexes(m *testMedia) []int {
	var keys []int
	for i, u := range m.units {
		if u.Key && m.tracks[u.Track].Codec.IsVideo() {
			keys = append(keys, i)
		}
	}
	return keys
}

func TestFragmenterEdgeCases(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 6})
	keys := keyIndexes(m)
	tests := []struct {
		name    string
		edit    func(tracks []media.Track, units []media.Unit) ([]media.Track, []media.Unit)
		dropped uint64
		runs    int
	}{
		{"clean", nil, 0, 1},
		{"units before the first keyframe", func(tr []media.Track, us []media.Unit) ([]media.Track, []media.Unit) {
			var pre []media.Unit
			for _, u := range us[1:6] {
				u.DTS -= 90000
				u.PTS -= 90000
				u.Key = false
				pre = append(pre, u)
			}
			return tr, append(pre, us...)
		}, 5, 1},
		{"repeated and backwards timestamps", func(tr []media.Track, us []media.Unit) ([]media.Track, []media.Unit) {
			return tr, slices.Insert(slices.Clone(us), 60, us[59], us[30])
		}, 2, 1},
		{"unknown track", func(tr []media.Track, us []media.Unit) ([]media.Track, []media.Unit) {
			u := us[10]
			u.Track = 7
			return tr, slices.Insert(slices.Clone(us), 11, u)
		}, 1, 1},
		{"timestamp jump starts a run", func(tr []media.Track, us []media.Unit) ([]media.Track, []media.Unit) {
			us = slices.Clone(us)
			for i := keys[3]; i < len(us); i++ {
				us[i].DTS += 90000 * 3600
				us[i].PTS += 90000 * 3600
			}
			return tr, us
		}, 0, 2},
		{"parameter sets only in band", func(tr []media.Track, us []media.Unit) ([]media.Track, []media.Unit) {
			tr = slices.Clone(tr)
			tr[0].SPS, tr[0].PPS = nil, nil
			return tr, us
		}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tracks, units := m.tracks, m.units
			if tt.edit != nil {
				tracks, units = tt.edit(tracks, units)
			}
			s := openStore(t, testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{}))
			feed(s.Recorder("cam"), &testMedia{tracks: tracks, units: units})
			frags := checkConsistent(t, s, "cam")
			runs := map[uint64]bool{}
			var total time.Duration
			for _, f := range frags {
				runs[f.Run] = true
				total += f.Duration
				if !f.Keyframe {
					t.Fatalf("fragment %d does not start on a keyframe", f.Number)
				}
				checkFragmentMP4(t, s, f, m)
			}
			if len(runs) != tt.runs {
				t.Fatalf("%d runs, want %d", len(runs), tt.runs)
			}
			if got := s.Stats().Streams["cam"].UnitsDropped; got != tt.dropped {
				t.Fatalf("%d units dropped, want %d", got, tt.dropped)
			}
			if want := time.Duration(m.videoFrames) * m.frameDur; total < want-2*m.frameDur || total > want+2*m.frameDur {
				t.Fatalf("fragments last %v, media %v", total, want)
			}
		})
	}
}

// TestBeginStartsRun: a second Begin (new codec parameters) starts a new
// run in a new chunk file; numbers continue.
func TestBeginStartsRun(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 4})
	s := openStore(t, testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{}))
	rec := s.Recorder("cam")
	for session := range 2 {
		rec.Begin(m.tracks)
		for _, u := range m.units {
			u.Recv = u.Recv.Add(time.Duration(session) * 10 * time.Second)
			rec.Write(&u)
		}
	}
	rec.End()
	frags := checkConsistent(t, s, "cam")
	var runs []uint64
	for i, f := range frags {
		if f.Number != uint64(i+1) {
			t.Fatalf("fragment %d numbered %d", i, f.Number)
		}
		if len(runs) == 0 || runs[len(runs)-1] != f.Run {
			runs = append(runs, f.Run)
		}
	}
	if len(runs) != 2 || runs[0] != 1 {
		t.Fatalf("runs %v", runs)
	}
	if files := chunkIDs(t, s.cfg.Dir+"/cam"); len(files) != 2 || files[1] != runs[1] {
		t.Fatalf("chunk files %v for runs %v", files, runs)
	}
}

// TestCloseFlushes: closing the store mid-session stores the buffered
// media; nothing is lost on a clean stop.
func TestCloseFlushes(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 6})
	dir := t.TempDir()
	cfg := testConfig(dir, &fakeClock{t: wallBase}, &notices{})
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := s.Recorder("cam")
	rec.Begin(m.tracks)
	for _, u := range m.units {
		rec.Write(&u)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec.Write(&m.units[0]) // after Close: dropped, no panic
	rec.End()

	s = openStore(t, cfg)
	var total time.Duration
	for _, f := range checkConsistent(t, s, "cam") {
		total += f.Duration
	}
	if want := time.Duration(m.videoFrames) * m.frameDur; total != want {
		t.Fatalf("stored %v of %v", total, want)
	}
}

func TestAnchor(t *testing.T) {
	t0 := wallBase
	tests := []struct {
		name  string
		ns    int64
		recv  time.Time
		moved bool
		at    time.Time // server time of media time ns after observe
	}{
		{"on time", 1e9, t0.Add(time.Second), false, t0.Add(time.Second)},
		{"late within bound", 2e9, t0.Add(2*time.Second + 400*time.Millisecond), false, t0.Add(2 * time.Second)},
		{"early within bound", 3e9, t0.Add(3*time.Second - 500*time.Millisecond), false, t0.Add(3 * time.Second)},
		// One late unit (a stall) moves nothing, however late.
		{"one unit very late", 4e9, t0.Add(4*time.Second + 3*time.Second), false, t0.Add(4 * time.Second)},
		{"back on time", 5e9, t0.Add(5 * time.Second), false, t0.Add(5 * time.Second)},
		// Early beyond the bound: the anchor came from a delayed unit.
		{"early beyond bound", 6e9, t0.Add(6*time.Second - 600*time.Millisecond), true, t0.Add(6*time.Second - 600*time.Millisecond)},
		// Late by 0.7 s or more for a whole window: the clocks drifted.
		{"late", 8e9, t0.Add(8*time.Second + 100*time.Millisecond), false, t0.Add(8*time.Second - 600*time.Millisecond)},
		{"late, window not over", 12e9, t0.Add(12*time.Second + 200*time.Millisecond), false, t0.Add(12*time.Second - 600*time.Millisecond)},
		{"late for the whole window", 16e9, t0.Add(16*time.Second + 300*time.Millisecond), true, t0.Add(16*time.Second + 100*time.Millisecond)},
	}
	var a anchor
	if !a.observe(0, t0) {
		t.Fatal("first observation must anchor")
	}
	for _, tt := range tests {
		if moved := a.observe(tt.ns, tt.recv); moved != tt.moved || !a.at(tt.ns).Equal(tt.at) {
			t.Fatalf("%s: moved %v, at %v; want %v, %v", tt.name, moved, a.at(tt.ns), tt.moved, tt.at)
		}
	}
}

func TestTickConversions(t *testing.T) {
	tests := []struct{ ticks, clock, ns int64 }{
		{90000, 90000, 1e9},
		{-45000, 90000, -5e8},
		{1024, 48000, 21333333},
		{tickOffset, 90000, 238609294222222},
		{1 << 40, 90000, 12216795864177777},
	}
	for _, tt := range tests {
		if got := ticksToNS(tt.ticks, tt.clock); got != tt.ns {
			t.Errorf("ticksToNS(%d, %d) = %d, want %d", tt.ticks, tt.clock, got, tt.ns)
		}
	}
	if nsToTicks(1e9, 90000) != 90000 || nsToTicks(-5e8, 90000) != -45000 {
		t.Error("nsToTicks")
	}
	if ticksInRange(1<<62, 90000) || !ticksInRange(1<<40, 90000) {
		t.Error("ticksInRange")
	}
}

// TestSecondaryClockJump: a jump in the audio clock realigns audio to
// video; it does not end the run or lose video.
func TestSecondaryClockJump(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 6})
	units := slices.Clone(m.units)
	for i := len(units) / 2; i < len(units); i++ {
		if u := &units[i]; u.Track == 1 {
			u.DTS += 48000 * 3600
			u.PTS += 48000 * 3600
		}
	}
	s := openStore(t, testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{}))
	feed(s.Recorder("cam"), &testMedia{tracks: m.tracks, units: units})
	var total time.Duration
	for _, f := range checkConsistent(t, s, "cam") {
		if f.Run != 1 {
			t.Fatalf("fragment %d in run %d", f.Number, f.Run)
		}
		total += f.Duration
		checkFragmentMP4(t, s, f, m)
	}
	if want := time.Duration(m.videoFrames) * m.frameDur; total != want {
		t.Fatalf("stored %v of %v", total, want)
	}
}

// Arrival delays (a late first unit, a stall and the burst after it) do not
// move fragments' server times: they abut, never overlap, and follow the
// media clock from the true start.
func TestServerTimesUnderDelays(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 12})
	s := openStore(t, testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{}))
	delayed := &testMedia{tracks: m.tracks, units: slices.Clone(m.units)}
	start := m.units[0].Recv
	for i := range delayed.units {
		u := &delayed.units[i]
		off := u.Recv.Sub(start)
		switch {
		case i == 0:
			u.Recv = u.Recv.Add(2 * time.Second) // the first unit waited in a queue
		case off > 5*time.Second && off < 6*time.Second:
			u.Recv = start.Add(6*time.Second + 2*time.Second) // a stall, then a burst
		}
	}
	feed(s.Recorder("cam"), delayed)
	frags := allFragments(t, s, "cam")
	if len(frags) < 4 {
		t.Fatalf("%d fragments", len(frags))
	}
	// Within the first frame's presentation offset (B-frames), not 2 s late.
	within(t, "first fragment", frags[0].ServerTime, start, 100*time.Millisecond)
	for i := 1; i < len(frags); i++ {
		prevEnd := frags[i-1].ServerTime.Add(frags[i-1].Duration)
		if d := frags[i].ServerTime.Sub(prevEnd); d < 0 || d > time.Millisecond {
			t.Errorf("fragment %d starts %v after fragment %d ends", frags[i].Number, d, frags[i-1].Number)
		}
	}
}
