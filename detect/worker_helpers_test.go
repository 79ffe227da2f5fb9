package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/events"
)

// faceVideo makes (once per test binary) 2 s of 25 fps H.264 with
// B-frames, as a fragmented MP4 like vigil's fragments: an AT&T image
// scaled by scale and centred on a black w×h frame, or (subject "")
// ffmpeg's testsrc, with no face.
func faceVideo(t testing.TB, subject string, img, scale, w, h int) []byte {
	t.Helper()
	key := fmt.Sprintf("%s-%d-x%d-%dx%d", subject, img, scale, w, h)
	v, _ := faceVideos.LoadOrStore(key, &faceVideoOnce{})
	o := v.(*faceVideoOnce)
	o.once.Do(func() {
		needFFmpeg(t)
		dir, err := os.MkdirTemp("", "vigil-detect-video-")
		if err != nil {
			o.err = err
			return
		}
		defer os.RemoveAll(dir)
		var in []string
		vf := "format=yuv420p"
		if subject == "" {
			in = []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d:rate=25", w, h)}
		} else {
			if err := os.WriteFile(filepath.Join(dir, "face.pgm"), attFile(t, subject, img), 0o600); err != nil {
				o.err = err
				return
			}
			in = []string{"-loop", "1", "-i", "face.pgm"}
			vf = fmt.Sprintf("scale=%d:%d,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,format=yuv420p", 92*scale, 112*scale, w, h)
		}
		args := append(in, "-t", "2", "-r", "25", "-vf", vf,
			"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
			"-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", "video.mp4")
		ffmpeg(t, dir, args...)
		o.data, o.err = os.ReadFile(filepath.Join(dir, "video.mp4"))
	})
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.data
}

type faceVideoOnce struct {
	once sync.Once
	data []byte
	err  error
}

var faceVideos sync.Map // key → *faceVideoOnce

// staffCollections opens collections with "staff" holding AT&T s1's
// images 1–3 under external id s1 (image 4 is held out for probes).
func staffCollections(t testing.TB) *Collections {
	t.Helper()
	c, _ := newCollections(t)
	if _, err := c.Create("staff", 0); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if faces, _, err := c.IndexFaces("staff", attFile(t, "s1", i), IndexOptions{ExternalID: "s1", Largest: true}); err != nil || len(faces) != 1 {
			t.Fatalf("enrol s1/%d: %v %v", i, faces, err)
		}
	}
	return c
}

// startTestBus starts an embedded NATS server with vigil's streams.
func startTestBus(t testing.TB) *events.Bus {
	t.Helper()
	b, err := events.Start(events.Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fragmentServer serves fragment bodies by path and counts the GETs of
// each path.
type fragmentServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]byte
	gets   map[string]int
}

func newFragmentServer(t testing.TB) *fragmentServer {
	s := &fragmentServer{bodies: map[string][]byte{}, gets: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b, ok := s.bodies[r.URL.Path]
		s.gets[r.URL.Path]++
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fragmentServer) serve(path string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies[path] = body
	return s.URL + path
}

func (s *fragmentServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[path]
}

// notice publishes a fragment notice for stream cam, number n, at url.
func notice(t testing.TB, b *events.Bus, n uint64, url string) events.FragmentNotice {
	t.Helper()
	fn := events.FragmentNotice{
		Stream: "cam", Number: n, Run: 1, ServerTime: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).Add(time.Duration(n) * 2 * time.Second),
		DurationMS: 2000, URL: url,
	}
	if err := b.PublishFragment(fn); err != nil {
		t.Fatal(err)
	}
	return fn
}

// newTestWorker makes a worker on bus b that matches stream cam against
// staff; change adjusts the config. Run goes on until the test ends or
// the worker is closed.
func newTestWorker(t testing.TB, b *events.Bus, c *Collections, change func(*WorkerConfig)) *Worker {
	t.Helper()
	cfg := WorkerConfig{
		JS:          b.JetStream(),
		AckWait:     2 * time.Second,
		Settings:    func(string) (bool, float64, []string) { return true, 2, []string{"staff"} },
		Collections: c,
		Publish:     b.PublishEvent,
		Logger:      quietLogger(),
	}
	if change != nil {
		change(&cfg)
	}
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		w.Close()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

// storedEvents reads every event JetStream stored in VIGIL_EVENTS.
func storedEvents(t testing.TB, b *events.Bus) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.JetStream().Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("event %d: %v", seq, err)
		}
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) != e.ID {
			t.Errorf("event %s stored with message id %q", e.ID, m.Header.Get(jetstream.MsgIDHeader))
		}
		out = append(out, e)
	}
	return out
}
