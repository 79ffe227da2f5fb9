// Package frame decodes single video frames from stored fragments into JPEG
// images, through OpenCV (gocv) and its FFmpeg backend.
package frame

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"time"

	"gocv.io/x/gocv"

	"vigil/frametime"
)

// ErrUndecodable is returned when the input holds no video frame OpenCV can
// decode: not an MP4, a truncated one, or an unsupported codec.
var ErrUndecodable = errors.New("frame: undecodable video")

const (
	// MaxWidth caps the output width: larger requests are served at MaxWidth.
	MaxWidth = 3840
	// Quality is the JPEG quality of every image.
	Quality = 85
)

// JPEG decodes the frame presented at `at` after the start of mp4 — an init
// segment followed by one fragment (moof+mdat), as vigil stores them,
// starting on a keyframe — scales it to width pixels wide (0 = original
// size; height keeps the aspect ratio; never upscale beyond 3840), and
// encodes it as JPEG (quality 85).
//
// The frame presented at `at` is the last one whose presentation time is not
// after `at`; past the end that is the last frame, and a negative `at` picks
// the first.
func JPEG(mp4 io.Reader, at time.Duration, width int) ([]byte, error) {
	if width < 0 {
		return nil, fmt.Errorf("frame: negative width %d", width)
	}
	path, err := spool(mp4)
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)

	img, err := decodeAt(path, at)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if err := scale(&img, width); err != nil {
		return nil, err
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, []int{gocv.IMWriteJpegQuality, Quality})
	if err != nil {
		return nil, fmt.Errorf("frame: encode jpeg: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}

// spool copies the input to a temporary file: OpenCV's capture reads files,
// not streams.
func spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "vigil-frame-*.mp4")
	if err != nil {
		return "", fmt.Errorf("frame: temp file: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("frame: spool input: %w", err)
	}
	return f.Name(), nil
}

// decodeAt returns the frame of the file at path presented at `at`. The
// caller closes it.
func decodeAt(path string, at time.Duration) (gocv.Mat, error) {
	vc, err := gocv.VideoCaptureFileWithAPI(path, gocv.VideoCaptureFFmpeg)
	defer vc.Close()
	if err != nil || !vc.IsOpened() {
		return gocv.Mat{}, fmt.Errorf("%w: cannot open the input", ErrUndecodable)
	}
	target := float64(at) / float64(time.Millisecond)
	clock := frametime.New(vc.Get(gocv.VideoCaptureFPS))
	best, next := gocv.NewMat(), gocv.NewMat()
	defer next.Close() // after the loop, next holds whichever Mat is not returned
	have := false
	for vc.Read(&next) {
		if next.Empty() {
			continue
		}
		ts := clock.Next(vc.Get(gocv.VideoCapturePosMsec))
		if have && ts > target+frametime.Tolerance {
			break
		}
		best, next = next, best
		have = true
		if ts >= target-frametime.Tolerance {
			break
		}
	}
	if !have {
		best.Close()
		return gocv.Mat{}, fmt.Errorf("%w: no frame decoded", ErrUndecodable)
	}
	return best, nil
}

// scale resizes img in place to width pixels wide, keeping the aspect
// ratio: area interpolation when shrinking, bilinear when enlarging.
func scale(img *gocv.Mat, width int) error {
	w, h := img.Cols(), img.Rows()
	if width == 0 || w == 0 {
		return nil
	}
	width = min(width, MaxWidth)
	if width == w {
		return nil
	}
	height := max(1, int(math.Round(float64(width)*float64(h)/float64(w))))
	interp := gocv.InterpolationArea
	if width > w {
		interp = gocv.InterpolationLinear
	}
	dst := gocv.NewMat()
	gocv.Resize(*img, &dst, image.Pt(width, height), 0, 0, interp)
	if dst.Empty() {
		dst.Close()
		return fmt.Errorf("frame: resize to %dx%d failed", width, height)
	}
	img.Close()
	*img = dst
	return nil
}
