package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/events"
	"vigil/internal/testkit"
)

// uiResult is what test/browser/ui.mjs reports.
type uiResult struct {
	browserLog
	Wall struct {
		FirstTileMS float64 `json:"firstTileMs"`
		Videos      []struct {
			Stream   string  `json:"stream"`
			Advanced float64 `json:"advanced"`
		} `json:"videos"`
		Weight struct {
			TransferBytes int `json:"transferBytes"`
			CDPBytes      int `json:"cdpBytes"`
			Requests      int `json:"requests"`
			URLs          []struct {
				URL   string `json:"url"`
				Bytes int    `json:"bytes"`
			} `json:"urls"`
		} `json:"weight"`
	} `json:"wall"`
	Faces struct {
		Listed       bool   `json:"listed"`
		CropLoaded   bool   `json:"cropLoaded"`
		NewColl      bool   `json:"newCollection"`
		WhoIsThis    bool   `json:"whoIsThis"`
		WhoIsThisErr string `json:"whoIsThisError"`
	} `json:"faces"`
	Events struct {
		LatencyMS float64 `json:"latencyMs"`
		Thumbnail bool    `json:"thumbnail"`
	} `json:"events"`
	Camera struct {
		Target      time.Time `json:"target"`
		PlayingAt   time.Time `json:"playingAt"`
		StartMS     float64   `json:"startMs"`
		Advanced    float64   `json:"advanced"`
		KeyTabs     int       `json:"keyTabs"`
		KeyFocus    bool      `json:"keyFocusVisible"`
		KeyBefore   float64   `json:"keyBefore"`
		KeyAfter    float64   `json:"keyAfter"`
		KeyStep     float64   `json:"keyStep"`
		KeyPlaying  time.Time `json:"keyPlayingAt"`
		ZoomBefore  string    `json:"zoomBefore"`
		ZoomAfter   string    `json:"zoomAfter"`
		DragPreview bool      `json:"dragPreview"`
		DragTarget  time.Time `json:"dragTarget"`
		DragPlaying time.Time `json:"dragPlayingAt"`
		ClipHref    string    `json:"clipHref"`
		ClipStatus  int       `json:"clipStatus"`
		ClipType    string    `json:"clipType"`
		StillStatus int       `json:"stillStatus"`
	} `json:"camera"`
	Settings struct {
		CameraAdded   bool   `json:"cameraAdded"`
		CameraError   string `json:"cameraError"`
		NotifierAdded bool   `json:"notifierAdded"`
		TestResult    string `json:"testResult"`
	} `json:"settings"`
	Review   []uiReview `json:"review"`
	Requests []string   `json:"requests"`
}

// uiReview is one page at one size: its screenshot and what the checks found.
type uiReview struct {
	Page       string            `json:"page"`
	Size       string            `json:"size"`
	Screenshot string            `json:"screenshot"`
	Axe        []json.RawMessage `json:"axe"`
	Overlaps   []json.RawMessage `json:"overlaps"`
	Overflow   []json.RawMessage `json:"overflow"`
	Contrast   []json.RawMessage `json:"contrast"`
	Tabs       int               `json:"tabs"`
	Unreached  []string          `json:"unreached"`
	NoFocus    []string          `json:"noFocusRing"`
	Errors     []string          `json:"errors"`
}

// eventHook publishes a face event on vigil's NATS when the browser script
// asks (GET /publish?stream=&type=), answering the event id and the wall
// time just before publishing, so the script can time the event's journey
// to the page.
func eventHook(t *testing.T, natsAddr string) string {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/webhook" { // a notifier's receiver
			w.WriteHeader(http.StatusNoContent)
			return
		}
		stream, typ := r.URL.Query().Get("stream"), r.URL.Query().Get("type")
		// A moment already stored, so the thumbnail has a frame to show.
		at := time.Now().Add(-4 * time.Second).UTC()
		var matches []events.Match
		if typ == "face.matched" {
			matches = []events.Match{{Collection: "staff", FaceID: "f_hook", ExternalID: "Carol", Similarity: 0.93}}
		}
		// The face of faceClip: 368×448 centred in 1280×720.
		e := events.Event{
			ID: events.NewID(at), Version: 1, Type: typ, Time: at, Stream: stream,
			Faces: []events.FaceResult{{BBox: events.BBox{Left: 0.356, Top: 0.189, Width: 0.2875, Height: 0.622}, Confidence: 0.97, Matches: matches}},
		}
		e.ImageURL = fmt.Sprintf("/api/v1/streams/%s/image.jpg?at=%s", stream, at.Format(time.RFC3339Nano))
		b, _ := json.Marshal(e)
		sent := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if _, err := js.Publish(ctx, "vigil.events."+stream, b, jetstream.WithMsgID(e.ID)); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		json.NewEncoder(w).Encode(map[string]any{"id": e.ID, "publishedMs": sent.UnixMilli()})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestUI drives the browser UI in Debian's Chromium (test/browser/ui.mjs)
// against vigil with two cameras publishing: a test pattern (cam1) and a
// face (lobby, with detection on). It checks the acceptance of the UI:
// both wall tiles play, the wall's assets weigh under 300 KB and the first
// tile plays within 2 s; a face enrolled from an uploaded photo is listed;
// a published event reaches the live feed within 2 s; a click 2 minutes
// back on the camera timeline plays from within 1 s of that moment
// (PROGRAM-DATE-TIME); the timeline works from the keyboard; and every page
// at 1440x900 and 390x844 has a screenshot (test/artifacts/ui), no axe
// WCAG 2.1 AA violations, no overlapping elements, no sideways scrolling,
// and a visible focus on every control Tab reaches.
func TestUI(t *testing.T) {
	node := browserNode(t)
	artifacts, err := filepath.Abs(filepath.Join("artifacts", "ui"))
	if err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("VIGIL_ARTIFACTS"); d != "" {
		artifacts = filepath.Join(d, "ui")
	}
	os.RemoveAll(artifacts)

	v := startVigil(t, t.TempDir())
	if st := v.doJSON("PUT", "/api/v1/collections/staff", "", nil); st != http.StatusCreated {
		t.Fatalf("PUT collection: %d", st)
	}
	if st := v.doJSON("PUT", "/api/v1/streams/lobby", `{"detect":{"enabled":true,"fps":1,"collections":["staff"]}}`, nil); st != http.StatusCreated {
		t.Fatalf("PUT stream: %d", st)
	}
	cam := camera360(t)
	face := faceClip(t, "s2", 1)
	for name, src := range map[string]string{"cam1": cam, "lobby": face} {
		startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp",
			"rtsp://"+v.RTSP+"/"+name)
	}
	testkit.WaitFor(t, 30*time.Second, "both cameras recording", func() bool {
		return len(v.fragments("cam1")) >= 1 && len(v.fragments("lobby")) >= 1
	})
	hook := eventHook(t, v.NATS)

	var res uiResult
	runBrowser(t, node, "ui.mjs", 8*time.Minute, &res,
		"--base", "http://"+v.HTTP, "--hook", hook, "--face", attPath(t, "s1", 1), "--artifacts", artifacts)
	res.check(t)
	t.Logf("screenshots in %s", artifacts)

	// 1. The wall plays both cameras; a face enrolled from a photo is
	// listed; a live event reaches the feed within 2 s; a timeline click
	// plays within 1 s of the moment clicked.
	if len(res.Wall.Videos) != 2 {
		t.Errorf("wall: %d tiles playing, want 2: %+v", len(res.Wall.Videos), res.Wall.Videos)
	}
	for _, vid := range res.Wall.Videos {
		if vid.Advanced < 2 {
			t.Errorf("wall: %s advanced %.2f s in 3 s, want at least 2", vid.Stream, vid.Advanced)
		}
	}
	if !res.Faces.Listed || !res.Faces.CropLoaded {
		t.Errorf("faces: enrolled face listed %v, its crop shown %v", res.Faces.Listed, res.Faces.CropLoaded)
	}
	if !res.Faces.NewColl {
		t.Error("faces: a collection created in the page is not listed")
	}
	if !res.Faces.WhoIsThis {
		t.Errorf("who is this: the face of an unknown-face event was not enrolled: %s", res.Faces.WhoIsThisErr)
	}
	if res.Events.LatencyMS <= 0 || res.Events.LatencyMS > 2000 {
		t.Errorf("events: a published event showed in the feed after %.0f ms, want at most 2000", res.Events.LatencyMS)
	}
	if !res.Events.Thumbnail {
		t.Error("events: the event's face thumbnail did not load")
	}
	if d := res.Camera.PlayingAt.Sub(res.Camera.Target); d < -time.Second || d > time.Second {
		t.Errorf("camera: clicked %s, playback started at %s (%v off), want within 1 s",
			res.Camera.Target.Format(time.RFC3339Nano), res.Camera.PlayingAt.Format(time.RFC3339Nano), d)
	}
	if ago := time.Since(res.Camera.Target); ago < 110*time.Second {
		t.Errorf("camera: clicked only %v back, want about 2 minutes", ago)
	}
	if res.Camera.Advanced < 1 {
		t.Errorf("camera: playback advanced %.2f s in 2 s after the click", res.Camera.Advanced)
	}
	t.Logf("camera: clicked %s, playing %s after %.0f ms (%v off)", res.Camera.Target.Format(time.RFC3339Nano),
		res.Camera.PlayingAt.Format(time.RFC3339Nano), res.Camera.StartMS, res.Camera.PlayingAt.Sub(res.Camera.Target))
	if res.Camera.ClipStatus != http.StatusOK || res.Camera.ClipType != "video/mp4" || res.Camera.StillStatus != http.StatusOK {
		t.Errorf("camera: clip link %q answered %d %s; still %d", res.Camera.ClipHref, res.Camera.ClipStatus, res.Camera.ClipType, res.Camera.StillStatus)
	}

	// Settings: a camera with a source and a notifier added in the page.
	if !res.Settings.CameraAdded {
		t.Error("settings: a camera added in the page is not listed")
	}
	var yard struct {
		Source string `json:"source"`
	}
	if st := v.getJSON("/api/v1/streams/yard", &yard); st != http.StatusOK || yard.Source == "" {
		t.Errorf("settings: GET yard: %d %+v", st, yard)
	}
	if !res.Settings.NotifierAdded || res.Settings.TestResult != "Test delivered." {
		t.Errorf("settings: notifier added %v, test %q", res.Settings.NotifierAdded, res.Settings.TestResult)
	}

	// 3. The timeline from the keyboard: Tab reaches it with a visible
	// focus, arrows move the moment by a step, and playback follows.
	if res.Camera.KeyTabs == 0 || !res.Camera.KeyFocus {
		t.Errorf("timeline: reached by Tab after %d presses, focus visible %v", res.Camera.KeyTabs, res.Camera.KeyFocus)
	}
	if moved := res.Camera.KeyAfter - res.Camera.KeyBefore; res.Camera.KeyStep <= 0 || moved < 2.5*res.Camera.KeyStep || moved > 3.5*res.Camera.KeyStep {
		t.Errorf("timeline: 3 × ArrowRight moved %.1f s, want 3 steps of %.1f s", moved, res.Camera.KeyStep)
	}
	if d := res.Camera.KeyPlaying.Sub(time.UnixMilli(int64(res.Camera.KeyAfter * 1000))); d < -time.Second || d > 2*time.Second {
		t.Errorf("timeline: after the arrow keys playback is at %s, %v from the chosen moment", res.Camera.KeyPlaying.Format(time.RFC3339Nano), d)
	}
	if !res.Camera.DragPreview {
		t.Error("timeline: no still of the moment under the pointer while dragging")
	}
	if d := res.Camera.DragPlaying.Sub(res.Camera.DragTarget); res.Camera.DragTarget.IsZero() || d < -time.Second || d > time.Second {
		t.Errorf("timeline: dragged to %s, playing %s", res.Camera.DragTarget.Format(time.RFC3339Nano), res.Camera.DragPlaying.Format(time.RFC3339Nano))
	}
	if res.Camera.ZoomBefore == res.Camera.ZoomAfter {
		t.Errorf("timeline: + did not zoom (%s)", res.Camera.ZoomAfter)
	}

	// 2, 3. Every page at both sizes.
	for _, r := range res.Review {
		where := r.Page + " at " + r.Size
		if r.Screenshot == "" {
			t.Errorf("%s: no screenshot", where)
		}
		for _, list := range []struct {
			what  string
			items []json.RawMessage
		}{{"axe WCAG 2.1 AA violation", r.Axe}, {"overlapping elements", r.Overlaps}, {"wider than the screen", r.Overflow}, {"text contrast under AA", r.Contrast}} {
			for _, it := range list.items {
				t.Errorf("%s: %s: %s", where, list.what, it)
			}
		}
		for _, el := range r.Unreached {
			t.Errorf("%s: Tab never reaches %s", where, el)
		}
		for _, el := range r.NoFocus {
			t.Errorf("%s: no visible focus on %s", where, el)
		}
		for _, e := range r.Errors {
			t.Errorf("%s: %s", where, e)
		}
	}
	if len(res.Review) < 10 {
		t.Errorf("reviewed %d page sizes, want 10 (5 pages × 2 sizes)", len(res.Review))
	}

	// 4. Only the public API: every request is a UI file or a route
	// documented in docs/api.md, with documented query parameters.
	routes := documentedRoutes(t)
	undocumented := 0
	for _, req := range res.Requests {
		if err := routes.check(req); err != nil {
			t.Errorf("the UI made a request outside the documented API: %v", err)
			undocumented++
		}
	}
	t.Logf("the UI made %d distinct requests, %d of them undocumented", len(res.Requests), undocumented)

	// 5. Page weight and first tile.
	w := res.Wall.Weight
	t.Logf("wall: %d requests, %d bytes transferred (Resource Timing), %d (DevTools), first tile playing after %.0f ms",
		w.Requests, w.TransferBytes, w.CDPBytes, res.Wall.FirstTileMS)
	for _, u := range w.URLs {
		t.Logf("  %7d %s", u.Bytes, u.URL)
	}
	if w.TransferBytes <= 0 || w.TransferBytes >= 300*1000 || w.CDPBytes >= 300*1000 {
		t.Errorf("wall: %d bytes (DevTools %d) of assets, want under 300 KB", w.TransferBytes, w.CDPBytes)
	}
	if res.Wall.FirstTileMS <= 0 || res.Wall.FirstTileMS > 2000 {
		t.Errorf("wall: first tile played after %.0f ms, want within 2 s", res.Wall.FirstTileMS)
	}
}

// TestBrowserChecks runs the self-test of test/browser/checks.mjs, the
// checks TestUI relies on: on hand-made pages each check must find exactly
// the problems planted there (an overlap, low contrast, an unlabelled
// input, a page too wide, a control with no focus ring) and nothing on a
// clean page.
func TestBrowserChecks(t *testing.T) {
	node := browserNode(t)
	var res struct {
		browserLog
		OK       bool              `json:"ok"`
		Failures []json.RawMessage `json:"failures"`
	}
	runBrowser(t, node, "checks-selftest.mjs", 3*time.Minute, &res)
	if res.Error != "" {
		t.Fatal(res.Error)
	}
	for _, f := range res.Failures {
		t.Errorf("check self-test: %s", f)
	}
	if !res.OK {
		t.Error("check self-test failed")
	}
}

// apiRoute is one route of docs/api.md: its method, its path as a pattern,
// and its query parameters when the heading lists them.
type apiRoute struct {
	method string
	path   *regexp.Regexp
	params map[string]bool // nil: not listed in the heading
}

type apiRoutes []apiRoute

// documentedRoutes reads the route headings of docs/api.md, such as
// "### `GET /api/v1/streams/{name}/timeline?start=&end=`".
func documentedRoutes(t *testing.T) apiRoutes {
	t.Helper()
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("`(GET|PUT|POST|DELETE) (/[^`?]*)(\\?[^`]*)?`")
	var routes apiRoutes
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "### ") {
			continue
		}
		for _, m := range heading.FindAllStringSubmatch(line, -1) {
			pat := regexp.QuoteMeta(m[2])
			pat = regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(pat, `[^/]+`)
			r := apiRoute{method: m[1], path: regexp.MustCompile("^" + pat + "$")}
			if m[3] != "" {
				r.params = map[string]bool{}
				q, _ := url.ParseQuery(strings.TrimPrefix(m[3], "?"))
				for k := range q {
					r.params[k] = true
				}
			}
			routes = append(routes, r)
		}
	}
	if len(routes) < 20 {
		t.Fatalf("docs/api.md: found only %d routes", len(routes))
	}
	return routes
}

// check accepts "METHOD /path?query" when it is a UI file or a documented
// route with documented parameters. HLS playlists take the parameters their
// section's table documents: start, end and the low-latency _HLS_ ones.
func (rs apiRoutes) check(req string) error {
	method, target, _ := strings.Cut(req, " ")
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if method == "GET" && (u.Path == "/" || strings.HasPrefix(u.Path, "/ui/")) {
		return nil
	}
	for _, r := range rs {
		if r.method != method || !r.path.MatchString(u.Path) {
			continue
		}
		for k := range u.Query() {
			ok := r.params == nil || r.params[k]
			if strings.HasSuffix(u.Path, "/index.m3u8") {
				ok = k == "start" || k == "end" || strings.HasPrefix(k, "_HLS_")
			}
			if !ok && !(method == "DELETE" && k == "keep_recordings") {
				return fmt.Errorf("%s: parameter %q is not documented", req, k)
			}
		}
		return nil
	}
	return fmt.Errorf("%s: no such route in docs/api.md", req)
}

// TestDocumentedRoutes: the public-API check TestUI applies to the UI's
// requests accepts documented routes and refuses anything else.
func TestDocumentedRoutes(t *testing.T) {
	routes := documentedRoutes(t)
	for req, ok := range map[string]bool{
		"GET /ui/js/app.js":                                         true,
		"GET /api/v1/streams":                                       true,
		"GET /api/v1/streams/cam1/timeline?start=a&end=b":           true,
		"GET /hls/cam1/index.m3u8?start=a&_HLS_msn=3":               true,
		"GET /hls/cam1/seg/12.m4s":                                  true,
		"DELETE /api/v1/streams/cam1?keep_recordings=true":          true,
		"GET /api/v1/events?stream=a&external_id=b&since=c&limit=5": true,
		"POST /api/v1/notifiers/ops/test":                           true,
		"GET /api/v1/streams/cam1/timeline?secret=1":                false,
		"GET /api/v1/internal/state":                                false,
		"POST /api/v1/streams/cam1":                                 false,
		"GET /hls/cam1/index.m3u8?debug=1":                          false,
	} {
		if err := routes.check(req); (err == nil) != ok {
			t.Errorf("%s: err %v, want accepted %v", req, err, ok)
		}
	}
}

// TestUIEmptyStates: with nothing set up, each page says what to do next:
// the wall how to publish a camera (a working ffmpeg command for this
// host) or add a source; events, faces and settings how to get some.
func TestUIEmptyStates(t *testing.T) {
	node := browserNode(t)
	v := startVigil(t, t.TempDir())
	var res struct {
		browserLog
		Pages   map[string]string `json:"pages"`
		Command string            `json:"command"`
	}
	runBrowser(t, node, "empty.mjs", 2*time.Minute, &res, "--base", "http://"+v.HTTP)
	res.check(t)
	for page, want := range map[string][]string{
		"wall":     {"No cameras yet", "rtsp://127.0.0.1:8554/", "add an RTSP source in Settings"},
		"events":   {"No events yet", "detection"},
		"faces":    {"No collections yet", "New collection"},
		"settings": {"No cameras", "No notifiers", "Add camera", "Add notifier"},
	} {
		for _, w := range want {
			if !strings.Contains(res.Pages[page], w) {
				t.Errorf("%s page: no %q in %q", page, w, res.Pages[page])
			}
		}
	}
	if !strings.HasPrefix(res.Command, "ffmpeg ") || !strings.Contains(res.Command, "-f rtsp rtsp://127.0.0.1:8554/cam1") {
		t.Errorf("wall: command %q", res.Command)
	}
}
