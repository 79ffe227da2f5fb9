package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// syncBuffer is a log destination safe to read while the component writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeFFmpeg writes a stand-in for ffmpeg: a shell script that answers the
// clock probe (a one-frame render) with probeExit, and otherwise appends its
// pid and arguments to the returned file and runs body.
func fakeFFmpeg(t *testing.T, probeExit int, body string) (bin, calls string) {
	t.Helper()
	dir := t.TempDir()
	bin, calls = filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "calls")
	script := "#!/bin/sh\n" +
		`case "$*" in *"-frames:v 1"*) exit ` + strconv.Itoa(probeExit) + ";; esac\n" +
		`echo "$$ $*" >>` + calls + "\n" + body + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}

// runs returns the fake's runs so far: pid and arguments, one per line.
func runs(t *testing.T, calls string) []string {
	t.Helper()
	b, err := os.ReadFile(calls)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestDemoBackoff(t *testing.T) {
	const minD, maxD = time.Second, 30 * time.Second
	cases := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0, time.Second},
		{0, 0.999999, 2 * time.Second},
		{1, 0.5, 2500 * time.Millisecond},
		{2, 1.0 / 7, 2 * time.Second},
		{4, 0.999999, 30 * time.Second},
		{100, 0.5, 15500 * time.Millisecond},
	}
	for _, c := range cases {
		got := demoBackoff(c.attempt, minD, maxD, func() float64 { return c.r })
		if got.Round(time.Millisecond) != c.want {
			t.Errorf("attempt %d, r %v: %v, want %v", c.attempt, c.r, got, c.want)
		}
	}
}

// An ffmpeg that exits is started again, after a delay, for as long as the
// camera runs; the repeated failure is logged once.
func TestDemoCameraRestarts(t *testing.T) {
	bin, calls := fakeFFmpeg(t, 0, `echo "Connection refused" >&2; exit 1`)
	var logs syncBuffer
	d := &demoCamera{URL: "rtsp://127.0.0.1:1/demo", FFmpeg: bin, BackoffMin: 5 * time.Millisecond, BackoffMax: time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "four runs", func() bool { return len(runs(t, calls)) >= 4 })
	d.Close()
	for _, r := range runs(t, calls) {
		if !strings.Contains(r, " -vf drawtext=") || !strings.HasSuffix(r, " -f rtsp -rtsp_transport tcp rtsp://127.0.0.1:1/demo") {
			t.Errorf("ffmpeg run with %q", r)
		}
	}
	out := logs.String()
	if n := strings.Count(out, `msg="demo camera stopped; restarting"`); n != 1 || !strings.Contains(out, "Connection refused") {
		t.Errorf("logged the failure %d times:\n%s", n, out)
	}
}

// Close ends a running ffmpeg and returns only once it is gone.
func TestDemoCameraCloseStopsFFmpeg(t *testing.T) {
	bin, calls := fakeFFmpeg(t, 0, "exec sleep 60")
	var logs syncBuffer
	d := &demoCamera{URL: "rtsp://127.0.0.1:1/demo", FFmpeg: bin, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "ffmpeg running", func() bool { return len(runs(t, calls)) == 1 })
	pid, _, _ := strings.Cut(runs(t, calls)[0], " ")
	if !strings.Contains(logs.String(), `msg="demo camera publishing" component=demo stream=demo url=rtsp://127.0.0.1:1/demo pid=`+pid) {
		t.Errorf("no start line with pid %s:\n%s", pid, logs.String())
	}
	t0 := time.Now()
	d.Close()
	if _, err := os.Stat("/proc/" + pid); err == nil {
		t.Errorf("ffmpeg (pid %s) still there after Close", pid)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close took %v: SIGTERM did not end ffmpeg", d)
	}
	if n := len(runs(t, calls)); n != 1 {
		t.Errorf("%d runs", n)
	}
}

// Without the clock overlay (no drawtext, no font), the plain pattern is
// published, and that is logged once.
func TestDemoCameraWithoutClock(t *testing.T) {
	bin, calls := fakeFFmpeg(t, 1, "exit 1")
	var logs syncBuffer
	d := &demoCamera{URL: "rtsp://127.0.0.1:1/demo", FFmpeg: bin, BackoffMin: 5 * time.Millisecond, BackoffMax: time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "three runs", func() bool { return len(runs(t, calls)) >= 3 })
	d.Close()
	for _, r := range runs(t, calls) {
		if strings.Contains(r, "-vf") || !strings.Contains(r, " -i testsrc2=") {
			t.Errorf("ffmpeg run with %q", r)
		}
	}
	if n := strings.Count(logs.String(), "clock overlay does not work"); n != 1 {
		t.Errorf("logged the missing clock %d times:\n%s", n, logs.String())
	}
}

// Without ffmpeg the demo is off, with a message that says how to get it,
// and nothing else fails.
func TestDemoCameraWithoutFFmpeg(t *testing.T) {
	var logs syncBuffer
	d := &demoCamera{URL: "rtsp://127.0.0.1:1/demo", FFmpeg: filepath.Join(t.TempDir(), "ffmpeg"),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "scripts/deps.sh run") {
		t.Errorf("log:\n%s", out)
	}
}

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8554":           "127.0.0.1:8554",
		"0.0.0.0:8554":    "127.0.0.1:8554",
		"[::]:8554":       "127.0.0.1:8554",
		"127.0.0.1:40215": "127.0.0.1:40215",
		"[::1]:8554":      "[::1]:8554",
		"10.0.0.5:8554":   "10.0.0.5:8554",
	} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
