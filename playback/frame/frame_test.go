package frame

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var mediaDir string

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		fmt.Fprintln(os.Stderr, "frame tests need ffmpeg: run scripts/deps.sh test")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "vigil-frame-test-")
	if err != nil {
		panic(err)
	}
	mediaDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	mediaMu   sync.Mutex
	mediaMade = map[string]error{}
)

// fragmented makes (once) 4 s of 25 fps video as a fragmented MP4 with a
// keyframe every 2 s, so two fragments: testsrc with a band across the top
// whose luma encodes the frame's index within its GOP (16 + 4*index), so a
// test can read which frame it got.
func fragmented(t testing.TB, codec string, w, h int) []byte {
	t.Helper()
	enc := map[string][]string{
		"h264": {"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0"},
		"h265": {"-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
			"-x265-params", "keyint=50:min-keyint=50:scenecut=0:bframes=2:open-gop=0:log-level=error"},
	}[codec]
	name := filepath.Join(mediaDir, fmt.Sprintf("%s-%dx%d.mp4", codec, w, h))
	mediaMu.Lock()
	defer mediaMu.Unlock()
	err, done := mediaMade[name]
	if !done {
		args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d:rate=25", w, h),
			"-f", "lavfi", "-i", fmt.Sprintf("nullsrc=size=%dx%d:rate=25,geq=lum='16+4*mod(N\\,50)':cb=128:cr=128", w, h/5),
			"-filter_complex", "[0:v][1:v]overlay=0:0:shortest=1,format=yuv420p", "-t", "4"}
		args = append(args, enc...)
		args = append(args, "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", name)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var out []byte
		out, err = exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("ffmpeg: %w: %s", err, out)
		}
		mediaMade[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// split cuts a fragmented MP4 into its init segment (everything before the
// first moof) and its fragments (each moof with the boxes up to the next).
func split(t testing.TB, b []byte) (init []byte, frags [][]byte) {
	t.Helper()
	var starts []int
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			t.Fatalf("trailing %d bytes", len(b)-off)
		}
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			t.Fatalf("bad box size %d at %d", size, off)
		}
		if string(b[off+4:off+8]) == "moof" {
			starts = append(starts, off)
		}
		off += size
	}
	if len(starts) == 0 {
		t.Fatal("no moof box")
	}
	starts = append(starts, len(b))
	for i := 0; i+1 < len(starts); i++ {
		frags = append(frags, b[starts[i]:starts[i+1]])
	}
	return b[:starts[0]], frags
}

// stored returns init + fragment n, as vigil stores and serves a fragment.
func stored(t testing.TB, codec string, w, h, n int) []byte {
	t.Helper()
	init, frags := split(t, fragmented(t, codec, w, h))
	if n >= len(frags) {
		t.Fatalf("%s has %d fragments, want fragment %d", codec, len(frags), n)
	}
	return append(append([]byte(nil), init...), frags[n]...)
}

// frameIndex reads the index encoded in the top band of a decoded image.
// OpenCV decodes limited-range video to full-range RGB, so the band's luma
// of 16+4i becomes about 4i*255/219.
func frameIndex(img image.Image) int {
	b := img.Bounds()
	band := b.Dy() / 5
	var sum, n float64
	for y := b.Min.Y + band/4; y < b.Min.Y+band*3/4; y++ {
		for x := b.Min.X + 4; x < b.Max.X-4; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum += (float64(r) + float64(g) + float64(bl)) / 3 / 257
			n++
		}
	}
	return int(math.Round(sum / n / (4 * 255.0 / 219)))
}

func decodeJPEG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a JPEG: %v", err)
	}
	return img
}

func TestJPEGPicksTheFramePresentedAt(t *testing.T) {
	cases := []struct {
		at    time.Duration
		frame int
	}{
		{0, 0},
		{-time.Second, 0},
		{40 * time.Millisecond, 1},
		{79 * time.Millisecond, 1},
		{500 * time.Millisecond, 12},
		{1010 * time.Millisecond, 25},
		{1900 * time.Millisecond, 47},
		{1920 * time.Millisecond, 48},
		{1959 * time.Millisecond, 48},
		{1960 * time.Millisecond, 49},
		{time.Hour, 49},
	}
	for _, codec := range []string{"h264", "h265"} {
		for _, fragment := range []int{0, 1} {
			mp4 := stored(t, codec, 640, 360, fragment)
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/fragment%d/%v", codec, fragment, c.at), func(t *testing.T) {
					out, err := JPEG(bytes.NewReader(mp4), c.at, 0)
					if err != nil {
						t.Fatal(err)
					}
					img := decodeJPEG(t, out)
					if got := img.Bounds().Size(); got != image.Pt(640, 360) {
						t.Errorf("size %v, want 640x360", got)
					}
					if got := frameIndex(img); got != c.frame {
						t.Errorf("frame %d, want %d", got, c.frame)
					}
				})
			}
		}
	}
}

func TestJPEGScales(t *testing.T) {
	mp4 := stored(t, "h264", 640, 360, 1)
	cases := []struct {
		width        int
		wantW, wantH int
	}{
		{0, 640, 360},
		{320, 320, 180},
		{160, 160, 90},
		{100, 100, 56},
		{640, 640, 360},
		{1280, 1280, 720},
		{10000, MaxWidth, 2160},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.width), func(t *testing.T) {
			out, err := JPEG(bytes.NewReader(mp4), time.Second, c.width)
			if err != nil {
				t.Fatal(err)
			}
			img := decodeJPEG(t, out)
			if got := img.Bounds().Size(); got != image.Pt(c.wantW, c.wantH) {
				t.Errorf("size %v, want %dx%d", got, c.wantW, c.wantH)
			}
			if c.width >= 160 {
				if got := frameIndex(img); got != 25 {
					t.Errorf("frame %d, want 25", got)
				}
			}
		})
	}
	if _, err := JPEG(bytes.NewReader(mp4), 0, -1); err == nil {
		t.Error("negative width: no error")
	}
}

func TestJPEGDifferentOffsetsDiffer(t *testing.T) {
	mp4 := stored(t, "h264", 640, 360, 0)
	a, err := JPEG(bytes.NewReader(mp4), 200*time.Millisecond, 320)
	if err != nil {
		t.Fatal(err)
	}
	b, err := JPEG(bytes.NewReader(mp4), 1500*time.Millisecond, 320)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("frames 0.2 s and 1.5 s apart gave the same JPEG")
	}
	// Away from the index band, the test pattern itself moves: compare
	// the lower half pixel by pixel.
	ia, ib := decodeJPEG(t, a), decodeJPEG(t, b)
	var diff float64
	bd := ia.Bounds()
	for y := bd.Dy() / 2; y < bd.Dy(); y++ {
		for x := 0; x < bd.Dx(); x++ {
			ra, ga, ba, _ := ia.At(x, y).RGBA()
			rb, gb, bb, _ := ib.At(x, y).RGBA()
			diff += math.Abs(float64(ra)-float64(rb)) + math.Abs(float64(ga)-float64(gb)) + math.Abs(float64(ba)-float64(bb))
		}
	}
	if mean := diff / float64(bd.Dx()*bd.Dy()/2*3) / 257; mean < 1 {
		t.Errorf("lower halves differ by %.2f levels on average, want a visible change", mean)
	}
}

func TestJPEGUndecodable(t *testing.T) {
	init, frags := split(t, fragmented(t, "h264", 640, 360))
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	// A valid init segment followed by noise in place of the fragment.
	noisy := append(append([]byte(nil), init...), garbage...)
	cases := map[string][]byte{
		"empty":            nil,
		"garbage":          garbage,
		"text":             []byte("this is not a video\n"),
		"init only":        init,
		"init and noise":   noisy,
		"fragment only":    frags[1],
		"truncated moof":   append(append([]byte(nil), init...), frags[0][:100]...),
		"header of a moof": frags[0][:8],
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := JPEG(bytes.NewReader(in), time.Second, 320)
			if !errors.Is(err, ErrUndecodable) {
				t.Fatalf("err = %v, want ErrUndecodable", err)
			}
		})
	}
}

// A fragment cut short decodes up to where it ends, or not at all; either
// way, no crash.
func TestJPEGTruncated(t *testing.T) {
	init, frags := split(t, fragmented(t, "h264", 640, 360))
	for _, keep := range []int{len(frags[1]) / 4, len(frags[1]) / 2, len(frags[1]) - 1} {
		in := append(append([]byte(nil), init...), frags[1][:keep]...)
		out, err := JPEG(bytes.NewReader(in), time.Second, 0)
		switch {
		case errors.Is(err, ErrUndecodable):
		case err != nil:
			t.Errorf("%d of %d bytes: %v", keep, len(frags[1]), err)
		default:
			decodeJPEG(t, out)
		}
	}
}

// Images are made concurrently by HTTP handlers.
func TestJPEGConcurrent(t *testing.T) {
	mp4 := stored(t, "h264", 640, 360, 1)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			at := time.Duration(i) * 400 * time.Millisecond
			out, err := JPEG(bytes.NewReader(mp4), at, 320)
			if err != nil {
				t.Error(err)
				return
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Error(err)
				return
			}
			if got := frameIndex(img); got != i*10 {
				t.Errorf("at %v: frame %d, want %d", at, got, i*10)
			}
		})
	}
	wg.Wait()
}

// A reader that fails is an I/O error, not an undecodable video.
func TestJPEGReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := JPEG(failingReader{boom}, 0, 0)
	if !errors.Is(err, boom) || errors.Is(err, ErrUndecodable) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// BenchmarkJPEG measures one image from a stored 720p H.264 fragment, 1 s
// in, scaled to 640 wide: spooling, opening, decoding 26 frames, scaling
// and encoding.
func BenchmarkJPEG(b *testing.B) {
	mp4 := stored(b, "h264", 1280, 720, 1)
	b.SetBytes(int64(len(mp4)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := JPEG(bytes.NewReader(mp4), time.Second, 640); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}
