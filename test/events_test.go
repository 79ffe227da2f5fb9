package test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestFragmentNoticesOnNATS: every fragment vigil stores is announced on
// vigil.fragments.<stream> (read here by a plain NATS subscriber), and the
// notice's URL fetches the fragment as a playable MP4.
func TestFragmentNoticesOnNATS(t *testing.T) {
	v := startVigil(t, t.TempDir())
	if v.NATS == "" {
		t.Fatalf("vigil logged no nats address:\n%s", v.Logs())
	}
	nc, err := nats.Connect("nats://" + v.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("vigil.fragments.lobby", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	ff := startFFmpeg(t, "-re", "-i", smallCamera(t), "-t", "5", "-c", "copy", "-f", "rtsp", "rtsp://"+v.RTSP+"/lobby")
	if err := ff.wait(t, 30*time.Second); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, ff.out.String())
	}
	var notices []map[string]any
	deadline := time.After(10 * time.Second)
	for len(notices) < len(v.fragments("lobby")) || len(notices) == 0 {
		select {
		case m := <-msgs:
			var n map[string]any
			if err := json.Unmarshal(m.Data, &n); err != nil {
				t.Fatalf("notice %s: %v", m.Data, err)
			}
			notices = append(notices, n)
		case <-deadline:
			t.Fatalf("%d notices for %d fragments", len(notices), len(v.fragments("lobby")))
		}
	}
	for i, n := range notices {
		if n["stream"] != "lobby" || n["number"].(float64) != float64(i+1) || n["duration_ms"].(float64) <= 0 {
			t.Errorf("notice %d: %v", i, n)
		}
	}
	resp, err := http.Get(notices[0]["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := filepath.Join(t.TempDir(), "f.mp4")
	b, _ := io.ReadAll(resp.Body)
	os.WriteFile(p, b, 0o644)
	if msg, n := ffprobeSilent(t, p); resp.StatusCode != 200 || msg != "" || n == 0 {
		t.Fatalf("notice URL %s: status %d, ffprobe %q, %d frames", notices[0]["url"], resp.StatusCode, msg, n)
	}
}
