package detect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"gocv.io/x/gocv"

	"vigil/frametime"
)

// maxFramePixels bounds the frames the worker decodes (8K UHD): a decoded
// BGR frame is 3 bytes a pixel.
const maxFramePixels = 7680 * 4320

// spoolFragment copies a fragment to a temporary .mp4 file, since OpenCV's
// capture reads files, and returns its path; the caller removes it. Only
// an MP4 (an ftyp box first) of at most limit bytes is accepted, so the
// FFmpeg backend never probes other formats (playlists that point
// elsewhere, image sequences) from bytes a remote node served.
func spoolFragment(r io.Reader, limit int64) (string, error) {
	var head [8]byte
	if n, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", fmt.Errorf("%w: %d bytes", ErrUndecodable, n)
		}
		return "", fmt.Errorf("%w: %w", errFetch, err)
	}
	if !bytes.Equal(head[4:], []byte("ftyp")) {
		return "", fmt.Errorf("%w: not an MP4 (starts % x)", ErrUndecodable, head)
	}
	f, err := os.CreateTemp("", "vigil-detect-*.mp4")
	if err != nil {
		return "", fmt.Errorf("%w: temp file: %w", errFetch, err)
	}
	_, err = f.Write(head[:])
	var n int64
	if err == nil {
		n, err = io.Copy(f, io.LimitReader(r, limit-int64(len(head))+1))
		if err != nil {
			err = fmt.Errorf("%w: %w", errFetch, err)
		} else if n > limit-int64(len(head)) {
			err = fmt.Errorf("%w: larger than %d bytes", ErrUndecodable, limit)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %w", errFetch, cerr)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// sampleFrames decodes the MP4 at path with OpenCV's FFmpeg backend and
// calls fn with the frames to analyse at fps frames a second: the first
// frame, then the first frame at or after each multiple of 1/fps of
// presentation time. offset is the frame's presentation time from the
// start of the file, as image.jpg reads it. An error from fn stops the
// decoding and is returned.
//
// Every frame is decoded, but only frames that may be sampled are
// converted to BGR: a frame whose time, predicted from the previous
// one's, falls before the next sample is only grabbed, which saves about
// a third of the decoding time. A mispredicted frame (variable frame
// rate) delays that sample by at most one frame.
func sampleFrames(ctx context.Context, path string, fps float64, fn func(offset time.Duration, frame gocv.Mat) error) error {
	vc, err := gocv.VideoCaptureFileWithAPI(path, gocv.VideoCaptureFFmpeg)
	defer vc.Close()
	if err != nil || !vc.IsOpened() {
		return fmt.Errorf("%w: OpenCV cannot open it", ErrUndecodable)
	}
	w, h := vc.Get(gocv.VideoCaptureFrameWidth), vc.Get(gocv.VideoCaptureFrameHeight)
	if !(w >= 1 && h >= 1 && w*h <= maxFramePixels) {
		return fmt.Errorf("%w: frames of %vx%v", ErrUndecodable, w, h)
	}
	step := 1000 / fps // ms between samples
	next := 0.0        // ms: the next sample's time
	clock := frametime.New(vc.Get(gocv.VideoCaptureFPS))
	frame := gocv.NewMat()
	defer frame.Close()
	decoded := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if clock.Seen() && clock.Predict()+frametime.Tolerance < next {
			pos := vc.Get(gocv.VideoCapturePosFrames)
			vc.Grab(1)
			if vc.Get(gocv.VideoCapturePosFrames) == pos {
				break // the end
			}
			decoded++
			clock.Next(vc.Get(gocv.VideoCapturePosMsec))
			continue
		}
		if !vc.Read(&frame) {
			break
		}
		if frame.Empty() {
			continue
		}
		decoded++
		ts := clock.Next(vc.Get(gocv.VideoCapturePosMsec))
		if ts+frametime.Tolerance < next {
			continue
		}
		next = (math.Floor((ts+frametime.Tolerance)/step) + 1) * step
		if frame.Type() != gocv.MatTypeCV8UC3 || frame.Cols()*frame.Rows() > maxFramePixels {
			return fmt.Errorf("%w: decoded a %dx%d frame of type %v", ErrUndecodable, frame.Cols(), frame.Rows(), frame.Type())
		}
		offset := time.Duration(math.Round(ts*1000)) * time.Microsecond
		if err := fn(offset, frame); err != nil {
			return err
		}
	}
	if decoded == 0 {
		return fmt.Errorf("%w: no frame decoded", ErrUndecodable)
	}
	return nil
}
