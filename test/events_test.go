package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"

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

// TestEventsAPI: events on vigil.events.<stream> (published here by a plain
// NATS client, as a detection worker on another node would) are listed
// newest first with filters and paging, and streamed live as server-sent
// events.
func TestEventsAPI(t *testing.T) {
	v := startVigil(t, t.TempDir())
	nc, err := nats.Connect("nats://" + v.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Live first, so it sees the events below.
	req, _ := http.NewRequest("GET", v.url("/api/v1/events/live?stream=door&type=face.matched"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if l := <-lines; !strings.HasPrefix(l, ":") {
		t.Fatalf("first live line %q", l)
	}

	for i := range 12 {
		typ, stream := "face.unknown", "door"
		if i%3 == 0 {
			typ = "face.matched"
		}
		if i%2 == 1 {
			stream = "yard"
		}
		e := fmt.Sprintf(`{"id":"E%02d","version":1,"type":%q,"time":"2026-11-26T10:00:%02d.000Z","stream":%q,"fragment":{"number":%d,"server_time":"2026-11-26T10:00:00Z"},"frame_offset_ms":0,"faces":[],"image_url":""}`,
			i, typ, i, stream, i+1)
		if err := nc.Publish("vigil.events."+stream, []byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()

	type page struct {
		Events []struct {
			ID, Type, Stream string
		} `json:"events"`
		NextCursor string `json:"next_cursor"`
	}
	var all page
	testkit.WaitFor(t, 5*time.Second, "12 stored events", func() bool {
		v.getJSON("/api/v1/events", &all)
		return len(all.Events) == 12
	})
	if all.Events[0].ID != "E11" || all.Events[11].ID != "E00" {
		t.Fatalf("not newest first: %v", all.Events)
	}
	var p page
	if code := v.getJSON("/api/v1/events?stream=door&type=face.matched&limit=1", &p); code != 200 || len(p.Events) != 1 || p.Events[0].ID != "E06" || p.NextCursor == "" {
		t.Fatalf("filtered first page: %d %+v", code, p)
	}
	var p2 page
	v.getJSON("/api/v1/events?stream=door&type=face.matched&limit=1&cursor="+p.NextCursor, &p2)
	if len(p2.Events) != 1 || p2.Events[0].ID != "E00" {
		t.Fatalf("second page: %+v", p2)
	}
	for _, bad := range []string{"?since=yesterday", "?limit=0", "?cursor=abc", "?stream=..%2f", "?stream=a%20b"} {
		if code := v.getJSON("/api/v1/events"+bad, nil); code != 400 {
			t.Errorf("GET /api/v1/events%s: %d, want 400", bad, code)
		}
	}

	// The live stream carried exactly the matching events, as JSON on data: lines.
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("live stream ended; got %v", got)
			}
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				var e struct{ ID, Type, Stream string }
				if err := json.Unmarshal([]byte(d), &e); err != nil || e.Stream != "door" || e.Type != "face.matched" {
					t.Fatalf("live data %q: %v", d, err)
				}
				got = append(got, e.ID)
			}
		case <-deadline:
			t.Fatalf("live events: got %v, want E00 and E06", got)
		}
	}
	if got[0] != "E00" || got[1] != "E06" {
		t.Fatalf("live events %v", got)
	}
}
