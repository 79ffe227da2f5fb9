package test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// TestStreamLifecycle creates a stream with PUT {}, records into it, stops
// vigil with SIGTERM mid-stream (the fragment in flight is kept), restarts,
// and deletes the stream with its recordings.
func TestStreamLifecycle(t *testing.T) {
	data := t.TempDir()
	v := startVigil(t, data)
	var created struct {
		Name      string `json:"name"`
		Retention struct {
			MaxAge string `json:"max_age"`
		} `json:"retention"`
		Status struct {
			Online bool `json:"online"`
		} `json:"status"`
	}
	if code := v.doJSON("PUT", "/api/v1/streams/porch", "{}", &created); code != http.StatusCreated {
		t.Fatalf("PUT {}: %d", code)
	}
	if created.Name != "porch" || created.Retention.MaxAge != "168h0m0s" || created.Status.Online {
		t.Fatalf("created: %+v", created)
	}
	if code := v.doJSON("PUT", "/api/v1/streams/porch", `{"retention":{"max_age":"24h","max_bytes":1000000000}}`, nil); code != http.StatusOK {
		t.Fatalf("PUT update: %d", code)
	}

	cam := smallCamera(t)
	ff := startFFmpeg(t, "-re", "-i", cam, "-c", "copy", "-t", "7", "-f", "rtsp", "rtsp://"+v.RTSP+"/porch")
	testkit.WaitFor(t, 15*time.Second, "porch online", func() bool {
		var s struct {
			Status struct{ Online bool } `json:"status"`
		}
		v.getJSON("/api/v1/streams/porch", &s)
		return s.Status.Online
	})
	onlineAt := time.Now()
	// Stop vigil while the publisher is mid-fragment (1 s GOPs, 2 s fragments).
	time.Sleep(5300 * time.Millisecond)
	sent := time.Since(onlineAt)
	if err := v.Stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, v.Logs())
	}
	ff.kill()
	if !strings.Contains(v.Logs(), "stopped") {
		t.Errorf("no clean stop logged")
	}

	v = startVigil(t, data)
	frags := v.fragments("porch")
	var sum time.Duration
	for _, f := range frags {
		sum += time.Duration(f.DurationMS * float64(time.Millisecond))
	}
	// Everything received before SIGTERM is kept, up to the last keyframe
	// boundary at worst (1 s GOPs), allowing for connection set-up.
	if sum < sent-2*time.Second {
		t.Errorf("after SIGTERM %v of media is stored, about %v was published", sum, sent)
	}
	var list struct {
		Streams []struct {
			Name      string `json:"name"`
			Retention struct {
				MaxAge   string `json:"max_age"`
				MaxBytes int64  `json:"max_bytes"`
			} `json:"retention"`
		} `json:"streams"`
	}
	v.getJSON("/api/v1/streams", &list)
	if len(list.Streams) != 1 || list.Streams[0].Retention.MaxAge != "24h0m0s" || list.Streams[0].Retention.MaxBytes != 1e9 {
		t.Fatalf("streams after restart: %+v", list.Streams)
	}

	if code := v.doJSON("DELETE", "/api/v1/streams/porch", "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	if code := v.getJSON("/api/v1/streams/porch", nil); code != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", code)
	}
	testkit.WaitFor(t, 5*time.Second, "the recordings to be purged", func() bool {
		entries, _ := os.ReadDir(filepath.Join(data, "recordings", "porch"))
		return len(entries) == 0
	})

	resp, err := http.Get(v.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	if code := v.getJSON("/healthz", nil); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
}
