package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/events"
	"vigil/internal/testkit"
)

func TestNewEvent(t *testing.T) {
	st := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	pt := st.Add(-2 * time.Millisecond)
	n := &events.FragmentNotice{Stream: "cam1", Number: 123, ServerTime: st, ProducerTime: &pt}
	face := IndexedFace{Box: Box{Left: 0.41, Top: 0.22, Width: 0.12, Height: 0.21}, Confidence: 0.97}
	alice := Match{Collection: "staff", FaceID: "f_1", ExternalID: "alice", Similarity: 0.91}
	unknown := SearchResult{Face: face, Matches: []Match{}}
	known := SearchResult{Face: face, Matches: []Match{alice}}
	for _, c := range []struct {
		name     string
		results  []SearchResult
		matching bool
		want     string // type; "" for no event
	}{
		{"no face", nil, true, ""},
		{"detect only", []SearchResult{unknown}, false, events.FaceDetected},
		{"unknown", []SearchResult{unknown, unknown}, true, events.FaceUnknown},
		{"matched", []SearchResult{unknown, known}, true, events.FaceMatched},
	} {
		e := newEvent(n, 479600*time.Microsecond, c.results, c.matching)
		if c.want == "" {
			if e != nil {
				t.Errorf("%s: event %+v", c.name, e)
			}
			continue
		}
		if e == nil || e.Type != c.want || len(e.Faces) != len(c.results) {
			t.Fatalf("%s: %+v, want type %s", c.name, e, c.want)
		}
		if e.FrameOffsetMS != 480 || !e.Time.Equal(st.Add(480*time.Millisecond)) || e.Time.Location() != time.UTC {
			t.Errorf("%s: offset %d time %v", c.name, e.FrameOffsetMS, e.Time)
		}
		if e.ImageURL != "/api/v1/streams/cam1/image.jpg?at=2026-11-26T09:00:00.480Z" {
			t.Errorf("%s: image_url %s", c.name, e.ImageURL)
		}
		// A server time in nanoseconds: the image is asked for at or after it.
		n2 := *n
		n2.ServerTime = st.Add(100 * time.Microsecond)
		if e := newEvent(&n2, 0, c.results, c.matching); e.ImageURL != "/api/v1/streams/cam1/image.jpg?at=2026-11-26T09:00:00.001Z" {
			t.Errorf("%s: image_url %s", c.name, e.ImageURL)
		}
		if e.Fragment.Number != 123 || !e.Fragment.ServerTime.Equal(st) || !e.Fragment.ProducerTime.Equal(pt) || e.Stream != "cam1" || e.Version != events.SchemaVersion {
			t.Errorf("%s: %+v", c.name, e)
		}
		if f := e.Faces[len(e.Faces)-1]; f.BBox != events.BBox(face.Box) || f.Confidence != 0.97 || f.Matches == nil {
			t.Errorf("%s: face %+v", c.name, f)
		}
		// The id is the same for the same frame, whatever was found in it.
		if want := events.StableID(e.Time, "cam1/123/480"); e.ID != want {
			t.Errorf("%s: id %s, want %s", c.name, e.ID, want)
		}
	}
}

// Two workers on one durable consumer: each fragment is fetched and
// analysed exactly once, and every sampled frame of s1's face gives one
// face.matched event; testsrc gives none; a stream without collections
// gives face.detected and one with detection off is skipped.
func TestWorkersShareFragments(t *testing.T) {
	b := startTestBus(t)
	c := staffCollections(t)
	srv := newFragmentServer(t)
	face := faceVideo(t, "s1", 4, 2, 640, 360)
	none := faceVideo(t, "", 0, 0, 640, 360)
	settings := func(stream string) (bool, float64, []string) {
		switch stream {
		case "cam":
			return true, 2, []string{"staff"}
		case "lobby":
			return true, 1, nil
		}
		return false, 0, nil
	}
	var workers []*Worker
	for range 2 {
		workers = append(workers, newTestWorker(t, b, c, func(cfg *WorkerConfig) { cfg.Settings = settings }))
	}
	const n = 6
	for i := 1; i <= n; i++ {
		body := face
		if i == 3 {
			body = none
		}
		notice(t, b, uint64(i), srv.serve(fmt.Sprintf("/cam/%d", i), body))
	}
	lobby := events.FragmentNotice{Stream: "lobby", Number: 1, ServerTime: time.Now(), URL: srv.serve("/lobby/1", face)}
	off := events.FragmentNotice{Stream: "off", Number: 1, ServerTime: time.Now(), URL: srv.serve("/off/1", face)}
	for _, fn := range []events.FragmentNotice{lobby, off} {
		if err := b.PublishFragment(fn); err != nil {
			t.Fatal(err)
		}
	}
	total := func() (s WorkerStats) {
		for _, w := range workers {
			ws := w.Stats()
			s.Fragments += ws.Fragments
			s.Frames += ws.Frames
			s.Events += ws.Events
			s.Skipped += ws.Skipped
		}
		return s
	}
	testkit.WaitFor(t, 60*time.Second, "every fragment analysed", func() bool { s := total(); return s.Fragments == n+1 && s.Skipped == 1 })
	time.Sleep(2500 * time.Millisecond) // past AckWait: nothing is redelivered
	s := total()
	t.Logf("fragments analysed by each worker: %d and %d", workers[0].Stats().Fragments, workers[1].Stats().Fragments)
	if s.Fragments != n+1 || s.Frames != 4*n+2 || s.Events != 4*(n-1)+2 || s.Skipped != 1 {
		t.Errorf("stats %+v, want %d fragments, %d frames, %d events, 1 skipped", s, n+1, 4*n+2, 4*(n-1)+2)
	}
	for i := 1; i <= n; i++ {
		if got := srv.count(fmt.Sprintf("/cam/%d", i)); got != 1 {
			t.Errorf("fragment %d fetched %d times", i, got)
		}
	}
	if srv.count("/off/1") != 0 || srv.count("/lobby/1") != 1 {
		t.Errorf("off fetched %d times, lobby %d", srv.count("/off/1"), srv.count("/lobby/1"))
	}

	evs := storedEvents(t, b)
	ids := map[string]bool{}
	types := map[string]int{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Errorf("duplicate event id %s", e.ID)
		}
		ids[e.ID] = true
		types[e.Type]++
		if e.Type == events.FaceMatched {
			if len(e.Faces) != 1 || len(e.Faces[0].Matches) == 0 || e.Faces[0].Matches[0].ExternalID != "s1" || e.Faces[0].Matches[0].Collection != "staff" {
				t.Errorf("matched event %+v", e)
			}
			if bb := e.Faces[0].BBox; bb.Left < 0.3 || bb.Left+bb.Width > 0.7 || bb.Top < 0.1 || bb.Top+bb.Height > 0.9 {
				t.Errorf("face box %+v not around the centre", bb)
			}
		}
	}
	if len(evs) != 4*(n-1)+2 || types[events.FaceMatched] != 4*(n-1) || types[events.FaceDetected] != 2 {
		t.Errorf("stored %d events: %v", len(evs), types)
	}
}

// A worker that dies with a fragment in hand loses it to another worker
// after AckWait; one that is alive and busy keeps it (it reports
// progress); one that stops hands it back at once.
func TestWorkerRedelivery(t *testing.T) {
	b := startTestBus(t)
	c := staffCollections(t)
	srv := newFragmentServer(t)
	face := faceVideo(t, "s1", 4, 2, 640, 360)
	const ackWait = 2 * time.Second

	// A blocks in its fetch of fragment 1 until it is stopped.
	blocked := make(chan struct{})
	a := newTestWorker(t, b, c, func(cfg *WorkerConfig) {
		cfg.AckWait = ackWait
		cfg.Fetch = func(ctx context.Context, url string) (io.ReadCloser, error) {
			close(blocked)
			<-ctx.Done()
			return nil, ctx.Err()
		}
	})
	notice(t, b, 1, srv.serve("/cam/1", face))
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("worker A got no notice")
	}
	bw := newTestWorker(t, b, c, func(cfg *WorkerConfig) { cfg.AckWait = ackWait })
	time.Sleep(2 * ackWait)
	if got := srv.count("/cam/1"); got != 0 {
		t.Fatalf("fragment 1 fetched while A still works on it (%d)", got)
	}
	a.Close()
	testkit.WaitFor(t, 10*time.Second, "B analyses fragment 1", func() bool { return bw.Stats().Fragments == 1 })

	// A worker that crashed: it pulled fragment 2 and never answered.
	bw.Close()
	notice(t, b, 2, srv.serve("/cam/2", face))
	ctx := context.Background()
	cons, err := b.JetStream().Consumer(ctx, events.FragmentsStream, "vigil-detect")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var pulled jetstream.Msg
	for m := range batch.Messages() {
		pulled = m
	}
	if pulled == nil {
		t.Fatalf("no notice pulled: %v", batch.Error())
	}
	took := time.Now()
	cw := newTestWorker(t, b, c, func(cfg *WorkerConfig) { cfg.AckWait = ackWait })
	testkit.WaitFor(t, 20*time.Second, "C analyses fragment 2", func() bool { return cw.Stats().Fragments == 1 })
	if since := time.Since(took); since < ackWait-100*time.Millisecond {
		t.Errorf("redelivered %v after the crash, before AckWait %v", since, ackWait)
	}
	if srv.count("/cam/1") != 1 || srv.count("/cam/2") != 1 {
		t.Errorf("fetches: %d and %d", srv.count("/cam/1"), srv.count("/cam/2"))
	}
	evs := storedEvents(t, b)
	ids := map[string]bool{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Errorf("duplicate event id %s", e.ID)
		}
		ids[e.ID] = true
	}
	if len(evs) != 8 {
		t.Errorf("%d events stored, want 8", len(evs))
	}
}

// A fragment analysed twice — a publish failed half way, so it is
// redelivered — publishes the same ids again, and JetStream stores each
// event once.
func TestWorkerRepublishIsDeduplicated(t *testing.T) {
	b := startTestBus(t)
	srv := newFragmentServer(t)
	var calls atomic.Int64
	var mu sync.Mutex
	var published []string
	w := newTestWorker(t, b, staffCollections(t), func(cfg *WorkerConfig) {
		cfg.Publish = func(ctx context.Context, e *events.Event) error {
			if calls.Add(1) == 3 {
				return errors.New("nats: timeout")
			}
			mu.Lock()
			published = append(published, e.ID)
			mu.Unlock()
			return b.PublishEvent(ctx, e)
		}
	})
	notice(t, b, 1, srv.serve("/cam/1", faceVideo(t, "s1", 4, 2, 640, 360)))
	testkit.WaitFor(t, 30*time.Second, "the fragment analysed", func() bool { return w.Stats().Fragments == 1 })
	s := w.Stats()
	if s.PublishFailures != 1 || s.Events != 6 || srv.count("/cam/1") != 2 {
		t.Errorf("stats %+v, %d fetches", s, srv.count("/cam/1"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(published) != 6 || published[0] != published[2] || published[1] != published[3] {
		t.Errorf("published %v: want the first two ids again", published)
	}
	if evs := storedEvents(t, b); len(evs) != 4 {
		t.Errorf("%d events stored, want 4", len(evs))
	}
}

// Fragments that cannot be decoded are logged (summarised), counted and
// terminated; a vanished fragment is skipped; the worker goes on to the
// next fragment.
func TestWorkerBadFragments(t *testing.T) {
	b := startTestBus(t)
	srv := newFragmentServer(t)
	logs := &testkit.LogBuffer{}
	w := newTestWorker(t, b, staffCollections(t), func(cfg *WorkerConfig) {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	junk := append([]byte{0, 0, 0, 24, 'f', 't', 'y', 'p'}, []byte(strings.Repeat("garbage ", 500))...)
	notice(t, b, 1, srv.serve("/cam/1", []byte("<html>garbage</html>")))
	notice(t, b, 2, srv.serve("/cam/2", junk))
	notice(t, b, 3, srv.serve("/cam/3", junk))
	notice(t, b, 4, srv.URL+"/cam/gone")
	if err := b.PublishFragment(events.FragmentNotice{Stream: "cam", Number: 5}); err != nil { // no URL
		t.Fatal(err)
	}
	notice(t, b, 6, srv.serve("/cam/6", faceVideo(t, "s1", 4, 2, 640, 360)))
	testkit.WaitFor(t, 30*time.Second, "the good fragment analysed", func() bool { return w.Stats().Fragments == 1 })
	time.Sleep(2500 * time.Millisecond) // past AckWait: nothing is redelivered
	s := w.Stats()
	if s.DecodeFailures != 4 || s.Skipped != 1 || s.Fragments != 1 || s.Events != 4 || s.FetchFailures != 0 {
		t.Errorf("stats %+v", s)
	}
	for _, p := range []string{"/cam/1", "/cam/2", "/cam/3", "/cam/gone", "/cam/6"} {
		if n := srv.count(p); n != 1 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
	// Failures 1, 2 and 4 are logged; the third is only counted.
	if n := logs.Count("fragment not decodable"); n != 2 {
		t.Errorf("%d decode warnings logged:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "not understood") {
		t.Errorf("the notice without a URL was not logged:\n%s", logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := b.JetStream().Consumer(ctx, events.FragmentsStream, "vigil-detect")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumRedelivered != 0 || info.NumPending != 0 {
		t.Errorf("consumer: %d pending ack, %d redelivered, %d pending", info.NumAckPending, info.NumRedelivered, info.NumPending)
	}
}

// A fragment that cannot be fetched is retried on later deliveries, then
// given up.
func TestWorkerFetchRetries(t *testing.T) {
	b := startTestBus(t)
	var fetches atomic.Int64
	w := newTestWorker(t, b, staffCollections(t), func(cfg *WorkerConfig) {
		cfg.MaxDeliver = 2
		cfg.Fetch = func(context.Context, string) (io.ReadCloser, error) {
			fetches.Add(1)
			return nil, errors.New("connection refused")
		}
	})
	notice(t, b, 1, "http://127.0.0.1:1/cam/1")
	testkit.WaitFor(t, 20*time.Second, "the fragment given up", func() bool { return w.Stats().FetchFailures == 1 })
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

func TestNewWorkerRequires(t *testing.T) {
	b := startTestBus(t)
	c, _ := newCollections(t)
	ok := WorkerConfig{JS: b.JetStream(), Settings: func(string) (bool, float64, []string) { return false, 0, nil },
		Collections: c, Publish: b.PublishEvent}
	for _, drop := range []func(*WorkerConfig){
		func(c *WorkerConfig) { c.JS = nil },
		func(c *WorkerConfig) { c.Settings = nil },
		func(c *WorkerConfig) { c.Collections = nil },
		func(c *WorkerConfig) { c.Publish = nil },
	} {
		cfg := ok
		drop(&cfg)
		if _, err := NewWorker(cfg); err == nil {
			t.Errorf("NewWorker(%+v) did not fail", cfg)
		}
	}
	w, err := NewWorker(ok)
	if err != nil {
		t.Fatal(err)
	}
	w.Close() // before Run: Run returns at once
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Error("second Run did not fail")
	}
}
