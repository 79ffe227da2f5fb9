package detect

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// sampled runs sampleFrames over video at fps and returns the offsets, in
// milliseconds, of the frames it sampled.
func sampled(t *testing.T, video []byte, fps float64) []int64 {
	t.Helper()
	path, err := spoolFragment(bytes.NewReader(video), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	var got []int64
	err = sampleFrames(context.Background(), path, fps, func(off time.Duration, frame gocv.Mat) error {
		if frame.Cols() != 640 || frame.Rows() != 360 {
			t.Errorf("frame %dx%d", frame.Cols(), frame.Rows())
		}
		got = append(got, off.Milliseconds())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Frames are sampled at the stream's rate on presentation time, from the
// first frame; the frames flushed at the end (B-frames, which OpenCV
// reports at 0) keep their place in time.
func TestSampleFrames(t *testing.T) {
	video := faceVideo(t, "", 0, 0, 640, 360) // 2 s at 25 fps: frames every 40 ms
	every := make([]int64, 50)
	for i := range every {
		every[i] = int64(40 * i)
	}
	for _, c := range []struct {
		fps  float64
		want []int64
	}{
		{2, []int64{0, 520, 1000, 1520}},
		{1, []int64{0, 1000}},
		{0.25, []int64{0}},
		{5, []int64{0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800}},
		{30, every}, // faster than the video: every frame once
	} {
		if got := sampled(t, video, c.fps); !slices.Equal(got, c.want) {
			t.Errorf("fps %v: sampled %v, want %v", c.fps, got, c.want)
		}
	}
}

func TestSampleFramesStops(t *testing.T) {
	video := faceVideo(t, "", 0, 0, 640, 360)
	path, err := spoolFragment(bytes.NewReader(video), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	stop := errors.New("stop")
	n := 0
	err = sampleFrames(context.Background(), path, 2, func(time.Duration, gocv.Mat) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("error from fn: %v after %d frames", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sampleFrames(ctx, path, 2, func(time.Duration, gocv.Mat) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// Only an MP4 within the size limit reaches OpenCV; an MP4 header on
// garbage is refused by OpenCV without harm.
func TestSpoolFragment(t *testing.T) {
	video := faceVideo(t, "", 0, 0, 640, 360)
	ftypJunk := append([]byte{0, 0, 0, 24, 'f', 't', 'y', 'p'}, bytes.Repeat([]byte("junk"), 1000)...)
	for _, c := range []struct {
		name   string
		in     []byte
		limit  int64
		spool  error // from spoolFragment
		decode error // from sampleFrames
	}{
		{"mp4", video, 1 << 20, nil, nil},
		{"mp4 at the limit", video, int64(len(video)), nil, nil},
		{"mp4 over the limit", video, int64(len(video)) - 1, ErrUndecodable, nil},
		{"empty", nil, 1 << 20, ErrUndecodable, nil},
		{"short", []byte("ftyp"), 1 << 20, ErrUndecodable, nil},
		{"text", []byte("#EXTM3U\n#EXT-X-VERSION:3\nhttp://example.com/x.ts\n"), 1 << 20, ErrUndecodable, nil},
		{"html", []byte("<html><body>not found</body></html>"), 1 << 20, ErrUndecodable, nil},
		{"ftyp then junk", ftypJunk, 1 << 20, nil, ErrUndecodable},
		{"init segment only", video[:800], 1 << 20, nil, ErrUndecodable},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, err := spoolFragment(bytes.NewReader(c.in), c.limit)
			if !errors.Is(err, c.spool) || (err == nil) != (c.spool == nil) {
				t.Fatalf("spool: %v, want %v", err, c.spool)
			}
			if err != nil {
				if !strings.Contains(err.Error(), ErrUndecodable.Error()) {
					t.Errorf("error %q", err)
				}
				return
			}
			defer os.Remove(path)
			err = sampleFrames(context.Background(), path, 2, func(time.Duration, gocv.Mat) error { return nil })
			if !errors.Is(err, c.decode) || (err == nil) != (c.decode == nil) {
				t.Fatalf("decode: %v, want %v", err, c.decode)
			}
		})
	}
}
