package detect

import (
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"
)

// ErrBadFace is returned by Recognizer.Template for a face rectangle that
// does not overlap the image enough to make a template.
var ErrBadFace = errors.New("face rectangle outside the image")

// minCropSide is the smallest face side, in pixels of the image, that a
// template is made from.
const minCropSide = 8

// grayCrop cuts face out of img (BGR, BGRA or gray, 8-bit) and returns it
// as size.X×size.Y 8-bit grayscale pixels, row by row. It is the common
// first step of every template: what differs between recognizers comes
// after it.
func grayCrop(img gocv.Mat, face image.Rectangle, size image.Point) ([]byte, error) {
	r := face.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if r.Dx() < minCropSide || r.Dy() < minCropSide {
		return nil, fmt.Errorf("%w: %v in a %dx%d image", ErrBadFace, face, img.Cols(), img.Rows())
	}
	region := img.Region(r)
	defer region.Close()
	gray, err := toGray(region)
	if err != nil {
		return nil, err
	}
	defer gray.Close()
	interp := gocv.InterpolationLinear
	if r.Dx() > size.X {
		interp = gocv.InterpolationArea
	}
	out := gocv.NewMat()
	defer out.Close()
	gocv.Resize(gray, &out, size, 0, 0, interp)
	return out.ToBytes(), nil
}

// equalize is cv::equalizeHist on 8-bit pixels, in place: it spreads the
// grey levels so that their cumulative histogram is a straight line, which
// takes most of the lighting out of a face crop.
func equalize(px []byte) {
	var hist [256]int
	for _, v := range px {
		hist[v]++
	}
	i := 0
	for i < 256 && hist[i] == 0 {
		i++
	}
	if i == 256 {
		return
	}
	total := len(px)
	if hist[i] == total {
		return // one grey level: nothing to spread
	}
	var lut [256]byte
	scale := 255 / float32(total-hist[i])
	sum := 0
	for i++; i < 256; i++ {
		sum += hist[i]
		lut[i] = byte(min(255, math.RoundToEven(float64(float32(sum)*scale))))
	}
	for k, v := range px {
		px[k] = lut[v]
	}
}

// faceSharpness is the sharpness of the face at r in img, measured on the
// grey crop at the face's own size, or 100×100 if larger: never upscaled,
// which would soften it.
func faceSharpness(img gocv.Mat, r image.Rectangle) float64 {
	side := min(lbphSize, r.Dx(), r.Dy())
	px, err := grayCrop(img, r, image.Pt(side, side))
	if err != nil {
		return 0
	}
	return sharpness(px, side, side)
}

// sharpness measures focus on a w×h grey crop: the variance of its
// 4-neighbour Laplacian divided by the variance of its pixels, so that it
// does not depend on contrast. The AT&T faces score 0.08 to 0.32 (see
// faceSharpness), and under 0.03 after a Gaussian blur of 1 pixel.
func sharpness(px []byte, w, h int) float64 {
	if w < 3 || h < 3 || len(px) < w*h {
		return 0
	}
	var s, ss float64
	for _, v := range px[:w*h] {
		f := float64(v)
		s += f
		ss += f * f
	}
	n := float64(w * h)
	varI := ss/n - (s/n)*(s/n)
	if varI < 1 {
		return 0 // flat: nothing to focus on
	}
	var ls, lss float64
	for y := 1; y < h-1; y++ {
		row := y * w
		for x := 1; x < w-1; x++ {
			c := row + x
			l := 4*float64(px[c]) - float64(px[c-1]) - float64(px[c+1]) - float64(px[c-w]) - float64(px[c+w])
			ls += l
			lss += l * l
		}
	}
	m := float64((w - 2) * (h - 2))
	varL := lss/m - (ls/m)*(ls/m)
	return varL / varI
}
