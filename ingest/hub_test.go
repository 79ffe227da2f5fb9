package ingest

import (
	"testing"
	"time"

	"vigil/internal/testkit"
	"vigil/media"
)

var testTracks = []media.Track{
	{Codec: media.H264, ClockRate: 90000, SPS: []byte{0x67}, PPS: []byte{0x68}, Width: 64, Height: 48},
	{Codec: media.AAC, ClockRate: 48000, SampleRate: 48000, Channels: 1},
}

func unit(i int, key bool) *media.Unit {
	return &media.Unit{Track: 0, PTS: int64(i) * 3600, DTS: int64(i) * 3600, Key: key, Payload: [][]byte{{byte(i)}}}
}

// writeWithin fails the test if the writes do not all return in time: the
// publisher side must never block on a sink.
func writeWithin(t *testing.T, h *Hub, units ...*media.Unit) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, u := range units {
			h.Write(u)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Hub.Write blocked on a slow sink")
	}
}

func ptsOf(units []*media.Unit) []int64 {
	var out []int64
	for _, u := range units {
		out = append(out, u.PTS/3600)
	}
	return out
}

func TestHubOrderedDelivery(t *testing.T) {
	h := NewHub("cam")
	sinks := []*recSink{{}, {}, {}}
	for _, s := range sinks {
		h.Subscribe("s", 1000, s)
	}
	h.Begin(testTracks)
	for i := range 300 {
		h.Write(unit(i, i%50 == 0))
	}
	h.End()
	h.Close() // drains

	for _, s := range sinks {
		ev := s.snapshot()
		if len(ev) != 302 || ev[0].kind != "begin" || ev[301].kind != "end" {
			t.Fatalf("got %d events, want begin + 300 units + end", len(ev))
		}
		if len(ev[0].tracks) != 2 || ev[0].tracks[0].Codec != media.H264 {
			t.Fatalf("begin tracks %+v", ev[0].tracks)
		}
		for i, e := range ev[1:301] {
			if e.kind != "unit" || e.unit.PTS != int64(i)*3600 {
				t.Fatalf("event %d: %s pts %v, want unit %d", i+1, e.kind, e.unit, i)
			}
		}
	}
	st := h.Stats()
	if st.UnitsIn != 300 || st.BytesIn != 300 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHubSlowSinkDropsAndSkipsToKeyframe(t *testing.T) {
	h := NewHub("cam")
	defer h.Close()
	slow := &recSink{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	fast := &recSink{}
	cancelSlow := h.Subscribe("slow", 4, slow)
	defer cancelSlow()
	h.Subscribe("fast", 100, fast)

	h.Begin(testTracks)
	writeWithin(t, h, unit(0, true))
	<-slow.entered // the slow sink is now stuck in Write(unit 0)

	// 1..4 fit the queue, 5 overflows, 6..10 are skipped until a keyframe.
	var burst []*media.Unit
	for i := 1; i <= 10; i++ {
		burst = append(burst, unit(i, false))
	}
	writeWithin(t, h, burst...)
	st := h.Stats()
	if s := st.Sinks[0]; s.Name != "slow" || s.Dropped != 6 || s.Queued != 4 {
		t.Fatalf("slow sink stats %+v, want 6 dropped, 4 queued", s)
	}
	if st.Dropped != 6 {
		t.Fatalf("hub dropped %d, want 6", st.Dropped)
	}

	// Let the sink drain the queue, then resume at the next keyframe only.
	go func() {
		for range 5 {
			slow.gate <- struct{}{}
		}
	}()
	testkit.WaitFor(t, 5*time.Second, "slow sink to drain", func() bool { return slow.count("unit") == 5 })
	writeWithin(t, h, unit(11, false)) // still skipping: not a keyframe
	go func() {
		for range 2 {
			slow.gate <- struct{}{}
		}
	}()
	writeWithin(t, h, unit(12, true), unit(13, false))
	testkit.WaitFor(t, 5*time.Second, "slow sink to get the keyframe", func() bool { return slow.count("unit") == 7 })

	got := ptsOf(slow.units(-1))
	want := []int64{0, 1, 2, 3, 4, 12, 13}
	if len(got) != len(want) {
		t.Fatalf("slow sink got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("slow sink got %v, want %v", got, want)
		}
	}
	if s := h.Stats().Sinks[0]; s.Dropped != 7 || s.Delivered != 7 {
		t.Fatalf("slow sink stats %+v, want 7 dropped, 7 delivered", s)
	}
	testkit.WaitFor(t, 5*time.Second, "fast sink", func() bool { return fast.count("unit") == 14 })
	if s := h.Stats().Sinks[1]; s.Dropped != 0 {
		t.Fatalf("fast sink dropped %d", s.Dropped)
	}
}

func TestHubControlMessagesNeverDropped(t *testing.T) {
	h := NewHub("cam")
	s := &recSink{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	h.Subscribe("s", 1, s)
	h.Begin(testTracks)
	h.Write(unit(0, true))
	<-s.entered
	for i := range 20 { // queue is full the whole time
		h.Write(unit(1, true))
		h.End()
		h.Begin(testTracks)
		h.Write(unit(i, false))
	}
	h.End()
	close(s.gate)
	h.Close()
	if b, e := s.count("begin"), s.count("end"); b != 21 || e != 21 {
		t.Fatalf("got %d begins and %d ends, want 21 each", b, e)
	}
}

func TestHubLateSubscriberStartsAtKeyframe(t *testing.T) {
	h := NewHub("cam")
	defer h.Close()
	h.Begin(testTracks)
	for i := range 3 {
		h.Write(unit(i, i == 0))
	}
	late := &recSink{}
	h.Subscribe("late", 100, late)
	h.Write(unit(3, false))
	h.Write(unit(4, false))
	h.Write(&media.Unit{Track: 1, PTS: 1, Key: true, Payload: [][]byte{{1}}}) // audio is no resume point
	h.Write(unit(5, true))
	h.Write(unit(6, false))
	testkit.WaitFor(t, 5*time.Second, "late subscriber", func() bool { return late.count("unit") == 2 })

	ev := late.snapshot()
	if ev[0].kind != "begin" || len(ev[0].tracks) != 2 || ev[0].tracks[0].Width != 64 {
		t.Fatalf("late subscriber first event %+v, want Begin with current tracks", ev[0])
	}
	if got := ptsOf(late.units(-1)); got[0] != 5 || got[1] != 6 {
		t.Fatalf("late subscriber units %v, want [5 6]", got)
	}
	if s := h.Stats().Sinks[0]; s.Skipped != 3 || s.Dropped != 0 {
		t.Fatalf("late sink stats %+v, want 3 skipped, none dropped", s)
	}
}

func TestHubCancelWaits(t *testing.T) {
	h := NewHub("cam")
	defer h.Close()
	s := &recSink{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	cancel := h.Subscribe("s", 100, s)
	h.Begin(testTracks)
	h.Write(unit(0, true))
	h.Write(unit(1, false))
	<-s.entered

	cancelled := make(chan struct{})
	go func() {
		cancel()
		close(cancelled)
	}()
	select {
	case <-cancelled:
		t.Fatal("cancel returned while the sink was still in Write")
	case <-time.After(50 * time.Millisecond):
	}
	s.gate <- struct{}{}
	<-cancelled

	// Queued unit 1 was discarded; the sink, mid-session, got a final End.
	ev := s.snapshot()
	if len(ev) != 3 || ev[1].kind != "unit" || ev[2].kind != "end" {
		t.Fatalf("events after cancel: %+v, want begin, unit 0, end", ev)
	}
	h.Write(unit(2, true))
	h.End()
	cancel() // twice is fine
	if n := len(s.snapshot()); n != 3 {
		t.Fatalf("sink got %d events after cancel returned", n-3)
	}
	if len(h.Stats().Sinks) != 0 {
		t.Fatal("cancelled subscription still listed")
	}
}

func TestHubCloseDrainsAndIgnoresLaterCalls(t *testing.T) {
	h := NewHub("cam")
	s := &recSink{}
	h.Subscribe("s", 100, s)
	h.Begin(testTracks)
	for i := range 10 {
		h.Write(unit(i, i == 0))
	}
	h.Close()
	ev := s.snapshot()
	if len(ev) != 12 || ev[11].kind != "end" {
		t.Fatalf("got %d events, want begin, 10 units and a closing end", len(ev))
	}
	h.Begin(testTracks)
	h.Write(unit(10, true))
	late := &recSink{}
	h.Subscribe("late", 10, late)()
	if len(s.snapshot()) != 12 || len(late.snapshot()) != 0 {
		t.Fatal("closed hub delivered media")
	}
}

type nopSink struct{}

func (nopSink) Begin([]media.Track) {}
func (nopSink) Write(*media.Unit)   {}
func (nopSink) End()                {}

func BenchmarkHubFanout(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(map[int]string{1: "sinks=1", 4: "sinks=4", 16: "sinks=16"}[n], func(b *testing.B) {
			h := NewHub("bench")
			for range n {
				h.Subscribe("s", 1024, nopSink{})
			}
			h.Begin(testTracks)
			units := make([]*media.Unit, 250)
			for i := range units {
				units[i] = unit(i, i%50 == 0)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				h.Write(units[i%len(units)])
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "units/s")
			b.StopTimer()
			h.Close()
			st := h.Stats()
			b.ReportMetric(float64(st.Dropped)/float64(b.N*n), "drop-ratio")
		})
	}
}
