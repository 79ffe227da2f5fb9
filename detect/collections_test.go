package detect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

func TestValidateID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"staff", true},
		{"A-z_0.9", true},
		{"...", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../etc", false},
		{"a/b", false},
		{`a\b`, false},
		{"a b", false},
		{"a\x00b", false},
		{"%2e%2e", false},
		{"staff\n", false},
		{"café", false},
		{strings.Repeat("x", 129), false},
	}
	c, _ := newCollections(t)
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.id), func(t *testing.T) {
			err := ValidateID(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateID: %v", err)
			}
			_, err = c.Create(tc.id, 0)
			if tc.ok && err != nil {
				t.Fatalf("Create: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Create: %v, want ErrInvalidID", err)
			}
		})
	}
}

func TestCollectionsCRUD(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	c, path := newCollections(t, WithClock(func() time.Time { return now }))
	staff, err := c.Create("staff", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Collection{ID: "staff", Threshold: DefaultThreshold, Recognizer: NewLBPH().Name(), Created: now}
	if staff != want {
		t.Errorf("created %+v, want %+v", staff, want)
	}
	if _, err := c.Create("staff", 0.5); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v", err)
	}
	for _, th := range []float64{-0.1, 1.01, math.NaN(), math.Inf(1)} {
		if _, err := c.Create("bad", th); !errors.Is(err, ErrInvalidThreshold) {
			t.Errorf("threshold %v: %v", th, err)
		}
	}
	if _, err := c.Create("vip", 0.95); err != nil {
		t.Fatal(err)
	}
	if got, err := c.SetThreshold("vip", 0.9); err != nil || got.Threshold != 0.9 {
		t.Errorf("set threshold: %+v %v", got, err)
	}
	if _, err := c.SetThreshold("nope", 0.9); !errors.Is(err, ErrNotFound) {
		t.Errorf("set threshold of unknown: %v", err)
	}
	list := c.List()
	if len(list) != 2 || list[0].ID != "staff" || list[1].ID != "vip" || list[1].Threshold != 0.9 {
		t.Errorf("list %+v", list)
	}
	if err := c.Delete("staff"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{c.Delete("staff"), func() error { _, err := c.Get("staff"); return err }()} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
	}

	// Reopened, the file holds the same.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := OpenCollections(path, newDetector(t), NewLBPH())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got := c2.List(); len(got) != 1 || got[0] != (Collection{ID: "vip", Threshold: 0.9, Recognizer: NewLBPH().Name(), Created: now}) {
		t.Errorf("after reopen: %+v", got)
	}
}

// twoFaces is face.jpg and face-detect.jpg side by side: two faces of
// different sizes.
func twoFaces(t *testing.T) []byte {
	a := decode(t, gocvFile(t, "images/face.jpg"))
	b := decode(t, gocvFile(t, "images/face-detect.jpg"))
	canvas := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(200, 200, 200, 0), 480, 1100, gocv.MatTypeCV8UC3)
	defer canvas.Close()
	left := canvas.Region(image.Rect(0, 0, 640, 480))
	a.CopyTo(&left)
	left.Close()
	right := canvas.Region(image.Rect(680, 80, 1080, 400))
	b.CopyTo(&right)
	right.Close()
	return encodePNG(t, canvas)
}

func blurred(t *testing.T, b []byte, sigma float64) []byte {
	img := decode(t, b)
	out := gocv.NewMat()
	defer out.Close()
	gocv.GaussianBlur(img, &out, image.Point{}, sigma, sigma, gocv.BorderDefault)
	return encodePNG(t, out)
}

func TestIndexFaces(t *testing.T) {
	cases := []struct {
		name      string
		opts      []Option
		image     func(t *testing.T) []byte
		o         IndexOptions
		indexed   int
		unindexed [][]string // reasons, in order
	}{
		{"one face", nil, func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, IndexOptions{ExternalID: "author"}, 1, nil},
		{"tight AT&T crop", nil, func(t *testing.T) []byte { return attFile(t, "s2", 4) }, IndexOptions{ExternalID: "s2"}, 1, nil},
		{"two faces", nil, twoFaces, IndexOptions{ExternalID: "twins"}, 2, nil},
		{"largest of two", nil, twoFaces, IndexOptions{Largest: true}, 1, [][]string{{ReasonTooMany}}},
		{"max faces 1", nil, twoFaces, IndexOptions{MaxFaces: 1}, 1, [][]string{{ReasonTooMany}}},
		{"max faces 5", nil, twoFaces, IndexOptions{MaxFaces: 5}, 2, nil},
		{"too small", []Option{WithMinFaceSize(150)}, twoFaces, IndexOptions{}, 1, [][]string{{ReasonTooSmall}}},
		{"all too small", []Option{WithMinFaceSize(1000)}, twoFaces, IndexOptions{}, 0, [][]string{{ReasonTooSmall}, {ReasonTooSmall}}},
		{"blurred", nil, func(t *testing.T) []byte { return blurred(t, gocvFile(t, "images/face.jpg"), 4) }, IndexOptions{}, 0, [][]string{{ReasonTooBlurred}}},
		{"blurred, check off", []Option{WithMinSharpness(-1)}, func(t *testing.T) []byte { return blurred(t, gocvFile(t, "images/face.jpg"), 4) }, IndexOptions{}, 1, nil},
		{"small and blurred", []Option{WithMinFaceSize(1000)}, func(t *testing.T) []byte { return blurred(t, gocvFile(t, "images/face.jpg"), 4) }, IndexOptions{}, 0, [][]string{{ReasonTooSmall, ReasonTooBlurred}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCollections(t, tc.opts...)
			if _, err := c.Create("people", 0); err != nil {
				t.Fatal(err)
			}
			faces, un, err := c.IndexFaces("people", tc.image(t), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(faces) != tc.indexed || len(un) != len(tc.unindexed) {
				t.Fatalf("indexed %+v, unindexed %+v", faces, un)
			}
			for i, u := range un {
				if fmt.Sprint(u.Reasons) != fmt.Sprint(tc.unindexed[i]) {
					t.Errorf("unindexed %d: reasons %v, want %v", i, u.Reasons, tc.unindexed[i])
				}
				if u.Box.Width <= 0 || u.Box.Left < 0 || u.Box.Left+u.Box.Width > 1 {
					t.Errorf("unindexed box %+v", u.Box)
				}
			}
			for i, f := range faces {
				if !strings.HasPrefix(f.FaceID, "f_") || f.ExternalID != tc.o.ExternalID || f.Confidence <= 0 || f.Confidence > 1 {
					t.Errorf("face %+v", f)
				}
				if i > 0 && f.Box.Width*f.Box.Height > faces[i-1].Box.Width*faces[i-1].Box.Height {
					t.Errorf("faces not largest first: %+v", faces)
				}
				if f.Box.Left < 0 || f.Box.Top < 0 || f.Box.Left+f.Box.Width > 1.0000001 || f.Box.Top+f.Box.Height > 1.0000001 {
					t.Errorf("box %+v outside the image", f.Box)
				}
			}
			listed, err := c.Faces("people")
			if err != nil || len(listed) != len(faces) {
				t.Fatalf("listed %+v, %v", listed, err)
			}
			if got, _ := c.Get("people"); got.Faces != len(faces) {
				t.Errorf("face count %d, want %d", got.Faces, len(faces))
			}
		})
	}
}

// pngHeader is a PNG whose header claims w×h pixels (and no pixel data).
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR data starts at 16: width, height; its CRC covers type and data.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestBadInput(t *testing.T) {
	c, _ := newCollections(t)
	if _, err := c.Create("people", 0); err != nil {
		t.Fatal(err)
	}
	blank := func(t *testing.T) []byte {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 255, 255, 0), 480, 640, gocv.MatTypeCV8UC3)
		defer m.Close()
		return encodePNG(t, m)
	}
	cases := []struct {
		name       string
		collection string
		image      func(t *testing.T) []byte
		external   string
		err        error
		message    string // part of the error's text
	}{
		{"text", "people", func(*testing.T) []byte { return []byte("hello, this is not an image") }, "", ErrNotImage, "not an image"},
		{"empty", "people", func(*testing.T) []byte { return nil }, "", ErrNotImage, ""},
		{"truncated JPEG", "people", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg")[:300] }, "", ErrNotImage, ""},
		{"PNG signature only", "people", func(*testing.T) []byte { return []byte("\x89PNG\r\n\x1a\n") }, "", ErrNotImage, ""},
		{"PNG claiming 100000x100000", "people", func(*testing.T) []byte { return pngHeader(100000, 100000) }, "", ErrImageTooLarge, "100000x100000"},
		{"PNG claiming 2000000x1", "people", func(*testing.T) []byte { return pngHeader(2000000, 1) }, "", ErrImageTooLarge, ""},
		{"PGM claiming 50000x50000", "people", func(*testing.T) []byte { return []byte("P5\n50000 50000\n255\n\x00\x00") }, "", ErrImageTooLarge, ""},
		{"blank image", "people", blank, "", ErrNoFace, "no face found in the 640x480 image"},
		{"testsrc frame", "people", func(t *testing.T) []byte { return testFrame(t, 640, 360, 0) }, "", ErrNoFace, "640x360"},
		{"unknown collection", "nobody", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, "", ErrNotFound, `"nobody"`},
		{"hostile collection", "../people", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, "", ErrNotFound, ""},
		{"control character in external id", "people", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, "a\nb", ErrInvalidExternal, ""},
		{"long external id", "people", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, strings.Repeat("x", 256), ErrInvalidExternal, ""},
		{"external id not UTF-8", "people", func(t *testing.T) []byte { return gocvFile(t, "images/face.jpg") }, "\xff", ErrInvalidExternal, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.image(t)
			_, _, err := c.IndexFaces(tc.collection, img, IndexOptions{ExternalID: tc.external})
			if !errors.Is(err, tc.err) || !strings.Contains(fmt.Sprint(err), tc.message) {
				t.Errorf("IndexFaces: %v, want %v with %q", err, tc.err, tc.message)
			}
			if tc.external != "" {
				return
			}
			_, err = c.Search(tc.collection, img, 1)
			if !errors.Is(err, tc.err) {
				t.Errorf("Search: %v, want %v", err, tc.err)
			}
		})
	}
	if faces, _ := c.Faces("people"); len(faces) != 0 {
		t.Errorf("bad input enrolled %+v", faces)
	}
	for name, err := range map[string]error{
		"Faces":      func() error { _, err := c.Faces("nobody"); return err }(),
		"DeleteFace": c.DeleteFace("nobody", "f_1"),
		"face":       c.DeleteFace("people", "f_1"),
		"Delete":     c.Delete("nobody"),
		"Get":        func() error { _, err := c.Get("nobody"); return err }(),
		"FaceCrop":   func() error { _, err := c.FaceCrop("people", "f_1"); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

// Enrolled faces survive a restart; deleting a face removes its template
// from memory and from the file, and its crop.
func TestFacesPersistAndDelete(t *testing.T) {
	c, path := newCollections(t)
	if _, err := c.Create("staff", 0); err != nil {
		t.Fatal(err)
	}
	author, _, err := c.IndexFaces("staff", gocvFile(t, "images/face.jpg"), IndexOptions{ExternalID: "author", KeepCrop: true})
	if err != nil {
		t.Fatal(err)
	}
	s3, _, err := c.IndexFaces("staff", attFile(t, "s3", 1), IndexOptions{ExternalID: "s3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("pairs", 0); err != nil {
		t.Fatal(err)
	}
	var pairs []IndexedFace
	for range 3 {
		faces, _, err := c.IndexFaces("pairs", twoFaces(t), IndexOptions{})
		if err != nil || len(faces) != 2 {
			t.Fatalf("two faces: %+v %v", faces, err)
		}
		pairs = append(pairs, faces...)
	}
	crop, err := c.FaceCrop("staff", author[0].FaceID)
	if err != nil {
		t.Fatal(err)
	}
	if m := decode(t, crop); m.Cols() < 150 || m.Cols() > 300 {
		t.Errorf("crop %dx%d", m.Cols(), m.Rows())
	}
	if _, err := c.FaceCrop("staff", s3[0].FaceID); !errors.Is(err, ErrNotFound) {
		t.Errorf("crop kept without KeepCrop: %v", err)
	}
	probe := gocvFile(t, "images/face-detect.jpg")
	search := func(c *Collections) []Match {
		t.Helper()
		res, err := c.Search("staff", probe, 5)
		if err != nil || len(res) != 1 {
			t.Fatalf("search: %+v %v", res, err)
		}
		return res[0].Matches
	}
	before := search(c)
	if len(before) != 1 || before[0].FaceID != author[0].FaceID || before[0].ExternalID != "author" {
		t.Fatalf("matches %+v", before)
	}
	c.Close()

	c, err = OpenCollections(path, newDetector(t), NewLBPH())
	if err != nil {
		t.Fatal(err)
	}
	faces, err := c.Faces("staff")
	if err != nil || len(faces) != 2 || faces[0].FaceID != author[0].FaceID || faces[1].FaceID != s3[0].FaceID {
		t.Fatalf("after reopen: %+v %v", faces, err)
	}
	if faces[0] != author[0] {
		t.Errorf("face %+v, want %+v", faces[0], author[0])
	}
	if got, _ := c.Faces("pairs"); fmt.Sprint(got) != fmt.Sprint(pairs) {
		t.Errorf("after reopen, in another order:\n%v\nwant\n%v", got, pairs)
	}
	if after := search(c); len(after) != 1 || after[0] != before[0] {
		t.Errorf("after reopen %+v, before %+v", after, before)
	}
	if err := c.DeleteFace("staff", author[0].FaceID); err != nil {
		t.Fatal(err)
	}
	if m := search(c); len(m) != 0 {
		t.Errorf("deleted face still matches: %+v", m)
	}
	if _, err := c.FaceCrop("staff", author[0].FaceID); !errors.Is(err, ErrNotFound) {
		t.Errorf("crop after delete: %v", err)
	}
	if err := c.DeleteFace("staff", author[0].FaceID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	c.Close()

	c, err = OpenCollections(path, newDetector(t), NewLBPH())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if faces, _ := c.Faces("staff"); len(faces) != 1 || faces[0].FaceID != s3[0].FaceID {
		t.Errorf("after delete and reopen: %+v", faces)
	}
	if m := search(c); len(m) != 0 {
		t.Errorf("deleted face matches after reopen: %+v", m)
	}
}

func TestMatch(t *testing.T) {
	c, _ := newCollections(t)
	for id, th := range map[string]float64{"strict": 0.99, "loose": 0.5, "default": 0} {
		if _, err := c.Create(id, th); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"strict", "loose", "default"} {
		for _, img := range [][]byte{attFile(t, "s3", 1), attFile(t, "s3", 2)} {
			if _, _, err := c.IndexFaces(id, img, IndexOptions{ExternalID: "s3"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := c.IndexFaces(id, attFile(t, "s3", 3), IndexOptions{}); err != nil { // no external id
			t.Fatal(err)
		}
	}
	// A template of s3's image 10: similarity 0.85, 0.84 and 0.88 to images 1–3.
	img := decode(t, attFile(t, "s3", 10))
	src, faces, err := c.findFaces(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tpl, err := c.rec.Template(src.Mat, faces[0].src)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"strict", "loose", "default", "missing", "loose"}
	got := c.Match(all, tpl, 0)
	// strict matches nothing; loose and default match s3 once (best of two
	// faces) and the face without an external id on its own.
	if len(got) != 4 {
		t.Fatalf("matches %+v", got)
	}
	per := map[string]int{}
	for i, m := range got {
		per[m.Collection]++
		if i > 0 && m.Similarity > got[i-1].Similarity {
			t.Errorf("not highest first: %+v", got)
		}
		if m.Collection == "strict" || m.Similarity < 0.5 {
			t.Errorf("match %+v", m)
		}
	}
	if per["loose"] != 2 || per["default"] != 2 {
		t.Errorf("matches per collection %v", per)
	}
	if got := c.Match(all, tpl, 1); len(got) != 1 {
		t.Errorf("max 1: %+v", got)
	}
	if got := c.Match(nil, tpl, 5); len(got) != 0 {
		t.Errorf("no collections: %+v", got)
	}
	if got := c.Match(all, Template{1, 2, 3}, 5); len(got) != 0 {
		t.Errorf("foreign template: %+v", got)
	}
}

// fakeRecognizer is a Recognizer with function fields.
type fakeRecognizer struct {
	name       string
	template   func(gocv.Mat, image.Rectangle) (Template, error)
	similarity func(a, b Template) float64
}

func (f fakeRecognizer) Name() string { return f.name }
func (f fakeRecognizer) Template(m gocv.Mat, r image.Rectangle) (Template, error) {
	return f.template(m, r)
}
func (f fakeRecognizer) Similarity(a, b Template) float64 { return f.similarity(a, b) }

// Templates of one recognizer are never compared with another's.
func TestRecognizerMismatch(t *testing.T) {
	c, path := newCollections(t)
	if _, err := c.Create("lbph", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.IndexFaces("lbph", gocvFile(t, "images/face.jpg"), IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	fake := fakeRecognizer{
		name:       "fake",
		template:   func(gocv.Mat, image.Rectangle) (Template, error) { return Template{1}, nil },
		similarity: func(a, b Template) float64 { return 1 },
	}
	c, err := OpenCollections(path, newDetector(t), fake)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, _ := c.Get("lbph"); got.Recognizer != NewLBPH().Name() || got.Faces != 1 {
		t.Errorf("collection %+v", got)
	}
	if _, _, err := c.IndexFaces("lbph", gocvFile(t, "images/face.jpg"), IndexOptions{}); !errors.Is(err, ErrRecognizerMismatch) {
		t.Errorf("index: %v", err)
	}
	if _, err := c.Search("lbph", gocvFile(t, "images/face.jpg"), 1); !errors.Is(err, ErrRecognizerMismatch) {
		t.Errorf("search: %v", err)
	}
	if m := c.Match([]string{"lbph"}, Template{1}, 1); len(m) != 0 {
		t.Errorf("match: %+v", m)
	}
	// Deleting still works.
	faces, _ := c.Faces("lbph")
	if err := c.DeleteFace("lbph", faces[0].FaceID); err != nil {
		t.Error(err)
	}
	if _, err := c.Create("fake", 0); err != nil {
		t.Fatal(err)
	}
	if faces, _, err := c.IndexFaces("fake", gocvFile(t, "images/face.jpg"), IndexOptions{}); err != nil || len(faces) != 1 {
		t.Fatalf("fake index: %v %v", faces, err)
	}
	if m := c.Match([]string{"fake", "lbph"}, Template{1}, 5); len(m) != 1 || m[0].Collection != "fake" {
		t.Errorf("fake match: %+v", m)
	}
}

// Identify is what the worker calls per frame.
func TestIdentify(t *testing.T) {
	c, _ := newCollections(t)
	if _, err := c.Create("staff", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.IndexFaces("staff", gocvFile(t, "images/face.jpg"), IndexOptions{ExternalID: "author"}); err != nil {
		t.Fatal(err)
	}
	frame := decode(t, testFrame(t, 1280, 720, 640))
	res := c.Identify(frame, []string{"staff"}, 5)
	if len(res) != 1 || len(res[0].Matches) != 1 || res[0].Matches[0].ExternalID != "author" {
		t.Fatalf("identify: %+v", res)
	}
	if b := res[0].Face.Box; math.Abs(b.Left+b.Width/2-0.5) > 0.05 || math.Abs(b.Top+b.Height/2-0.5) > 0.08 {
		t.Errorf("box %+v: the face is in the middle of the frame", b)
	}
	other := decode(t, attFile(t, "s1", 1))
	canvas := gocv.NewMat()
	defer canvas.Close()
	gocv.CopyMakeBorder(other, &canvas, 124, 124, 274, 274, gocv.BorderConstant, color.RGBA{A: 255})
	res = c.Identify(canvas, []string{"staff"}, 5)
	if len(res) != 1 || len(res[0].Matches) != 0 {
		t.Errorf("stranger: %+v", res)
	}
	if res := c.Identify(decode(t, testFrame(t, 640, 360, 0)), []string{"staff"}, 5); len(res) != 0 {
		t.Errorf("no face: %+v", res)
	}
}

func TestCollectionsConcurrent(t *testing.T) {
	c, _ := newCollections(t)
	if _, err := c.Create("staff", 0); err != nil {
		t.Fatal(err)
	}
	faceJPG, faceDetect := gocvFile(t, "images/face.jpg"), gocvFile(t, "images/face-detect.jpg")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				faces, _, err := c.IndexFaces("staff", faceJPG, IndexOptions{ExternalID: fmt.Sprintf("w%d", w)})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Search("staff", faceDetect, 3); err != nil {
					t.Error(err)
				}
				c.List()
				if i%2 == 0 {
					if err := c.DeleteFace("staff", faces[0].FaceID); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 5 {
			id := fmt.Sprintf("tmp%d", i)
			if _, err := c.Create(id, 0); err != nil {
				t.Error(err)
			}
			if err := c.Delete(id); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if faces, _ := c.Faces("staff"); len(faces) != 4 {
		t.Errorf("%d faces, want 4", len(faces))
	}
}

func TestClosed(t *testing.T) {
	c, path := newCollections(t)
	if _, err := c.Create("staff", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := c.Create("x", 0); !errors.Is(err, ErrClosed) {
		t.Errorf("create: %v", err)
	}
	if _, err := c.Get("staff"); !errors.Is(err, ErrClosed) {
		t.Errorf("get: %v", err)
	}
	if _, _, err := c.IndexFaces("staff", nil, IndexOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("index: %v", err)
	}
	if got := c.List(); len(got) != 0 {
		t.Errorf("list: %+v", got)
	}
	if _, err := OpenCollections(filepath.Join(path, "sub", "faces.db"), newDetector(t), NewLBPH()); err == nil {
		t.Error("opened a file under a file")
	}
	if _, err := OpenCollections(path, nil, NewLBPH()); err == nil {
		t.Error("opened without a detector")
	}
	if _, err := OpenCollections(path, newDetector(t), NewLBPH(), WithDefaultThreshold(2)); !errors.Is(err, ErrInvalidThreshold) {
		t.Errorf("default threshold 2: %v", err)
	}
}
