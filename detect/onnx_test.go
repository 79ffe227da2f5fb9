package detect

import (
	"errors"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

func writeModel(t *testing.T, model []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, model, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func closeRecognizer(t *testing.T, r Recognizer) {
	t.Cleanup(func() {
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
	})
}

// The hand-built projection model loads through gocv, its embedding is the
// projection of the preprocessed crop computed here in Go, and similarity
// is the cosine.
func TestONNXProjectionModel(t *testing.T) {
	const side, dim = 32, 16
	model, weights := projectionModel(side, side, dim)
	rec, err := NewONNX(writeModel(t, model), image.Pt(side, side))
	if err != nil {
		t.Fatal(err)
	}
	closeRecognizer(t, rec)
	if !strings.HasPrefix(rec.Name(), "onnx-") || !strings.Contains(rec.Name(), "-32x32-gray-") {
		t.Errorf("name %q", rec.Name())
	}
	if got := rec.(interface{ Dim() int }).Dim(); got != dim {
		t.Errorf("dim %d, want %d", got, dim)
	}

	img := decode(t, gocvFile(t, "images/face.jpg"))
	face := newDetector(t).Detect(img)[0].Rect
	tpl, err := rec.Template(img, face)
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl) != dim {
		t.Fatalf("embedding of %d values, want %d", len(tpl), dim)
	}
	// The same computation in Go: grey crop, (x − 127.5)/128, × W, unit
	// length.
	px, err := grayCrop(img, face, image.Pt(side, side))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, dim)
	for i, p := range px {
		v := (float64(p) - 127.5) / 128
		for j := range want {
			want[j] += v * float64(weights[i*dim+j])
		}
	}
	var norm float64
	for _, v := range want {
		norm += v * v
	}
	for j := range want {
		if got, w := float64(tpl[j]), want[j]/math.Sqrt(norm); math.Abs(got-w) > 1e-4 {
			t.Errorf("embedding[%d] = %v, want %v", j, got, w)
		}
	}

	if s := rec.Similarity(tpl, tpl); math.Abs(s-1) > 1e-6 {
		t.Errorf("self-similarity %v", s)
	}
	neg := make(Template, dim)
	for i, v := range tpl {
		neg[i] = -v
	}
	if s := rec.Similarity(tpl, neg); s != 0 {
		t.Errorf("opposite embeddings: %v, want 0 (clamped)", s)
	}
	if s := rec.Similarity(tpl, tpl[:3]); s != 0 {
		t.Errorf("short template: %v", s)
	}
	other, err := rec.Template(img, face.Add(image.Pt(-100, 40)))
	if err != nil {
		t.Fatal(err)
	}
	var dot float64
	for i := range tpl {
		dot += float64(tpl[i]) * float64(other[i])
	}
	if s := rec.Similarity(tpl, other); math.Abs(s-math.Max(0, dot)) > 1e-6 {
		t.Errorf("similarity %v, cosine %v", s, dot)
	}

	// Naming the output layer gives the same embedding.
	named, err := NewONNXConfig(ONNXConfig{Path: writeModel(t, model), InputSize: image.Pt(side, side), Output: "embedding"})
	if err != nil {
		t.Fatal(err)
	}
	closeRecognizer(t, named)
	if again, err := named.Template(img, face); err != nil || named.Similarity(tpl, again) < 0.99999 {
		t.Errorf("output named: %v, similarity %v", err, named.Similarity(tpl, again))
	}

	rec.(io.Closer).Close()
	if _, err := rec.Template(img, face); err == nil {
		t.Error("template after Close")
	}
}

// A 3-channel model is detected as such and fed RGB (or BGR if asked).
func TestONNXColourModel(t *testing.T) {
	path := writeModel(t, colourModel(8, 8))
	blue := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), 40, 40, gocv.MatTypeCV8UC3)
	defer blue.Close()
	a := float32(1 / math.Sqrt(3))
	for _, tc := range []struct {
		bgr  bool
		want Template
	}{
		{false, Template{-a, -a, a}},
		{true, Template{a, -a, -a}},
	} {
		rec, err := NewONNXConfig(ONNXConfig{Path: path, InputSize: image.Pt(8, 8), BGR: tc.bgr})
		if err != nil {
			t.Fatal(err)
		}
		closeRecognizer(t, rec)
		if !strings.Contains(rec.Name(), "-8x8-rgb-") && !tc.bgr {
			t.Errorf("name %q", rec.Name())
		}
		tpl, err := rec.Template(blue, image.Rect(0, 0, 40, 40))
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if math.Abs(float64(tpl[i]-tc.want[i])) > 1e-3 {
				t.Errorf("bgr %v: embedding %v, want %v", tc.bgr, tpl, tc.want)
				break
			}
		}
	}
}

// Bad models are errors, never a crash (gocv alone would abort on them).
func TestONNXBadModels(t *testing.T) {
	good, _ := projectionModel(32, 32, 8)
	cases := []struct {
		name  string
		model []byte // nil: no file
		cfg   ONNXConfig
	}{
		{"missing file", nil, ONNXConfig{InputSize: image.Pt(32, 32)}},
		{"empty file", []byte{}, ONNXConfig{InputSize: image.Pt(32, 32)}},
		{"not a model", []byte("this is not protobuf at all"), ONNXConfig{InputSize: image.Pt(32, 32)}},
		{"truncated", good[:len(good)/2], ONNXConfig{InputSize: image.Pt(32, 32)}},
		{"wrong input size", good, ONNXConfig{InputSize: image.Pt(16, 16)}},
		{"wrong channels", good, ONNXConfig{InputSize: image.Pt(32, 32), Channels: 3}},
		{"unknown output", good, ONNXConfig{InputSize: image.Pt(32, 32), Output: "nope"}},
		{"two channels", good, ONNXConfig{InputSize: image.Pt(32, 32), Channels: 2}},
		{"no input size", good, ONNXConfig{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Path = filepath.Join(t.TempDir(), "missing.onnx")
			if tc.model != nil {
				tc.cfg.Path = writeModel(t, tc.model)
			}
			rec, err := NewONNXConfig(tc.cfg)
			if err == nil {
				closeRecognizer(t, rec)
				t.Fatal("no error")
			}
			t.Log(err)
		})
	}
}

// Collections work end to end with the ONNX recognizer.
func TestONNXCollections(t *testing.T) {
	model, _ := projectionModel(32, 32, 16)
	rec, err := NewONNX(writeModel(t, model), image.Pt(32, 32))
	if err != nil {
		t.Fatal(err)
	}
	closeRecognizer(t, rec)
	c, err := OpenCollections(filepath.Join(t.TempDir(), "faces.db"), newDetector(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	coll, err := c.Create("staff", 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if coll.Recognizer != rec.Name() {
		t.Errorf("collection recognizer %q", coll.Recognizer)
	}
	faceJPG := gocvFile(t, "images/face.jpg")
	faces, _, err := c.IndexFaces("staff", faceJPG, IndexOptions{ExternalID: "author"})
	if err != nil || len(faces) != 1 {
		t.Fatalf("index: %+v %v", faces, err)
	}
	res, err := c.Search("staff", faceJPG, 3)
	if err != nil || len(res) != 1 || len(res[0].Matches) != 1 {
		t.Fatalf("search: %+v %v", res, err)
	}
	if m := res[0].Matches[0]; m.FaceID != faces[0].FaceID || m.Similarity < 0.9999 {
		t.Errorf("match %+v", m)
	}
	if _, err := c.Search("staff", []byte("nope"), 3); !errors.Is(err, ErrNotImage) {
		t.Errorf("bad image: %v", err)
	}
}
