package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"vigil/internal/testkit"
)

type streamStatus struct {
	Status struct {
		Online     bool   `json:"online"`
		Error      string `json:"error"`
		Reconnects int64  `json:"reconnects"`
	} `json:"status"`
}

// TestPullSourceReconnects is acceptance 3 of the ingest issue: a pull source
// whose camera goes away and comes back is recorded again within the backoff
// cap plus one second, and its status shows offline, then online.
func TestPullSourceReconnects(t *testing.T) {
	const backoffMax = 2 * time.Second
	camAddr := freePort(t)
	cam := media(t, "cam360-short-gop.mkv", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-t", "10", "-pix_fmt", "yuv420p",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "0", "-f", "matroska")
	conf := filepath.Join(t.TempDir(), "vigil.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`rtsp:
  backoff_min: 250ms
  backoff_max: %s
  read_timeout: 3s
storage:
  fragment_target: 400ms
streams:
  - name: gate
    source: rtsp://%s/cam
`, backoffMax, camAddr)), 0o644)

	camera := func() (*relay, *ffproc) {
		r := startRelay(t, camAddr)
		ff := startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", cam, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+camAddr+"/cam")
		testkit.WaitFor(t, 10*time.Second, "the camera to have a publisher", r.Ready)
		return r, ff
	}
	r, ff := camera()
	v := startVigil(t, t.TempDir(), "--config", conf)
	status := func() streamStatus {
		var s streamStatus
		v.getJSON("/api/v1/streams/gate", &s)
		return s
	}
	testkit.WaitFor(t, 15*time.Second, "gate online and recording", func() bool { return status().Status.Online && len(v.fragments("gate")) > 0 })

	// The camera goes away.
	ff.kill()
	r.Close()
	testkit.WaitFor(t, 10*time.Second, "gate offline", func() bool { return !status().Status.Online })
	if s := status(); s.Status.Error == "" {
		t.Errorf("offline stream shows no error")
	}
	// Let the fragment flushed at the disconnect land, then note the newest.
	time.Sleep(time.Second)
	last := v.fragments("gate")
	lastNumber := last[len(last)-1].Number
	// Long enough for the backoff to reach its cap.
	time.Sleep(3 * backoffMax)
	if status().Status.Online {
		t.Fatalf("online while the camera is away")
	}

	// It comes back.
	r, ff = camera()
	back := r.ReadyAt()
	testkit.WaitFor(t, backoffMax+5*time.Second, "gate online again", func() bool { return status().Status.Online })
	online := time.Since(back)
	var first fragment
	testkit.WaitFor(t, 10*time.Second, "a new fragment", func() bool {
		for _, f := range v.fragments("gate") {
			if f.Number > lastNumber {
				first = f
				return true
			}
		}
		return false
	})
	resumed := first.ServerTime.Sub(back)
	t.Logf("camera back; status online within %v, recording resumed %v after (cap %v), reconnects=%d", online, resumed, backoffMax, status().Status.Reconnects)
	if resumed < 0 || resumed > backoffMax+time.Second {
		t.Errorf("recording resumed %v after the camera came back, want within %v", resumed, backoffMax+time.Second)
	}
	if status().Status.Reconnects < 1 {
		t.Errorf("reconnects not counted")
	}
	ff.kill()
}
