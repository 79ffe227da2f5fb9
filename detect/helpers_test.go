package detect

import (
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gocv.io/x/gocv"
)

// Test media: the AT&T faces and photographs that ship in the gocv module,
// and frames made with ffmpeg. Nothing is committed.

var gocvDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "gocv.io/x/gocv").Output()
	if err != nil {
		return "", fmt.Errorf("go list gocv: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// gocvFile returns the bytes of a file in the gocv module.
func gocvFile(t testing.TB, rel string) []byte {
	t.Helper()
	dir, err := gocvDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attSubjects lists the AT&T images gocv ships: s1 has 1–4, s2 1–5,
// s3 1–10 (not 10 each).
var attSubjects = map[string]int{"s1": 4, "s2": 5, "s3": 10}

func attFile(t testing.TB, subject string, i int) []byte {
	t.Helper()
	return gocvFile(t, fmt.Sprintf("contrib/att_faces/%s/%d.pgm", subject, i))
}

// decode decodes image bytes to a BGR Mat closed at the end of the test.
func decode(t testing.TB, b []byte) gocv.Mat {
	t.Helper()
	m, err := DecodeImage(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// encodePNG encodes a Mat as PNG bytes.
func encodePNG(t testing.TB, m gocv.Mat) []byte {
	t.Helper()
	buf, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...)
}

func needFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (scripts/deps.sh test)")
	}
}

// ffmpeg runs ffmpeg with args in dir.
func ffmpeg(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// testFrame makes a w×h ffmpeg testsrc frame, with gocv's face.jpg pasted
// in at faceWidth pixels wide (0: no face), as PNG bytes.
func testFrame(t testing.TB, w, h, faceWidth int) []byte {
	t.Helper()
	needFFmpeg(t)
	dir := t.TempDir()
	src := fmt.Sprintf("testsrc=size=%dx%d:rate=1", w, h)
	if faceWidth == 0 {
		ffmpeg(t, dir, "-f", "lavfi", "-i", src, "-frames:v", "1", "frame.png")
	} else {
		if err := os.WriteFile(filepath.Join(dir, "face.jpg"), gocvFile(t, "images/face.jpg"), 0o600); err != nil {
			t.Fatal(err)
		}
		ffmpeg(t, dir, "-f", "lavfi", "-i", src, "-i", "face.jpg", "-filter_complex",
			fmt.Sprintf("[1]scale=%d:-2[f];[0][f]overlay=(W-w)/2:(H-h)/2", faceWidth),
			"-frames:v", "1", "frame.png")
	}
	b, err := os.ReadFile(filepath.Join(dir, "frame.png"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := NewDetector(DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// newCollections opens a collections file in a temporary directory with
// the default detector and LBPH.
func newCollections(t testing.TB, opts ...Option) (*Collections, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "faces.db")
	c, err := OpenCollections(path, newDetector(t), NewLBPH(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// near reports whether two rectangles agree within tol pixels on every side.
func near(a, b image.Rectangle, tol int) bool {
	abs := func(v int) int {
		if v < 0 {
			return -v
		}
		return v
	}
	return abs(a.Min.X-b.Min.X) <= tol && abs(a.Min.Y-b.Min.Y) <= tol &&
		abs(a.Max.X-b.Max.X) <= tol && abs(a.Max.Y-b.Max.Y) <= tol
}
