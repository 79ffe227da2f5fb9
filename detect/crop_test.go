package detect

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// equalize is cv::equalizeHist, byte for byte.
func TestEqualizeMatchesOpenCV(t *testing.T) {
	cases := map[string][]byte{
		"face.jpg": gocvFile(t, "images/face.jpg"),
		"att s1/1": attFile(t, "s1", 1),
		"att s3/7": attFile(t, "s3", 7),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			img := decode(t, b)
			gray := gocv.NewMat()
			defer gray.Close()
			gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
			want := gocv.NewMat()
			defer want.Close()
			gocv.EqualizeHist(gray, &want)
			got := gray.ToBytes()
			equalize(got)
			if !bytes.Equal(got, want.ToBytes()) {
				t.Error("equalize differs from cv::equalizeHist")
			}
		})
	}
	flat := bytes.Repeat([]byte{7}, 100)
	equalize(flat)
	if flat[0] != 7 {
		t.Errorf("a flat image changed to %d", flat[0])
	}
	equalize(nil)
}

// Blur lowers sharpness; flat crops score 0; every AT&T face passes the
// default minimum and fails it once blurred by 1 pixel.
func TestSharpness(t *testing.T) {
	d := newDetector(t)
	c := &Collections{det: d}
	for s, n := range attSubjects {
		for i := 1; i <= n; i++ {
			t.Run(fmt.Sprintf("%s/%d", s, i), func(t *testing.T) {
				img := decode(t, attFile(t, s, i))
				src, faces, err := c.findFaces(img)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				r := faces[0].src
				sharp := faceSharpness(src.Mat, r)
				blurred := gocv.NewMat()
				defer blurred.Close()
				gocv.GaussianBlur(src.Mat, &blurred, image.Point{}, 1, 1, gocv.BorderDefault)
				soft := faceSharpness(blurred, r)
				t.Logf("sharpness %.4f, blurred %.4f", sharp, soft)
				if sharp < 0.04 || soft >= 0.04 || soft >= sharp {
					t.Errorf("sharpness %.4f, blurred %.4f; default minimum 0.04", sharp, soft)
				}
			})
		}
	}
	if s := sharpness(bytes.Repeat([]byte{90}, 100*100), 100, 100); s != 0 {
		t.Errorf("flat: %v", s)
	}
	if s := sharpness([]byte{1, 2}, 1, 2); s != 0 {
		t.Errorf("tiny: %v", s)
	}
}

func TestGrayCrop(t *testing.T) {
	img := decode(t, gocvFile(t, "images/face.jpg"))
	cases := []struct {
		name string
		r    image.Rectangle
		err  error
	}{
		{"inside", image.Rect(236, 157, 458, 379), nil},
		{"overlapping the edge", image.Rect(600, 400, 700, 500), nil},
		{"outside", image.Rect(700, 500, 800, 600), ErrBadFace},
		{"sliver", image.Rect(0, 0, 3, 100), ErrBadFace},
		{"empty", image.Rectangle{}, ErrBadFace},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			px, err := grayCrop(img, tc.r, image.Pt(100, 100))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && len(px) != 100*100 {
				t.Errorf("%d pixels", len(px))
			}
		})
	}
}
