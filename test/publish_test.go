package test

import (
	"math"
	"net/http"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// TestPublishRecordsEveryFrame is acceptance 2 of the ingest issue: ffmpeg
// publishes 20 s of 1280x720 25 fps video with AAC over RTSP; the fragments
// API lists fragments whose durations add up to 20 s within two frames, each
// starts on a keyframe and decodes with ffprobe silent, and their times are
// within 1 s of wall time. H.264 over TCP and H.265 over UDP run side by side.
func TestPublishRecordsEveryFrame(t *testing.T) {
	cases := []struct {
		codec, transport string
	}{
		{"h264", "tcp"},
		{"h265", "udp"},
	}
	files := map[string]string{}
	for _, c := range cases {
		files[c.codec] = camera720(t, c.codec)
	}
	v := startVigil(t, t.TempDir())

	type run struct {
		stream  string
		started time.Time
		ff      *ffproc
	}
	var runs []run
	for _, c := range cases {
		stream := "cam-" + c.codec
		started := time.Now()
		ff := startFFmpeg(t, "-re", "-i", files[c.codec], "-c", "copy", "-f", "rtsp", "-rtsp_transport", c.transport,
			"rtsp://"+v.RTSP+"/"+stream)
		runs = append(runs, run{stream, started, ff})
	}
	for _, r := range runs {
		if err := r.ff.wait(t, 60*time.Second); err != nil {
			t.Fatalf("%s: ffmpeg: %v: %s", r.stream, err, r.ff.out.String())
		}
	}

	const want = 20 * time.Second
	const frame = 40 * time.Millisecond
	for _, r := range runs {
		t.Run(r.stream, func(t *testing.T) {
			var frags []fragment
			testkit.WaitFor(t, 10*time.Second, "the last fragment after the publisher left", func() bool {
				frags = v.fragments(r.stream)
				var sum float64
				for _, f := range frags {
					sum += f.DurationMS
				}
				return math.Abs(sum-float64(want/time.Millisecond)) <= 2*float64(frame/time.Millisecond)
			})
			dir := t.TempDir()
			totalFrames := 0
			for i, f := range frags {
				if !f.Keyframe {
					t.Errorf("fragment %d: keyframe=false", f.Number)
				}
				if i > 0 && f.Number <= frags[i-1].Number {
					t.Errorf("fragment numbers not increasing: %d after %d", f.Number, frags[i-1].Number)
				}
				p := v.download(r.stream, f.Number, dir)
				if msg, n := ffprobeSilent(t, p); msg != "" {
					t.Errorf("fragment %d: ffprobe -v error printed: %s", f.Number, msg)
				} else {
					totalFrames += n
				}
				if !firstFrameIsKey(t, p) {
					t.Errorf("fragment %d does not start on a keyframe", f.Number)
				}
				// Server and producer times against wall time: the fragment's
				// media offset from the start of publishing, plus the moment
				// ffmpeg started, is when it was live.
				var offset time.Duration
				for _, g := range frags[:i] {
					offset += time.Duration(g.DurationMS * float64(time.Millisecond))
				}
				live := r.started.Add(offset)
				if d := f.ServerTime.Sub(live); d < -time.Second || d > time.Second {
					t.Errorf("fragment %d: server_time %v is %v from wall time %v", f.Number, f.ServerTime, d, live)
				}
				if f.ProducerTime == nil {
					t.Errorf("fragment %d: no producer_time (ffmpeg sends RTCP sender reports)", f.Number)
				} else if d := f.ProducerTime.Sub(live); d < -time.Second || d > time.Second {
					t.Errorf("fragment %d: producer_time %v is %v from wall time %v", f.Number, *f.ProducerTime, d, live)
				}
			}
			if totalFrames != 500 {
				t.Errorf("fragments hold %d decodable frames, want 500 (20 s at 25 fps)", totalFrames)
			}
			t.Logf("%s: %d fragments, %d frames", r.stream, len(frags), totalFrames)

			var st struct {
				Status struct {
					Codec  string `json:"codec"`
					Width  int    `json:"width"`
					Height int    `json:"height"`
				} `json:"status"`
			}
			if code := v.getJSON("/api/v1/streams/"+r.stream, &st); code != http.StatusOK {
				t.Fatalf("GET stream: %d", code)
			}
			if st.Status.Width != 1280 || st.Status.Height != 720 {
				t.Errorf("status size %dx%d, want 1280x720", st.Status.Width, st.Status.Height)
			}
		})
	}
}
