package detect

import (
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gocv.io/x/gocv"
)

func TestDetectorFaces(t *testing.T) {
	d := newDetector(t)
	cases := []struct {
		name  string
		image func(t *testing.T) []byte
		faces int
		want  image.Rectangle // the first face, within 12 pixels
	}{
		// face-detect.jpg shows the box OpenCV's own sample drew:
		// (135,82)-(278,225).
		{"face-detect.jpg", func(t *testing.T) []byte { return gocvFile(t, "images/face-detect.jpg") }, 1, image.Rect(140, 86, 278, 224)},
		{"face.jpg", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, 1, image.Rect(236, 157, 458, 379)},
		{"face in a 1280x720 testsrc frame", func(t *testing.T) []byte { return testFrame(t, 1280, 720, 640) }, 1, image.Rect(544, 266, 790, 512)},
		{"face in a 640x360 testsrc frame", func(t *testing.T) []byte { return testFrame(t, 640, 360, 320) }, 1, image.Rect(278, 138, 389, 249)},
		{"testsrc frame", func(t *testing.T) []byte { return testFrame(t, 1280, 720, 0) }, 0, image.Rectangle{}},
		{"blank", func(t *testing.T) []byte {
			m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 480, 640, gocv.MatTypeCV8UC3)
			defer m.Close()
			return encodePNG(t, m)
		}, 0, image.Rectangle{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := decode(t, tc.image(t))
			faces := d.Detect(img)
			if len(faces) != tc.faces {
				t.Fatalf("%d faces %v, want %d", len(faces), faces, tc.faces)
			}
			if tc.faces == 0 {
				return
			}
			f := faces[0]
			if !near(f.Rect, tc.want, 12) {
				t.Errorf("face at %v, want about %v", f.Rect, tc.want)
			}
			if f.Confidence < 0.5 || f.Confidence > 1 {
				t.Errorf("confidence %v for a clear face", f.Confidence)
			}
			if got := f.Box.Rect(img.Cols(), img.Rows()); got != f.Rect {
				t.Errorf("box %+v maps back to %v, want %v", f.Box, got, f.Rect)
			}
		})
	}
}

// Grey, BGR and BGRA inputs give the same faces; so does the same frame
// at twice the size, scaled.
func TestDetectorInputs(t *testing.T) {
	d := newDetector(t)
	bgr := decode(t, gocvFile(t, "images/face.jpg"))
	want := d.Detect(bgr)
	if len(want) != 1 {
		t.Fatalf("%d faces in face.jpg", len(want))
	}
	gray, bgra, big := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer gray.Close()
	defer bgra.Close()
	defer big.Close()
	gocv.CvtColor(bgr, &gray, gocv.ColorBGRToGray)
	gocv.CvtColor(bgr, &bgra, gocv.ColorBGRToBGRA)
	gocv.Resize(bgr, &big, image.Pt(1280, 960), 0, 0, gocv.InterpolationLinear)
	for name, m := range map[string]gocv.Mat{"gray": gray, "bgra": bgra} {
		got := d.Detect(m)
		if len(got) != 1 || got[0].Rect != want[0].Rect {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	got := d.Detect(big)
	if len(got) != 1 || !near(got[0].Rect, scaleRect(want[0].Rect, 2), 6) {
		t.Errorf("1280x960: %v, want about %v", got, scaleRect(want[0].Rect, 2))
	}
	if len(got) == 1 && math.Abs(got[0].Box.Left-want[0].Box.Left) > 0.01 {
		t.Errorf("boxes differ: %+v and %+v", got[0].Box, want[0].Box)
	}
	if f := d.Detect(gocv.NewMat()); f != nil {
		t.Errorf("empty Mat: %v", f)
	}
	f32 := gocv.NewMatWithSize(100, 100, gocv.MatTypeCV32F)
	defer f32.Close()
	if f := d.Detect(f32); f != nil {
		t.Errorf("float Mat: %v", f)
	}
}

func TestDetectorConfig(t *testing.T) {
	notCascade := filepath.Join(t.TempDir(), "x.xml")
	if err := os.WriteFile(notCascade, []byte("<opencv_storage></opencv_storage>"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  DetectorConfig
	}{
		{"missing cascade", DetectorConfig{Cascade: "/nonexistent/cascade.xml"}},
		{"not a cascade", DetectorConfig{Cascade: notCascade}},
		{"scale factor 1", DetectorConfig{ScaleFactor: 1}},
		{"scale factor NaN", DetectorConfig{ScaleFactor: math.NaN()}},
		{"negative neighbours", DetectorConfig{MinNeighbors: -1}},
		{"negative size", DetectorConfig{MinSize: -5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d, err := NewDetector(tc.cfg); err == nil {
				d.Close()
				t.Fatal("no error")
			}
		})
	}
	d, err := NewDetector(DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := DetectorConfig{Cascade: DefaultCascade, ScaleFactor: 1.2, MinNeighbors: 5, MinSize: 60, MaxWidth: 640}
	if got := d.Config(); got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
}

// Detect runs concurrently (each call on its own classifier) and Close
// waits for calls in flight; Detect after Close finds nothing.
func TestDetectorConcurrent(t *testing.T) {
	d, err := NewDetector(DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, gocvFile(t, "images/face-detect.jpg"))
	want := d.Detect(img)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if got := d.Detect(img); len(got) != 1 || got[0] != want[0] {
					t.Errorf("concurrent detect: %v, want %v", got, want)
				}
			}
		}()
	}
	wg.Wait()
	d.Close()
	d.Close()
	if got := d.Detect(img); got != nil {
		t.Errorf("after Close: %v", got)
	}
	if _, err := d.detect(img); !errors.Is(err, errDetectorClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// The grouping in Go gives what OpenCV's grouping gives.
func TestGroupRectanglesMatchesOpenCV(t *testing.T) {
	cc := gocv.NewCascadeClassifier()
	defer cc.Close()
	if !cc.Load(DefaultCascade) {
		t.Fatal("load cascade")
	}
	images := map[string][]byte{
		"face.jpg":        gocvFile(t, "images/face.jpg"),
		"face-detect.jpg": gocvFile(t, "images/face-detect.jpg"),
		"att s3/1":        attFile(t, "s3", 1),
		"frame":           testFrame(t, 640, 360, 200),
	}
	for name, b := range images {
		t.Run(name, func(t *testing.T) {
			img := decode(t, b)
			gray := gocv.NewMat()
			defer gray.Close()
			gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
			for _, mn := range []int{1, 3, 5, 8} {
				for _, minSize := range []int{20, 60} {
					sz := image.Pt(minSize, minSize)
					want := cc.DetectMultiScaleWithParams(gray, 1.1, mn, 0, sz, image.Point{})
					raw := cc.DetectMultiScaleWithParams(gray, 1.1, 0, 0, sz, image.Point{})
					got := groupRectangles(raw, mn, groupEps)
					if !sameRects(got, want) {
						t.Errorf("min neighbours %d, min size %d: got %v, OpenCV %v", mn, minSize, got, want)
					}
				}
			}
		})
	}
}

func sameRects(got []group, want []image.Rectangle) bool {
	if len(got) != len(want) {
		return false
	}
	left := map[image.Rectangle]int{}
	for _, r := range want {
		left[r]++
	}
	for _, g := range got {
		if left[g.Rect] == 0 {
			return false
		}
		left[g.Rect]--
	}
	return true
}

func TestGroupRectangles(t *testing.T) {
	r := func(x, y, s int) image.Rectangle { return image.Rect(x, y, x+s, y+s) }
	cases := []struct {
		name string
		in   []image.Rectangle
		min  int
		want []group
	}{
		{"empty", nil, 3, nil},
		{"no grouping", []image.Rectangle{r(0, 0, 10)}, 0, []group{{r(0, 0, 10), 1}}},
		{"too few", []image.Rectangle{r(0, 0, 100), r(2, 2, 100)}, 2, nil},
		{"averaged", []image.Rectangle{r(0, 0, 100), r(2, 2, 100), r(4, 4, 104)}, 2, []group{{image.Rect(2, 2, 103, 103), 3}}},
		{"two faces", []image.Rectangle{r(0, 0, 50), r(1, 1, 50), r(300, 0, 60), r(301, 0, 60), r(302, 0, 60)}, 1,
			[]group{{r(0, 0, 50), 2}, {image.Rect(301, 0, 361, 60), 3}}},
		{"small inside strong", []image.Rectangle{r(0, 0, 200), r(0, 0, 200), r(0, 0, 200), r(0, 0, 200), r(0, 0, 200), r(50, 50, 40), r(50, 50, 40)}, 1,
			[]group{{r(0, 0, 200), 5}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := groupRectangles(tc.in, tc.min, groupEps)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestNeighborConfidence(t *testing.T) {
	prev := 0.0
	for n := 1; n < 100; n++ {
		c := neighborConfidence(n)
		if c <= prev || c > 1 {
			t.Fatalf("confidence(%d) = %v after %v", n, c, prev)
		}
		prev = c
	}
	if c := neighborConfidence(6); math.Abs(c-0.45) > 0.01 {
		t.Errorf("confidence(6) = %v", c)
	}
}

// A frame with nothing but black is no face, and a face on a canvas of
// another colour is still found.
func TestDetectorCanvas(t *testing.T) {
	d := newDetector(t)
	face := decode(t, attFile(t, "s2", 1))
	canvas := gocv.NewMat()
	defer canvas.Close()
	gocv.CopyMakeBorder(face, &canvas, 100, 100, 200, 200, gocv.BorderConstant, color.RGBA{R: 40, G: 90, B: 160, A: 255})
	if f := d.Detect(canvas); len(f) != 1 {
		t.Errorf("AT&T s2/1 on a canvas: %v", f)
	}
}
