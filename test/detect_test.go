package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"vigil/internal/testkit"

	"github.com/nats-io/nats.go"
)

// Media for the detect tests: AT&T faces from the gocv module, turned
// into 10 s of 1280×720 25 fps H.264 (2 s GOPs, B-frames) by ffmpeg.

var gocvModuleDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "gocv.io/x/gocv").Output()
	return strings.TrimSpace(string(out)), err
})

// attPath is the path of AT&T image n of subject (s1: 1–4, s2: 1–5, s3: 1–10).
func attPath(t *testing.T, subject string, n int) string {
	t.Helper()
	dir, err := gocvModuleDir()
	if err != nil {
		t.Fatalf("go list gocv: %v", err)
	}
	return filepath.Join(dir, "contrib", "att_faces", subject, fmt.Sprintf("%d.pgm", n))
}

var clipEncoding = []string{"-t", "10", "-r", "25", "-c:v", "libx264", "-preset", "veryfast",
	"-bf", "2", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-f", "matroska"}

// faceClip is a face held still in the middle of the frame, scaled ×4
// (368×448: a 184-pixel face at the detector's 640-pixel working width).
func faceClip(t *testing.T, subject string, n int) string {
	args := []string{"-loop", "1", "-i", attPath(t, subject, n),
		"-vf", "scale=368:448,pad=1280:720:(ow-iw)/2:(oh-ih)/2,format=yuv420p"}
	return media(t, fmt.Sprintf("face-%s-%d.mkv", subject, n), append(args, clipEncoding...)...)
}

// noFaceClip is ffmpeg's test pattern.
func noFaceClip(t *testing.T) string {
	args := []string{"-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-pix_fmt", "yuv420p"}
	return media(t, "testsrc-720.mkv", append(args, clipEncoding...)...)
}

// enrol adds the faces of an image file to a collection through the API.
func (v *vigil) enrol(collection, externalID, path string) {
	v.t.Helper()
	img, err := os.ReadFile(path)
	if err != nil {
		v.t.Fatal(err)
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("external_id", externalID)
	fw, _ := mw.CreateFormFile("image", filepath.Base(path))
	fw.Write(img)
	mw.Close()
	resp, err := http.Post(v.url("/api/v1/collections/"+collection+"/faces"), mw.FormDataContentType(), &b)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Faces []struct{ FaceID string } `json:"faces"`
	}
	body, _ := io.ReadAll(resp.Body)
	if (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated) || json.Unmarshal(body, &out) != nil || len(out.Faces) != 1 {
		v.t.Fatalf("enrol %s in %s: %d %s", path, collection, resp.StatusCode, body)
	}
}

// staff creates collection staff holding s1's images 1–3 (4 is held out).
func (v *vigil) staff() {
	v.t.Helper()
	if code := v.doJSON("PUT", "/api/v1/collections/staff", "{}", nil); code != http.StatusCreated {
		v.t.Fatalf("create collection staff: %d", code)
	}
	for i := 1; i <= 3; i++ {
		v.enrol("staff", "s1", attPath(v.t, "s1", i))
	}
}

// detectStream creates a stream that is analysed at 2 fps against staff.
func (v *vigil) detectStream(name string) {
	v.t.Helper()
	body := `{"detect":{"enabled":true,"fps":2,"collections":["staff"]}}`
	if code := v.doJSON("PUT", "/api/v1/streams/"+name, body, nil); code != http.StatusCreated && code != http.StatusOK {
		v.t.Fatalf("PUT stream %s: %d", name, code)
	}
}

// metric reads one sample from /metrics, by its name and labels as
// printed (e.g. `vigil_detect_failures_total{stage="decode"}`).
func (v *vigil) metric(series string) float64 {
	v.t.Helper()
	resp, err := http.Get(v.url("/metrics"))
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		v.t.Fatalf("/metrics has no %s", series)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return f
}

// faceEvent is the part of an event the tests read.
type faceEvent struct {
	ID       string    `json:"id"`
	Version  int       `json:"version"`
	Type     string    `json:"type"`
	Time     time.Time `json:"time"`
	Stream   string    `json:"stream"`
	Fragment struct {
		Number     uint64    `json:"number"`
		ServerTime time.Time `json:"server_time"`
	} `json:"fragment"`
	FrameOffsetMS int64 `json:"frame_offset_ms"`
	Faces         []struct {
		BBox       struct{ Left, Top, Width, Height float64 } `json:"bbox"`
		Confidence float64                                    `json:"confidence"`
		Matches    []faceMatch                                `json:"matches"`
	} `json:"faces"`
	ImageURL string `json:"image_url"`
}

// subscribeEvents subscribes a plain NATS client at addr to subject.
func subscribeEvents(t *testing.T, addr, subject string) chan *nats.Msg {
	t.Helper()
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	msgs := make(chan *nats.Msg, 1024)
	if _, err := nc.ChanSubscribe(subject, msgs); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func decodeEvent(t *testing.T, m *nats.Msg) faceEvent {
	t.Helper()
	var e faceEvent
	if err := json.Unmarshal(m.Data, &e); err != nil {
		t.Fatalf("event on %s: %v: %s", m.Subject, err, m.Data)
	}
	if m.Header.Get("Nats-Msg-Id") != e.ID {
		t.Errorf("event %s published with message id %q", e.ID, m.Header.Get("Nats-Msg-Id"))
	}
	return e
}

// samplesIn is how many frames the worker samples at 2 fps from a
// fragment of d ms at 25 fps: the first, then the first at or after each
// 500 ms, up to its last frame at d - 40.
func samplesIn(d float64) int { return int((d-40)/500) + 1 }

// TestDetectEvents (recognition issue, acceptance 1 and 4): with s1
// enrolled through the API, a camera showing a held-out image of s1 gives
// face.matched events on vigil.events.<stream> within 10 s, one per
// sampled frame, also listed by GET /api/v1/events, with an image_url
// that serves the frame; one showing s2 (not enrolled) gives
// face.unknown; one showing the test pattern gives nothing. A notice for
// a fragment that is not video is logged, counted and skipped, and the
// worker goes on.
func TestDetectEvents(t *testing.T) {
	clips := map[string]string{"cam": faceClip(t, "s1", 4), "visitor": faceClip(t, "s2", 5), "empty": noFaceClip(t)}
	v := startVigil(t, t.TempDir())
	v.staff()
	for name := range clips {
		v.detectStream(name)
	}
	msgs := subscribeEvents(t, v.NATS, "vigil.events.>")

	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>this is not a fragment</html>")
	}))
	defer junk.Close()
	nc, err := nats.Connect("nats://" + v.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bad := fmt.Sprintf(`{"stream":"cam","number":999999,"run":1,"server_time":%q,"duration_ms":2000,"url":%q}`,
		time.Now().UTC().Format(time.RFC3339Nano), junk.URL+"/fragment")
	if err := nc.Publish("vigil.fragments.cam", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	published := time.Now()
	var pubs []*ffproc
	for name, clip := range clips {
		pubs = append(pubs, startFFmpeg(t, "-re", "-i", clip, "-c", "copy", "-f", "rtsp", "rtsp://"+v.RTSP+"/"+name))
	}
	got := map[string][]faceEvent{}
	firstMatch := time.Duration(0)
	deadline := time.After(10 * time.Second)
	for firstMatch == 0 || len(got["visitor"]) == 0 {
		select {
		case m := <-msgs:
			e := decodeEvent(t, m)
			got[e.Stream] = append(got[e.Stream], e)
			if e.Stream == "cam" && firstMatch == 0 {
				firstMatch = time.Since(published)
			}
		case <-deadline:
			t.Fatalf("10 s after publishing: events %v", got)
		}
	}
	t.Logf("first face.matched %v after the publishers started", firstMatch.Round(time.Millisecond))
	for _, p := range pubs {
		if err := p.wait(t, 30*time.Second); err != nil {
			t.Fatalf("ffmpeg: %v %s", err, p.out.String())
		}
	}

	// Every fragment of the three streams has been analysed (plus the
	// junk one, which failed): then every event has been published.
	frags := map[string][]fragment{}
	want := 0
	testkit.WaitFor(t, 30*time.Second, "every fragment analysed", func() bool {
		n := 0
		for name := range clips {
			frags[name] = v.fragments(name)
			n += len(frags[name])
		}
		want = n
		return n > 0 && v.metric("vigil_detect_fragments_total") == float64(n)
	})
	for drained := false; !drained; {
		select {
		case m := <-msgs:
			e := decodeEvent(t, m)
			got[e.Stream] = append(got[e.Stream], e)
		case <-time.After(500 * time.Millisecond):
			drained = true
		}
	}
	if f := v.metric(`vigil_detect_failures_total{stage="decode"}`); f != 1 {
		t.Errorf("decode failures %v, want 1", f)
	}
	if n := strings.Count(v.Logs(), "fragment not decodable"); n != 1 {
		t.Errorf("%d decode warnings logged", n)
	}
	if len(got["empty"]) != 0 {
		t.Errorf("%d events from the test pattern: %+v", len(got["empty"]), got["empty"][0])
	}

	wantType := map[string]string{"cam": "face.matched", "visitor": "face.unknown"}
	ids := map[string]bool{}
	for _, name := range []string{"cam", "visitor"} {
		perFragment := map[uint64][]int64{}
		for _, e := range got[name] {
			if ids[e.ID] {
				t.Errorf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
			perFragment[e.Fragment.Number] = append(perFragment[e.Fragment.Number], e.FrameOffsetMS)
			if e.Type != wantType[name] || e.Version != 1 || len(e.Faces) != 1 {
				t.Errorf("%s: event %+v", name, e)
				continue
			}
			f := e.Faces[0]
			if name == "cam" && (len(f.Matches) == 0 || f.Matches[0].ExternalID != "s1" || f.Matches[0].Collection != "staff" || f.Matches[0].Similarity < 0.8) {
				t.Errorf("cam: matches %+v", f.Matches)
			}
			if name == "visitor" && (f.Matches == nil || len(f.Matches) != 0) {
				t.Errorf("visitor: matches %+v", f.Matches)
			}
			// The face is 368×448 in the middle of 1280×720.
			if b := f.BBox; b.Left < 0.3 || b.Left+b.Width > 0.7 || b.Top < 0.15 || b.Top+b.Height > 0.85 || b.Width < 0.1 {
				t.Errorf("%s: bbox %+v", name, b)
			}
			if !e.Time.Equal(e.Fragment.ServerTime.Add(time.Duration(e.FrameOffsetMS) * time.Millisecond)) {
				t.Errorf("%s: time %v is not server time %v + %d ms", name, e.Time, e.Fragment.ServerTime, e.FrameOffsetMS)
			}
			at := e.Time.Add(time.Millisecond - time.Nanosecond).Truncate(time.Millisecond) // rounded up
			if want := "/api/v1/streams/" + name + "/image.jpg?at=" + at.UTC().Format("2006-01-02T15:04:05.000Z"); e.ImageURL != want {
				t.Errorf("image_url %s, want %s", e.ImageURL, want)
			}
		}
		// One event per sampled frame: the face is in every frame.
		for _, f := range frags[name] {
			offs := perFragment[f.Number]
			slices.Sort(offs)
			if len(offs) != samplesIn(f.DurationMS) || len(offs) == 0 || offs[0] != 0 {
				t.Errorf("%s fragment %d (%.0f ms): events at %v ms", name, f.Number, f.DurationMS, offs)
			}
			if f.DurationMS == 2000 && !slices.Equal(offs, []int64{0, 520, 1000, 1520}) {
				t.Errorf("%s fragment %d: events at %v ms", name, f.Number, offs)
			}
		}
	}
	t.Logf("%d fragments analysed; %d face.matched, %d face.unknown", want, len(got["cam"]), len(got["visitor"]))

	// The events API lists them, and image_url serves the analysed frame.
	var page struct {
		Events []faceEvent `json:"events"`
	}
	if code := v.getJSON("/api/v1/events?stream=cam&type=face.matched&limit=1000", &page); code != http.StatusOK || len(page.Events) != len(got["cam"]) {
		t.Fatalf("GET /api/v1/events: %d, %d events, want %d", code, len(page.Events), len(got["cam"]))
	}
	e := got["cam"][0]
	if !slices.ContainsFunc(page.Events, func(x faceEvent) bool { return x.ID == e.ID }) {
		t.Errorf("event %s not listed", e.ID)
	}
	code, hdr, jpg := get(t, v.url(e.ImageURL))
	if code != http.StatusOK || hdr.Get("Content-Type") != "image/jpeg" || len(jpg) < 1000 {
		t.Errorf("GET %s: %d %s, %d bytes", e.ImageURL, code, hdr.Get("Content-Type"), len(jpg))
	}
}

// TestDetectExternalNATS (recognition issue, acceptance 3): vigil with
// --nats-url uses another server's NATS (here a second vigil's embedded
// one, with its own detect worker off): the face event appears on that
// NATS and in the first vigil's events API.
func TestDetectExternalNATS(t *testing.T) {
	clip := faceClip(t, "s1", 4)
	hubDir := t.TempDir()
	cfg := filepath.Join(hubDir, "vigil.yaml")
	if err := os.WriteFile(cfg, []byte("detect:\n  workers: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hub := startVigil(t, filepath.Join(hubDir, "data"), "--config", cfg)
	if hub.NATS == "" || !strings.Contains(hub.Logs(), "detect worker off") {
		t.Fatalf("hub: nats %q\n%s", hub.NATS, hub.Logs())
	}
	v := startVigil(t, t.TempDir(), "--nats-url", "nats://"+hub.NATS)
	if v.NATS != "" || !strings.Contains(v.Logs(), "nats connected to nats://"+hub.NATS) {
		t.Fatalf("vigil did not use the hub's NATS:\n%s", v.Logs())
	}
	v.staff()
	v.detectStream("cam")
	msgs := subscribeEvents(t, hub.NATS, "vigil.events.cam")

	published := time.Now()
	ff := startFFmpeg(t, "-re", "-i", clip, "-t", "5", "-c", "copy", "-f", "rtsp", "rtsp://"+v.RTSP+"/cam")
	var e faceEvent
	select {
	case m := <-msgs:
		e = decodeEvent(t, m)
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the hub's NATS within 10 s")
	}
	t.Logf("first event %v after the publisher started", time.Since(published).Round(time.Millisecond))
	if e.Type != "face.matched" || e.Stream != "cam" || len(e.Faces) != 1 || len(e.Faces[0].Matches) == 0 || e.Faces[0].Matches[0].ExternalID != "s1" {
		t.Fatalf("event %+v", e)
	}
	ff.kill()
	var page struct {
		Events []faceEvent `json:"events"`
	}
	testkit.WaitFor(t, 5*time.Second, "the event in the events API", func() bool {
		v.getJSON("/api/v1/events?stream=cam", &page)
		return slices.ContainsFunc(page.Events, func(x faceEvent) bool { return x.ID == e.ID })
	})
}
