package detect

import (
	"errors"
	"fmt"

	"gocv.io/x/gocv"
)

// Errors of DecodeImage.
var (
	ErrNotImage      = errors.New("not an image vigil can decode")
	ErrImageTooLarge = errors.New("image too large")
)

// DefaultMaxPixels is the largest image, in pixels, DecodeImage accepts by
// default (a 48-megapixel photograph).
const DefaultMaxPixels = 48 << 20

// maxSide is OpenCV's limit on either side of an image it decodes.
const maxSide = 1 << 20

// DecodeImage decodes an uploaded image to an 8-bit BGR Mat the caller must
// close. It reads the formats of imageFormats (JPEG, PNG, WebP, TIFF, BMP,
// PNM/PAM/PFM, Sun raster, Radiance HDR, JPEG 2000) with OpenCV's imdecode,
// after reading the image's size from its header in Go: images over
// maxPixels pixels (0: DefaultMaxPixels) are refused before a byte is
// decoded, so a small file cannot make the decoder allocate gigabytes.
// Formats OpenCV reads but whose header Go does not (DICOM, OpenEXR) are
// refused, which also keeps their parsers away from uploads. OpenCV's C++
// exceptions are caught: hostile bytes are ErrNotImage, never a crash.
func DecodeImage(b []byte, maxPixels int) (gocv.Mat, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(b) == 0 {
		return gocv.Mat{}, fmt.Errorf("%w: empty", ErrNotImage)
	}
	format, w, h, err := imageSize(b)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if w <= 0 || h <= 0 {
		return gocv.Mat{}, fmt.Errorf("%w: %s of %dx%d pixels", ErrNotImage, format, w, h)
	}
	if w > maxPixels/h || w > maxSide || h > maxSide {
		return gocv.Mat{}, fmt.Errorf("%w: %s of %dx%d is more than %d pixels", ErrImageTooLarge, format, w, h, maxPixels)
	}
	rows, cols, px, err := imdecode(b, maxPixels)
	if errors.Is(err, errTooManyPixels) {
		return gocv.Mat{}, fmt.Errorf("%w: %s of %dx%d is more than %d pixels", ErrImageTooLarge, format, cols, rows, maxPixels)
	}
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: %s of %d bytes: %v", ErrNotImage, format, len(b), err)
	}
	m, err := gocv.NewMatFromBytes(rows, cols, gocv.MatTypeCV8UC3, px)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	return m, nil
}
