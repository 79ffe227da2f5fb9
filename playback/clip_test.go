package playback

import (
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/fragments"
)

// clipFile serves a clip of [start, end) and saves it, checking the
// response headers.
func clipFile(t *testing.T, s *Server, start, end time.Time) string {
	t.Helper()
	w, err := get(t, func(w http.ResponseWriter, r *http.Request) error { return s.ServeClip(w, r, "cam") },
		"/api/v1/streams/cam/clip.mp4?start="+rfc(start)+"&end="+rfc(end))
	if err != nil {
		t.Fatal(err)
	}
	if w.Header().Get("Content-Type") != "video/mp4" || w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) ||
		!strings.HasPrefix(w.Header().Get("Content-Disposition"), `attachment; filename="cam-`) {
		t.Errorf("headers %v for %d bytes", w.Header(), w.Body.Len())
	}
	p := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(p, w.Body.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// covered sums the durations of the fragments a clip of [start, end)
// holds: from the one containing start through the one containing end.
func covered(t *testing.T, st *fragments.Store, start, end time.Time) time.Duration {
	var d time.Duration
	st.Range("cam", start, end, func(f fragments.Fragment) bool { d += f.Duration; return true })
	return d
}

// probeStart is the first video packet's presentation time.
func probeStart(t *testing.T, path string) float64 {
	var out struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			StartTime string `json:"start_time"`
		}
	}
	ffprobeJSON(t, &out, "-show_entries", "stream=codec_type,start_time", path)
	for _, s := range out.Streams {
		if s.CodecType == "video" {
			v, _ := strconv.ParseFloat(s.StartTime, 64)
			return v
		}
	}
	t.Fatalf("no video stream in %s", path)
	return 0
}

func TestClip(t *testing.T) {
	m := loadMedia(t, 20, "320x240")
	st := openStore(t, t.TempDir(), nil)
	record(st, "cam", m.tracks, m.units)
	s := New(Config{Store: st, Logger: testLogger()})

	start, end := t0.Add(3*time.Second), t0.Add(13*time.Second)
	p := clipFile(t, s, start, end)
	msg, dur := decodeSilently(t, p)
	if msg != "" {
		t.Fatalf("ffprobe -v error: %s", msg)
	}
	want := covered(t, st, start, end)
	if diff := dur - want; diff < -100*time.Millisecond || diff > 100*time.Millisecond {
		t.Errorf("clip lasts %v, its fragments %v", dur, want)
	}
	if d := end.Sub(start); dur < d || dur > d+2*2*time.Second {
		t.Errorf("clip of %v lasts %v: more than a GOP either side", d, dur)
	}
	if s0 := probeStart(t, p); math.Abs(s0) > 0.2 {
		t.Errorf("clip video starts at %.3f s, want 0", s0)
	}
	t.Logf("clip of %v: %v, fragments %v", end.Sub(start), dur, want)

	for _, c := range []struct {
		name, query string
		err         error
	}{
		{"no media", "start=" + rfc(t0.Add(-time.Hour)) + "&end=" + rfc(t0.Add(-time.Minute)), ErrNoMedia},
		{"malformed", "start=noon&end=" + rfc(t0), ErrBadTime},
		{"no end", "start=" + rfc(t0), ErrBadTime},
		{"no start", "end=" + rfc(t0), ErrBadTime},
		{"start after end", "start=" + rfc(t0.Add(time.Second)) + "&end=" + rfc(t0), ErrBadRange},
		{"over ClipMax", "start=" + rfc(t0) + "&end=" + rfc(t0.Add(time.Hour+time.Second)), ErrTooLarge},
	} {
		w, err := get(t, func(w http.ResponseWriter, r *http.Request) error { return s.ServeClip(w, r, "cam") }, "/clip.mp4?"+c.query)
		if !errors.Is(err, c.err) || w.Body.Len() != 0 || len(w.Header()) != 0 {
			t.Errorf("%s: %v (body %d bytes, headers %v), want %v", c.name, err, w.Body.Len(), w.Header(), c.err)
		}
	}
}

// A clip across two runs with the same codec configuration continues
// without the gap; across runs that differ it stops at the boundary.
func TestClipAcrossRuns(t *testing.T) {
	m := loadMedia(t, 20, "320x240")
	other := loadMedia(t, 20, "160x120")
	for _, c := range []struct {
		name   string
		second *realMedia
		joined bool
	}{{"same init", m, true}, {"other init", other, false}} {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t, t.TempDir(), nil)
			record(st, "cam", m.tracks, m.units)
			// 20 s later, the camera comes back: a new run from t0+40s.
			record(st, "cam", c.second.tracks, (&realMedia{tracks: c.second.tracks, units: c.second.units}).shifted(40*time.Second, 0))
			s := New(Config{Store: st, Logger: testLogger()})
			start, end := t0.Add(10*time.Second), t0.Add(50*time.Second)
			p := clipFile(t, s, start, end)
			msg, dur := decodeSilently(t, p)
			if msg != "" {
				t.Fatalf("ffprobe -v error: %s", msg)
			}
			want := covered(t, st, start, t0.Add(20*time.Second))
			if c.joined {
				want += covered(t, st, t0.Add(40*time.Second), end)
			}
			// A run's last fragment carries the audio buffered past its last
			// video frame, and the next run starts after the longer track.
			if diff := dur - want; diff < -150*time.Millisecond || diff > 300*time.Millisecond {
				t.Errorf("clip lasts %v, want %v", dur, want)
			}
			t.Logf("%s: clip %v, want %v", c.name, dur, want)
		})
	}
}
