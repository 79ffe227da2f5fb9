package detect

import (
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"
)

// LBPH parameters. Changing any of them changes the templates, so they are
// part of the recognizer's name.
const (
	lbphSize  = 100 // face crops are normalised to lbphSize×lbphSize
	lbphGrid  = 8   // the LBP image is cut into lbphGrid×lbphGrid cells
	lbphBins  = 59  // 58 uniform patterns and one bin for all the others
	lbphCells = lbphGrid * lbphGrid
	lbphLen   = lbphCells * lbphBins
)

// lbph is local binary pattern histograms (Ahonen, Hadid and Pietikäinen,
// 2004) in Go: the face crop, grey and histogram-equalised at 100×100, gets
// an LBP code per pixel (8 neighbours on a circle of radius 1, bilinear
// interpolation, as OpenCV's LBPHFaceRecognizer); codes are counted in an
// 8×8 grid of cells, with the 58 "uniform" codes (at most two 0/1
// transitions around the circle) in their own bins and the rest in one
// bin; each cell's histogram is normalised to sum 1. The template is the
// 64 histograms end to end: 3,776 float32s.
type lbph struct{}

// NewLBPH returns the default recognizer: it needs no model file.
//
// Similarity is made from the chi-square distance between templates,
// d = (1/64) Σ (a−b)²/(a+b) over all bins where a+b > 0, which lies in
// [0, 2] (0 for identical templates, 2 for templates without a code in
// common):
//
//	similarity = 0.8^((d/0.55)²)
//
// so 1 is identical, similarity 0.8 (DefaultThreshold) is d = 0.55, and
// it falls to 0.48 at d = 1 and 0.05 at d = 2. The 0.55 is calibrated on
// the AT&T faces that ship with gocv (s1–s3) and the two photographs of
// gocv's author: the best match of every probe of an enrolled person lay
// at d ≤ 0.52, the best match of every probe against other people at
// d ≥ 0.62 (lbph_quality_test.go measures it again on every run).
func NewLBPH() Recognizer { return lbph{} }

func (lbph) Name() string {
	return fmt.Sprintf("lbph-r1n8-g%dx%d-u2-%d", lbphGrid, lbphGrid, lbphSize)
}

func (lbph) Template(img gocv.Mat, face image.Rectangle) (Template, error) {
	px, err := grayCrop(img, face, image.Pt(lbphSize, lbphSize))
	if err != nil {
		return nil, err
	}
	equalize(px)
	return lbphTemplate(px, lbphSize, lbphSize), nil
}

func (lbph) Similarity(a, b Template) float64 {
	if len(a) != lbphLen || len(b) != lbphLen {
		return 0
	}
	return lbphSimilarity(chiSquare(a, b) / lbphCells)
}

// lbphCalibration is the chi-square distance that maps to similarity
// DefaultThreshold.
const lbphCalibration = 0.55

func lbphSimilarity(d float64) float64 {
	if d <= 0 {
		return 1
	}
	if math.IsNaN(d) {
		return 0
	}
	r := d / lbphCalibration
	return math.Exp(math.Log(DefaultThreshold) * r * r)
}

// chiSquare is Σ (a−b)²/(a+b) over the bins where a+b > 0. It has no
// branch (a bin empty in both templates adds 0/tiny = 0; LBPH values are
// never negative) and four sums, which makes it about four times faster
// than the obvious loop on real, sparse histograms.
func chiSquare(a, b Template) float64 {
	const tiny = 1e-30
	b = b[:len(a)]
	var d0, d1, d2, d3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		e0, e1, e2, e3 := x[0]-y[0], x[1]-y[1], x[2]-y[2], x[3]-y[3]
		d0 += e0 * e0 / (x[0] + y[0] + tiny)
		d1 += e1 * e1 / (x[1] + y[1] + tiny)
		d2 += e2 * e2 / (x[2] + y[2] + tiny)
		d3 += e3 * e3 / (x[3] + y[3] + tiny)
	}
	for ; i < len(a); i++ {
		e := a[i] - b[i]
		d0 += e * e / (a[i] + b[i] + tiny)
	}
	return float64(d0 + d1 + d2 + d3)
}

// lbpNeighbours are the bilinear weights and offsets of the 8 sample
// points on the circle of radius 1, starting at angle 0 and turning
// counterclockwise (image rows grow downwards).
var lbpNeighbours = func() (n [8]struct {
	fx, fy, cx, cy int
	w1, w2, w3, w4 float32
}) {
	for i := range n {
		x := math.Cos(2 * math.Pi * float64(i) / 8)
		y := -math.Sin(2 * math.Pi * float64(i) / 8)
		fx, fy := math.Floor(x), math.Floor(y)
		cx, cy := math.Ceil(x), math.Ceil(y)
		tx, ty := x-fx, y-fy
		n[i].fx, n[i].fy, n[i].cx, n[i].cy = int(fx), int(fy), int(cx), int(cy)
		n[i].w1 = float32((1 - tx) * (1 - ty))
		n[i].w2 = float32(tx * (1 - ty))
		n[i].w3 = float32((1 - tx) * ty)
		n[i].w4 = float32(tx * ty)
	}
	return n
}()

// uniformBin maps an 8-bit LBP code to its histogram bin: 0–57 for the
// uniform codes in increasing order, 58 for the others.
var uniformBin = func() (m [256]uint8) {
	next := uint8(0)
	for c := 0; c < 256; c++ {
		transitions := 0
		for i := 0; i < 8; i++ {
			if (c>>i)&1 != (c>>((i+1)%8))&1 {
				transitions++
			}
		}
		if transitions <= 2 {
			m[c] = next
			next++
		} else {
			m[c] = lbphBins - 1
		}
	}
	return m
}()

// lbphTemplate computes the spatial LBP histograms of a w×h grey image.
func lbphTemplate(px []byte, w, h int) Template {
	const eps = 1.1920929e-07 // FLT_EPSILON, as OpenCV
	lw, lh := w-2, h-2        // the LBP image loses a one-pixel border
	codes := make([]uint8, lw*lh)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			c := float32(px[y*w+x])
			var code uint8
			for i, n := range lbpNeighbours {
				t := n.w1*float32(px[(y+n.fy)*w+x+n.fx]) + n.w2*float32(px[(y+n.fy)*w+x+n.cx]) +
					n.w3*float32(px[(y+n.cy)*w+x+n.fx]) + n.w4*float32(px[(y+n.cy)*w+x+n.cx])
				if t > c || float32(math.Abs(float64(t-c))) < eps {
					code |= 1 << i
				}
			}
			codes[(y-1)*lw+x-1] = uniformBin[code]
		}
	}
	t := make(Template, lbphLen)
	for gy := 0; gy < lbphGrid; gy++ {
		y0, y1 := gy*lh/lbphGrid, (gy+1)*lh/lbphGrid
		for gx := 0; gx < lbphGrid; gx++ {
			x0, x1 := gx*lw/lbphGrid, (gx+1)*lw/lbphGrid
			hist := t[(gy*lbphGrid+gx)*lbphBins:][:lbphBins]
			for y := y0; y < y1; y++ {
				for _, b := range codes[y*lw+x0 : y*lw+x1] {
					hist[b]++
				}
			}
			inv := 1 / float32((y1-y0)*(x1-x0))
			for i := range hist {
				hist[i] *= inv
			}
		}
	}
	return t
}
