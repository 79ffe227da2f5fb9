package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// camera66 is 66 s of 640x360 25 fps H.264 (2 s closed GOPs, B-frames) with
// AAC, so that a 60 s window exists after one publish.
func camera66(t *testing.T) string {
	return media(t, "cam360-66s.mkv", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "66", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-bf", "2",
		"-c:a", "aac", "-b:a", "64k", "-f", "matroska")
}

// camera10 is 10 s of the same.
func camera10(t *testing.T) string {
	return media(t, "cam360-10s.mkv", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-bf", "2",
		"-c:a", "aac", "-b:a", "64k", "-f", "matroska")
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// get fetches a URL and returns the status, headers and body.
func get(t *testing.T, u string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// mediaPlaylist fetches and parses a media playlist.
func (v *vigil) mediaPlaylist(t *testing.T, path string) (*playlist.Media, string) {
	t.Helper()
	code, _, body := get(t, v.url(path))
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var m playlist.Media
	if err := m.Unmarshal(body); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return &m, string(body)
}

// pullHLS has ffmpeg copy an HLS playlist into an MP4 file, as a client
// downloading a recording would.
func pullHLS(t *testing.T, u string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pulled.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", u, "-c", "copy", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg -i %s: %v: %s", u, err, b)
	}
	return out
}

// formatDuration is ffprobe's idea of a file's duration.
func formatDuration(t *testing.T, path string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var sec float64
	fmt.Sscanf(strings.TrimSpace(string(out)), "%f", &sec)
	return time.Duration(sec * float64(time.Second))
}

// windowMedia sums the media of the fragments overlapping [start, end) (zero
// times are unbounded) and reports whether they abut, within 50 ms.
func windowMedia(frags []fragment, start, end time.Time) (time.Duration, bool) {
	var sum time.Duration
	continuous := true
	var prevEnd time.Time
	for _, f := range frags {
		d := time.Duration(f.DurationMS * float64(time.Millisecond))
		if !end.IsZero() && !f.ServerTime.Before(end) || !start.IsZero() && !f.ServerTime.Add(d).After(start) {
			continue
		}
		if !prevEnd.IsZero() && !near(f.ServerTime.Sub(prevEnd), 0, 50*time.Millisecond) {
			continuous = false
		}
		sum += d
		prevEnd = f.ServerTime.Add(d)
	}
	return sum, continuous
}

func near(d, want, tol time.Duration) bool { return math.Abs(float64(d-want)) <= float64(tol) }

// TestPlayback is acceptance 3, 5 and 6 of the playback issue. ffmpeg
// publishes 66 s once; while it does, the live playlist and a blocking
// reload are checked; then ffmpeg pulls a 60 s on-demand window and a 30 s
// clip is downloaded, both judged by ffprobe; then hostile and malformed
// requests on every playback route get the right 4xx JSON errors.
func TestPlayback(t *testing.T) {
	t.Parallel()
	cam := camera66(t)
	v := startVigil(t, t.TempDir())
	ff := startFFmpeg(t, "-re", "-i", cam, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+v.RTSP+"/cam")
	testkit.WaitFor(t, 20*time.Second, "three fragments", func() bool { return len(v.fragments("cam")) >= 3 })

	t.Run("live", func(t *testing.T) {
		m, body := v.mediaPlaylist(t, "/hls/cam/index.m3u8")
		if len(m.Segments) == 0 || m.Endlist || m.ServerControl == nil || !m.ServerControl.CanBlockReload || m.Map == nil {
			t.Fatalf("live playlist:\n%s", body)
		}
		last := m.MediaSequence + len(m.Segments) - 1
		// Blocking reload: the next segment, as soon as it exists.
		began := time.Now()
		m2, body2 := v.mediaPlaylist(t, fmt.Sprintf("/hls/cam/index.m3u8?_HLS_msn=%d", last+1))
		if got := m2.MediaSequence + len(m2.Segments) - 1; got < last+1 || time.Since(began) > 5*time.Second {
			t.Fatalf("_HLS_msn=%d answered after %v with last segment %d:\n%s", last+1, time.Since(began), got, body2)
		}
		t.Logf("blocking reload for segment %d answered after %v", last+1, time.Since(began).Round(time.Millisecond))
		// The init segment followed by the newest segment decodes.
		seg := m2.Segments[len(m2.Segments)-1]
		_, _, init := get(t, v.url("/hls/cam/"+m2.Map.URI))
		code, hdr, frag := get(t, v.url("/hls/cam/"+seg.URI))
		if code != 200 || hdr.Get("Cache-Control") != "public, max-age=31536000, immutable" || hdr.Get("ETag") == "" {
			t.Fatalf("segment %s: %d %v", seg.URI, code, hdr)
		}
		p := filepath.Join(t.TempDir(), "live.mp4")
		os.WriteFile(p, append(init, frag...), 0o644)
		if msg, n := ffprobeSilent(t, p); msg != "" || n == 0 {
			t.Errorf("init + %s: %d frames, ffprobe: %s", seg.URI, n, msg)
		}
		// A byte range of it.
		code, hdr, part := get(t, v.url("/hls/cam/"+seg.URI), "Range", "bytes=100-199")
		if code != http.StatusPartialContent || string(part) != string(frag[100:200]) || hdr.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(frag)) {
			t.Errorf("range: %d %v", code, hdr)
		}
	})

	if err := ff.wait(t, 100*time.Second); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, ff.out.String())
	}
	var frags []fragment
	testkit.WaitFor(t, 10*time.Second, "the last fragment", func() bool {
		frags = v.fragments("cam")
		var sum float64
		for _, f := range frags {
			sum += f.DurationMS
		}
		return sum >= 65500
	})
	start := frags[1].ServerTime
	end := start.Add(60*time.Second - 100*time.Millisecond)
	// What the store holds for [start, end): one continuous publish is
	// stored as abutting fragments, whatever delays it met on the way.
	recorded, continuous := windowMedia(frags, start, end)
	if !continuous {
		t.Errorf("one continuous publish was stored with gaps or overlaps: %+v", frags)
	}

	t.Run("vod pulled by ffmpeg", func(t *testing.T) {
		q := "start=" + url.QueryEscape(rfc3339(start)) + "&end=" + url.QueryEscape(rfc3339(end))
		m, body := v.mediaPlaylist(t, "/hls/cam/index.m3u8?"+q)
		if !m.Endlist || m.PlaylistType == nil || *m.PlaylistType != playlist.MediaPlaylistTypeVOD {
			t.Fatalf("VOD playlist:\n%s", body)
		}
		p := pullHLS(t, v.url("/hls/cam/index.m3u8?"+q))
		d := formatDuration(t, p)
		if !near(d, recorded, 300*time.Millisecond) {
			t.Errorf("VOD pulled as %v, the store holds %v in the window", d, recorded)
		}
		if !near(d, 60*time.Second, 2*time.Second) {
			t.Errorf("VOD of 60 s pulled as %v", d)
		}
		if msg, n := ffprobeSilent(t, p); msg != "" || math.Abs(float64(n)-d.Seconds()*25) > 25 {
			t.Errorf("VOD of %v: %d frames, ffprobe: %s", d, n, msg)
		}
		t.Logf("60 s VOD pulled by ffmpeg: %v (recorded %v, continuous %v), %d segments", d, recorded, continuous, len(m.Segments))
	})

	t.Run("clip", func(t *testing.T) {
		u := v.url("/api/v1/streams/cam/clip.mp4?start=" + url.QueryEscape(rfc3339(start)) + "&end=" + url.QueryEscape(rfc3339(start.Add(30*time.Second))))
		code, hdr, body := get(t, u)
		if code != 200 || hdr.Get("Content-Type") != "video/mp4" || !strings.HasPrefix(hdr.Get("Content-Disposition"), `attachment; filename="cam-`) {
			t.Fatalf("clip: %d %v", code, hdr)
		}
		p := filepath.Join(t.TempDir(), "clip.mp4")
		os.WriteFile(p, body, 0o644)
		// One GOP either way, and the audio that trails the last frame.
		d := formatDuration(t, p)
		if !near(d, 30*time.Second, 2*time.Second+250*time.Millisecond) {
			t.Errorf("30 s clip lasts %v", d)
		}
		t.Logf("30 s clip: %v, %d bytes", d, len(body))
		if msg, n := ffprobeSilent(t, p); msg != "" || math.Abs(float64(n)-d.Seconds()*25) > 25 {
			t.Errorf("clip of %v: %d frames, ffprobe: %s", d, n, msg)
		}
		if !firstFrameIsKey(t, p) {
			t.Errorf("clip does not start on a keyframe")
		}
	})

	t.Run("timeline and image", func(t *testing.T) {
		var tl struct {
			Spans []struct{ Start, End time.Time }
		}
		if code := v.getJSON("/api/v1/streams/cam/timeline", &tl); code != 200 || len(tl.Spans) == 0 {
			t.Fatalf("timeline: %d %+v", code, tl)
		}
		if d := tl.Spans[0].End.Sub(tl.Spans[0].Start); len(tl.Spans) != 1 || !near(d, 66*time.Second, time.Second) {
			t.Errorf("timeline %+v, want one span of 66 s", tl.Spans)
		}
		code, hdr, body := get(t, v.url("/api/v1/streams/cam/image.jpg?width=320&at="+url.QueryEscape(rfc3339(start.Add(5*time.Second)))))
		if code != 200 || hdr.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("image.jpg: %d %v %q", code, hdr, body[:min(len(body), 200)])
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 180 {
			t.Errorf("image.jpg is not a 320x180 JPEG: %v %v", err, img)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		old := "start=" + url.QueryEscape(rfc3339(start.Add(-24*time.Hour))) + "&end=" + url.QueryEscape(rfc3339(start.Add(-23*time.Hour)))
		s, e := url.QueryEscape(rfc3339(start)), url.QueryEscape(rfc3339(start.Add(10*time.Second)))
		routes := []string{"/hls/cam/index.m3u8", "/hls/cam/init/1.mp4", "/hls/cam/seg/1.m4s",
			"/api/v1/streams/cam/clip.mp4", "/api/v1/streams/cam/timeline", "/api/v1/streams/cam/image.jpg"}
		for _, r := range routes {
			segs := strings.Split(strings.TrimPrefix(r, "/"), "/")
			for i := range segs {
				for _, evil := range []string{"..", "%2e%2e", "%2E.", ".", "..%2f..%2fetc", "%2e%2e%5cx"} {
					bad := append([]string(nil), segs...)
					bad[i] = evil
					target := "/" + strings.Join(bad, "/")
					code, body := rawRequest(t, v.HTTP, "GET", target)
					var e struct{ Error, Code string }
					if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Code == "" {
						t.Errorf("GET %s: %d %s, want 400 JSON", target, code, body)
					}
				}
			}
		}
		for _, c := range []struct {
			target string
			status int
			code   string
		}{
			{"/hls/nosuch/index.m3u8", 404, "stream_not_found"},
			{"/hls/nosuch/seg/1.m4s", 404, "stream_not_found"},
			{"/api/v1/streams/nosuch/clip.mp4?start=" + s + "&end=" + e, 404, "stream_not_found"},
			{"/hls/cam/index.m3u8?" + old, 404, "no_media"},
			{"/hls/cam/index.m3u8?start=" + e + "&end=" + s, 400, "bad_range"},
			{"/hls/cam/index.m3u8?start=" + s + "&end=" + url.QueryEscape(rfc3339(start.Add(25*time.Hour))), 413, "too_large"},
			{"/hls/cam/index.m3u8?start=monday", 400, "bad_time"},
			{"/hls/cam/seg/999999999.m4s", 404, "not_found"},
			{"/hls/cam/seg/x.m4s", 400, "bad_request"},
			{"/api/v1/streams/cam/clip.mp4?" + old, 404, "no_media"},
			{"/api/v1/streams/cam/clip.mp4?start=" + s + "&end=noon", 400, "bad_time"},
			{"/api/v1/streams/cam/clip.mp4?start=" + e + "&end=" + s, 400, "bad_range"},
			{"/api/v1/streams/cam/clip.mp4?start=" + s + "&end=" + url.QueryEscape(rfc3339(start.Add(time.Hour+time.Second))), 413, "too_large"},
			{"/api/v1/streams/cam/timeline?start=" + e + "&end=" + s, 400, "bad_range"},
			{"/api/v1/streams/cam/image.jpg?at=" + s + "&width=9999", 400, "bad_request"},
			{"/api/v1/streams/cam/image.jpg?at=soon", 400, "bad_time"},
			{"/api/v1/streams/cam/image.jpg?at=" + url.QueryEscape(rfc3339(start.Add(-time.Hour))), 404, "no_media"},
		} {
			code, body := rawRequest(t, v.HTTP, "GET", c.target)
			var e struct{ Error, Code string }
			if code != c.status || json.Unmarshal([]byte(body), &e) != nil || e.Code != c.code {
				t.Errorf("GET %s: %d %s, want %d %s", c.target, code, body, c.status, c.code)
			}
		}
	})
}

// TestPlaybackAcrossAGap is acceptance 4: a camera publishes 10 s, stops
// for 10 s and publishes 10 s more. The timeline shows two spans, the
// on-demand playlist over both has a discontinuity, and ffmpeg pulling it
// gets about 20 s that decode silently.
func TestPlaybackAcrossAGap(t *testing.T) {
	t.Parallel()
	cam := camera10(t)
	v := startVigil(t, t.TempDir())
	began := time.Now()
	for i := range 2 {
		if i == 1 {
			time.Sleep(10 * time.Second)
		}
		ff := startFFmpeg(t, "-re", "-i", cam, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+v.RTSP+"/gap")
		if err := ff.wait(t, 40*time.Second); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, ff.out.String())
		}
	}
	testkit.WaitFor(t, 10*time.Second, "20 s recorded", func() bool {
		var sum float64
		for _, f := range v.fragments("gap") {
			sum += f.DurationMS
		}
		return sum >= 19900
	})
	from, to := began.Add(-5*time.Second), time.Now()
	var tl struct {
		Spans []struct{ Start, End time.Time }
	}
	q := "start=" + url.QueryEscape(rfc3339(from)) + "&end=" + url.QueryEscape(rfc3339(to))
	if code := v.getJSON("/api/v1/streams/gap/timeline?"+q, &tl); code != 200 || len(tl.Spans) != 2 {
		t.Fatalf("timeline: %d %+v, want two spans", code, tl)
	}
	if g := tl.Spans[1].Start.Sub(tl.Spans[0].End); g < 8*time.Second || g > 14*time.Second {
		t.Errorf("gap of %v between the spans", g)
	}
	m, body := v.mediaPlaylist(t, "/hls/gap/index.m3u8?"+q)
	// The second run's EXT-X-MAP comes right after a discontinuity.
	maps := strings.Split(body, "#EXT-X-MAP:")
	if len(maps) != 3 || !strings.HasSuffix(maps[1], "#EXT-X-DISCONTINUITY\n") || !m.Endlist {
		t.Errorf("VOD across the gap: want a discontinuity before the second run's EXT-X-MAP:\n%s", body)
	}
	p := pullHLS(t, v.url("/hls/gap/index.m3u8?"+q))
	if d := formatDuration(t, p); !near(d, 20*time.Second, time.Second) {
		t.Errorf("VOD across the gap pulled as %v, want about 20 s", d)
	}
	if msg, n := ffprobeSilent(t, p); msg != "" || n < 490 {
		t.Errorf("VOD across the gap: %d frames, ffprobe: %s", n, msg)
	}
}
