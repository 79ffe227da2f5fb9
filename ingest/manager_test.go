package ingest

import (
	"context"
	"testing"
	"time"
	"vigil/internal/testkit"
)

func TestCloseEndsPublishersAndSources(t *testing.T) {
	t.Parallel()
	requireFFmpeg(t)
	clip := makeClip(t)
	cam := startCamera(t, "127.0.0.1:0", clip)
	tm := startTestManager(t, Config{})
	tm.SetSource("pulled", "rtsp://"+cam.addr+"/cam")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ffDone := make(chan error, 1)
	go func() {
		_, err := ffmpeg(ctx, publishArgs(30, x264, aac, "tcp", tm.url("pushed"))...)
		ffDone <- err
	}()
	testkit.WaitFor(t, 20*time.Second, "both streams flowing", func() bool {
		return tm.sinkUnits("pushed") >= 25 && tm.sinkUnits("pulled") >= 25
	})

	closed := make(chan struct{})
	go func() {
		tm.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, name := range []string{"pushed", "pulled"} {
		s := tm.sink(name)
		ev := s.snapshot()
		if ev[len(ev)-1].kind != "end" || s.count("begin") != 1 || s.count("end") != 1 {
			t.Errorf("%s: sink did not end its session cleanly on Close", name)
		}
		if st := tm.Status(name); st.Online {
			t.Errorf("%s: online after Close", name)
		}
	}
	select {
	case err := <-ffDone:
		if err == nil {
			t.Error("ffmpeg finished normally; want it disconnected")
		}
	case <-time.After(15 * time.Second):
		t.Error("ffmpeg not disconnected by Close")
	}

	// After Close the Manager is inert.
	h := tm.Hub("late")
	h.Begin(testTracks)
	if h.Tracks() != nil {
		t.Error("hub handed out after Close accepts media")
	}
	tm.SetSource("late", "rtsp://"+cam.addr+"/cam")
	if err := tm.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestDefaultAuthorize(t *testing.T) {
	for name, ok := range map[string]bool{
		"cam1": true, "Front_Door-2.hd": true, "": false, ".": false, "..": false,
		"a/b": false, "a b": false, "é": false, string(make([]byte, 129)): false,
	} {
		if err := defaultAuthorize(name); (err == nil) != ok {
			t.Errorf("defaultAuthorize(%q) = %v", name, err)
		}
	}
}

func TestRedactHidesPasswords(t *testing.T) {
	if got := redact("rtsp://admin:s3cret@10.0.0.5:554/stream1"); got != "rtsp://admin:xxxxx@10.0.0.5:554/stream1" {
		t.Errorf("redact = %q", got)
	}
}
