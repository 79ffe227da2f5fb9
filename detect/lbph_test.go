package detect

import (
	"math"
	"testing"

	"gocv.io/x/gocv"
)

func TestUniformBins(t *testing.T) {
	uniform := 0
	for c := 0; c < 256; c++ {
		if uniformBin[c] < lbphBins-1 {
			uniform++
		}
	}
	if uniform != 58 {
		t.Errorf("%d uniform codes, want 58", uniform)
	}
	for _, c := range []int{0x00, 0xff, 0x0f, 0x81, 0x3c} {
		if uniformBin[c] == lbphBins-1 {
			t.Errorf("code %08b should be uniform", c)
		}
	}
	for _, c := range []int{0x55, 0x05, 0x92} {
		if uniformBin[c] != lbphBins-1 {
			t.Errorf("code %08b should not be uniform", c)
		}
	}
}

// LBP codes of simple patterns: a flat image has every neighbour equal to
// the centre (all bits set, code 255); a pixel brighter than all its
// neighbours has code 0.
func TestLBPCodes(t *testing.T) {
	flat := make([]byte, 10*10)
	for i := range flat {
		flat[i] = 50
	}
	tpl := lbphTemplate(flat, 10, 10)
	for cell := 0; cell < lbphCells; cell++ {
		h := tpl[cell*lbphBins:][:lbphBins]
		if h[uniformBin[255]] != 1 {
			t.Fatalf("cell %d of a flat image: %v", cell, h)
		}
	}
	peak := make([]byte, 3*3)
	peak[4] = 200
	if tpl := lbphTemplate(peak, 3, 3); len(tpl) != lbphLen {
		t.Fatalf("template length %d", len(tpl))
	}
}

func TestLBPHTemplate(t *testing.T) {
	rec := NewLBPH()
	d := newDetector(t)
	a := decode(t, gocvFile(t, "images/face.jpg"))
	b := decode(t, gocvFile(t, "images/face-detect.jpg"))
	fa, fb := d.Detect(a), d.Detect(b)
	ta, err := rec.Template(a, fa[0].Rect)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := rec.Template(b, fb[0].Rect)
	if err != nil {
		t.Fatal(err)
	}
	if len(ta) != lbphLen {
		t.Fatalf("template of %d values, want %d", len(ta), lbphLen)
	}
	for cell := 0; cell < lbphCells; cell++ {
		var sum float64
		for _, v := range ta[cell*lbphBins:][:lbphBins] {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Fatalf("cell %d sums to %v", cell, sum)
		}
	}
	if s := rec.Similarity(ta, ta); s != 1 {
		t.Errorf("self-similarity %v", s)
	}
	ab, ba := rec.Similarity(ta, tb), rec.Similarity(tb, ta)
	if ab != ba || ab <= 0 || ab >= 1 {
		t.Errorf("similarity %v one way, %v the other", ab, ba)
	}
	if s := rec.Similarity(ta, ta[:10]); s != 0 {
		t.Errorf("short template: %v", s)
	}
	// The same face in grey gives the same template.
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(a, &gray, gocv.ColorBGRToGray)
	tg, err := rec.Template(gray, fa[0].Rect)
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.Similarity(ta, tg); s < 0.999 {
		t.Errorf("grey and colour: %v", s)
	}
	if _, err := rec.Template(a, fa[0].Rect.Add(fa[0].Rect.Max.Mul(4))); err == nil {
		t.Error("template of a face outside the image")
	}
}

func TestLBPHSimilarityMapping(t *testing.T) {
	cases := []struct{ d, want float64 }{
		{0, 1},
		{-1, 1},
		{lbphCalibration, DefaultThreshold},
		{1, 0.478},
		{2, 0.052},
		{math.NaN(), 0},
	}
	for _, tc := range cases {
		if got := lbphSimilarity(tc.d); math.Abs(got-tc.want) > 0.001 {
			t.Errorf("similarity(%v) = %v, want %v", tc.d, got, tc.want)
		}
	}
	prev := 1.0
	for d := 0.01; d <= 2; d += 0.01 {
		s := lbphSimilarity(d)
		if s >= prev || s < 0 {
			t.Fatalf("similarity(%v) = %v after %v", d, s, prev)
		}
		prev = s
	}
}

func TestTemplateEncoding(t *testing.T) {
	cases := []Template{{}, {1}, {0.5, -2, float32(math.Inf(1)), 3e-38}, make(Template, lbphLen)}
	for _, tpl := range cases {
		b, err := tpl.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalTemplate(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tpl) {
			t.Fatalf("%d values back, want %d", len(got), len(tpl))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(tpl[i]) {
				t.Fatalf("value %d: %v, want %v", i, got[i], tpl[i])
			}
		}
	}
	bad := [][]byte{nil, {'T'}, {'X', 1, 0}, {'T', 2, 0}, {'T', 1}, {'T', 1, 1, 0, 0, 0}, {'T', 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for _, b := range bad {
		if _, err := UnmarshalTemplate(b); err == nil {
			t.Errorf("%x decoded", b)
		}
	}
}
