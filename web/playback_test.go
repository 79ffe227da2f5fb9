package web

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/fragments"
	"vigil/media"
	"vigil/playback"
	"vigil/streams"
)

// playbackFixture is the real web handler over real playback and a real
// fragment store in a data directory, with every file playback opens
// recorded.
type playbackFixture struct {
	data   string
	mu     sync.Mutex
	opened []string
	first  fragments.Fragment
}

// newPlaybackFixture records two runs of synthetic H.264 (random bytes
// behind real parameter sets: the store and playback never decode them)
// into stream cam1, 60 s apart; cam2 exists with no recording.
func newPlaybackFixture(t testing.TB) (*playbackFixture, *Server) {
	t.Helper()
	fx := &playbackFixture{data: t.TempDir()}
	st, err := fragments.Open(fragments.Config{Dir: filepath.Join(fx.data, "recordings"), FreeReserve: -1,
		RetentionEvery: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sps, _ := hex.DecodeString("6742c00bd902847e5c0440000003004000000c83c50a92")
	pps, _ := hex.DecodeString("68cb83cb20")
	track := media.Track{Codec: media.H264, ClockRate: 90000, SPS: sps, PPS: pps}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for run := range 2 {
		sink := st.Recorder("cam1")
		sink.Begin([]media.Track{track})
		for i := range 25 * 9 {
			nal := make([]byte, 200)
			nal[0] = 0x41
			if i%50 == 0 {
				nal[0] = 0x65
			}
			ts := int64(i) * 3600
			sink.Write(&media.Unit{PTS: ts, DTS: ts, Key: i%50 == 0, Payload: [][]byte{nal},
				Recv: at.Add(time.Duration(run)*time.Minute + time.Duration(i)*40*time.Millisecond)})
		}
		sink.End()
	}
	list, _ := st.Tail("cam1", 1000)
	if len(list) < 6 {
		t.Fatalf("%d fragments recorded", len(list))
	}
	fx.first = list[0]
	pb := playback.New(playback.Config{
		Store:        st,
		BlockTimeout: 20 * time.Millisecond,
		Now:          func() time.Time { return at.Add(time.Hour) },
		Open: func(name string) (*os.File, error) {
			fx.mu.Lock()
			fx.opened = append(fx.opened, name)
			fx.mu.Unlock()
			return os.Open(name)
		},
		Frame: func(mp4 io.Reader, at time.Duration, width int) ([]byte, error) {
			io.Copy(io.Discard, mp4)
			return []byte{0xff, 0xd8, 0xff, 0xd9}, nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	reg := &fakeRegistry{t: t, m: map[string]streams.Stream{"cam1": {Name: "cam1"}, "cam2": {Name: "cam2"}}}
	s := New(Config{Registry: reg, Store: st, Ingest: fakeIngest{}, Playback: pb,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return fx, s
}

// escaped checks that every file opened lies inside the data directory.
func (fx *playbackFixture) escaped() []string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	var out []string
	for _, p := range fx.opened {
		rel, err := filepath.Rel(fx.data, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			out = append(out, p)
		}
	}
	fx.opened = nil
	return out
}

func TestPlaybackRoutes(t *testing.T) {
	fx, s := newPlaybackFixture(t)
	h := s.Handler()
	t0 := "2026-11-26T10:00:00Z"
	n := strconv.FormatUint(fx.first.Number, 10)
	cases := []struct {
		target string
		status int
		code   string
	}{
		{"/hls/cam1/index.m3u8", 200, ""},
		{"/hls/cam1/index.m3u8?start=" + t0, 200, ""},
		{"/hls/cam1/index.m3u8?start=" + t0 + "&end=2026-11-26T10:02:00Z", 200, ""},
		{"/hls/cam1/index.m3u8?start=2026-11-26T10:02:00Z&end=" + t0, 400, "bad_range"},
		{"/hls/cam1/index.m3u8?start=" + t0 + "&end=2026-11-28T10:00:00Z", 413, "too_large"},
		{"/hls/cam1/index.m3u8?start=soon", 400, "bad_time"},
		{"/hls/cam1/index.m3u8?_HLS_msn=999999", 400, "bad_request"},
		{"/hls/cam2/index.m3u8", 404, "no_media"},
		{"/hls/nosuch/index.m3u8", 404, "stream_not_found"},
		{"/hls/cam1/init/" + n + ".mp4", 200, ""},
		{"/hls/cam1/seg/" + n + ".m4s", 200, ""},
		{"/hls/cam1/seg/999999.m4s", 404, "not_found"},
		{"/hls/cam1/seg/abc.m4s", 400, "bad_request"},
		{"/hls/cam1/seg/1.ts", 404, "not_found"},
		{"/hls/cam1/seg/..", 400, "invalid_path"},
		{"/hls/cam1/seg/%2e%2E", 400, "invalid_path"},
		{"/hls/../seg/1.m4s", 400, "invalid_path"},
		{"/hls/%2e%2e/index.m3u8", 400, "invalid_path"},
		{"/hls/cam1/init/..%2f..%2fx.mp4", 400, "invalid_path"},
		{"/hls/index.db/index.m3u8", 400, "invalid_name"},
		{"/hls/cam1/other", 404, "not_found"},
		{"/api/v1/streams/cam1/clip.mp4?start=" + t0 + "&end=2026-11-26T10:00:05Z", 200, ""},
		{"/api/v1/streams/cam1/clip.mp4?start=" + t0 + "&end=2026-11-26T11:00:01Z", 413, "too_large"},
		{"/api/v1/streams/cam1/clip.mp4?start=2025-01-01T00:00:00Z&end=2025-01-01T00:01:00Z", 404, "no_media"},
		{"/api/v1/streams/cam1/clip.mp4?start=x&end=y", 400, "bad_time"},
		{"/api/v1/streams/cam1/clip.mp4", 400, "bad_time"},
		{"/api/v1/streams/%2e%2e/clip.mp4", 400, "invalid_path"},
		{"/api/v1/streams/cam1/timeline", 200, ""},
		{"/api/v1/streams/cam1/timeline?start=" + t0 + "&end=2026-11-26T11:00:00Z", 200, ""},
		{"/api/v1/streams/cam1/timeline?start=2026-11-26T11:00:00Z&end=" + t0, 400, "bad_range"},
		{"/api/v1/streams/cam1/timeline?end=later", 400, "bad_time"},
		{"/api/v1/streams/nosuch/timeline", 404, "stream_not_found"},
		{"/api/v1/streams/cam1/image.jpg?at=2026-11-26T10:00:03Z", 200, ""},
		{"/api/v1/streams/cam1/image.jpg?at=2026-11-26T10:00:03Z&width=4000", 400, "bad_request"},
		{"/api/v1/streams/cam1/image.jpg?at=2026-11-26T10:00:30Z", 404, "no_media"},
		{"/api/v1/streams/cam1/image.jpg", 400, "bad_time"},
	}
	for _, c := range cases {
		w := do(h, "GET", c.target, "")
		if w.Code != c.status {
			t.Errorf("GET %s: %d, want %d: %s", c.target, w.Code, c.status, w.Body)
			continue
		}
		if c.code != "" {
			var e apiError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != c.code || e.Error == "" {
				t.Errorf("GET %s: body %s, want code %q", c.target, w.Body, c.code)
			}
		}
	}
	// The timeline shows the two runs as two spans.
	var tl struct {
		Spans []struct{ Start, End time.Time }
	}
	w := do(h, "GET", "/api/v1/streams/cam1/timeline?start="+t0+"&end=2026-11-26T11:00:00Z", "")
	if err := json.Unmarshal(w.Body.Bytes(), &tl); err != nil || len(tl.Spans) != 2 {
		t.Errorf("timeline %s: %v", w.Body, err)
	}
	if bad := fx.escaped(); len(bad) > 0 {
		t.Errorf("opened outside the data directory: %v", bad)
	}
}

// FuzzPlaybackRoutes sends arbitrary stream names, file names and query
// values through every playback route of the real handler: nothing
// panics, nothing is a 5xx, every error is JSON, and every file playback
// opens lies inside the data directory.
func FuzzPlaybackRoutes(f *testing.F) {
	routes := []string{
		"/hls/{name}/index.m3u8?{query}", "/hls/{name}/init/{file}", "/hls/{name}/seg/{file}",
		"/api/v1/streams/{name}/clip.mp4?{query}", "/api/v1/streams/{name}/timeline?{query}",
		"/api/v1/streams/{name}/image.jpg?{query}",
	}
	for i := range routes {
		for _, seed := range [][3]string{
			{"cam1", "1.m4s", ""},
			{"cam1", "1.mp4", "start=2026-11-26T10:00:00Z&end=2026-11-26T10:00:07Z"},
			{"..", "..", "start=2026-11-26T10:00:00Z"},
			{"%2e%2e", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "_HLS_msn=3"},
			{"cam1", "../../../../etc/passwd", "at=2026-11-26T10:00:01Z&width=64"},
			{"cam2", "18446744073709551615.m4s", "start=2026-11-26T10:00:00Z&end=2025-11-26T10:00:00Z"},
			{"cam1", "5.m4s", "_HLS_msn=4&_HLS_part=1"},
			{"index.db", "-1.mp4", "start=0001-01-01T00:00:00Z&end=9999-12-31T23:59:59Z"},
		} {
			f.Add(uint8(i), seed[0], seed[1], seed[2])
		}
	}
	fx, s := newPlaybackFixture(f)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, route uint8, name, file, query string) {
		target := strings.NewReplacer("{name}", name, "{file}", file, "{query}", query).Replace(routes[int(route)%len(routes)])
		if strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			return
		}
		var code int
		var body []byte
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("GET %s: panic: %v", target, r)
				}
			}()
			w := do(h, "GET", target, "")
			code, body = w.Code, w.Body.Bytes()
		}()
		if code >= 500 {
			t.Fatalf("GET %s: %d %s", target, code, body)
		}
		if code >= 400 {
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil || e.Code == "" {
				t.Fatalf("GET %s: %d with a non-JSON body %q", target, code, body)
			}
		}
		if bad := fx.escaped(); len(bad) > 0 {
			t.Fatalf("GET %s opened files outside the data directory: %v", target, bad)
		}
	})
}
