package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"vigil/internal/testkit"
	"vigil/media"
)

// event is one call a recSink received.
type event struct {
	kind   string // "begin", "unit", "end"
	tracks []media.Track
	unit   *media.Unit
}

// recSink records what it is given. If gate is set, Write blocks until a
// value can be received from it; entered gets a value on each Write start.
type recSink struct {
	gate    chan struct{}
	entered chan struct{}

	mu     sync.Mutex
	events []event
}

func (s *recSink) Begin(tr []media.Track) { s.add(event{kind: "begin", tracks: tr}) }
func (s *recSink) End()                   { s.add(event{kind: "end"}) }
func (s *recSink) Write(u *media.Unit) {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.add(event{kind: "unit", unit: u})
}

func (s *recSink) add(e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *recSink) snapshot() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...)
}

func (s *recSink) count(kind string) int {
	n := 0
	for _, e := range s.snapshot() {
		if e.kind == kind {
			n++
		}
	}
	return n
}

// units returns the units of the given track, or of all tracks for -1.
func (s *recSink) units(track int) []*media.Unit {
	var out []*media.Unit
	for _, e := range s.snapshot() {
		if e.kind == "unit" && (track < 0 || e.unit.Track == track) {
			out = append(out, e.unit)
		}
	}
	return out
}

func testLogger(t *testing.T) (*slog.Logger, *testkit.LogBuffer) {
	lb := &testkit.LogBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// testManager starts a Manager on a free loopback port whose hubs each get
// a recording sink.
type testManager struct {
	*Manager
	logs *testkit.LogBuffer

	mu    sync.Mutex
	sinks map[string]*recSink
}

func startTestManager(t *testing.T, cfg Config) *testManager {
	t.Helper()
	tm := &testManager{sinks: map[string]*recSink{}}
	if cfg.RTSPAddress == "" {
		cfg.RTSPAddress = "127.0.0.1:0"
	}
	cfg.Logger, tm.logs = testLogger(t)
	cfg.OnHub = func(name string, h *Hub) {
		s := &recSink{}
		tm.mu.Lock()
		tm.sinks[name] = s
		tm.mu.Unlock()
		h.Subscribe("test", 4096, s)
	}
	tm.Manager = New(cfg)
	if err := tm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tm.Close()
		if t.Failed() {
			t.Logf("manager log:\n%s", tm.logs)
		}
	})
	return tm
}

func (tm *testManager) sink(name string) *recSink {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.sinks[name]
}

// sinkUnits is the number of units the named stream's sink got so far.
func (tm *testManager) sinkUnits(name string) int {
	s := tm.sink(name)
	if s == nil {
		return 0
	}
	return s.count("unit")
}

func (tm *testManager) url(name string) string {
	return "rtsp://" + tm.RTSPAddr() + "/" + name
}

// requireFFmpeg skips the test when ffmpeg is not installed.
func requireFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
}

// ffmpeg runs ffmpeg with args and returns its error and stderr.
func ffmpeg(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

// publishArgs builds an ffmpeg command line publishing test media.
func publishArgs(seconds int, video, audio []string, transport, url string) []string {
	args := []string{
		"-re", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
	}
	if audio != nil {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000")
	}
	args = append(args, "-t", fmt.Sprint(seconds))
	args = append(args, video...)
	args = append(args, audio...)
	if transport != "" {
		args = append(args, "-rtsp_transport", transport)
	}
	return append(args, "-f", "rtsp", url)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
