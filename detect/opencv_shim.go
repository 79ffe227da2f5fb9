package detect

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "opencv_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// SetOpenCVThreads sets how many threads OpenCV may use inside one call
// (cv::setNumThreads) and returns the previous setting. It is process-wide.
// OpenCV's default spreads one detection over every core; a worker that
// runs one detection per core does better with 1. n < 0 restores
// OpenCV's default.
func SetOpenCVThreads(n int) int {
	return int(C.vigil_set_num_threads(C.int(n)))
}

// OpenCVThreads returns OpenCV's current thread setting.
func OpenCVThreads() int {
	return int(C.vigil_get_num_threads())
}

// checkCascade loads a cascade file with C++ exceptions caught: gocv's
// CascadeClassifier.Load aborts the process on a malformed file.
func checkCascade(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var errbuf [512]C.char
	if C.vigil_cascade_check(cpath, &errbuf[0], C.size_t(len(errbuf))) == 0 {
		return errors.New(strings.TrimSpace(C.GoString(&errbuf[0])))
	}
	return nil
}

// errTooManyPixels is imdecode's refusal of an image over max pixels.
var errTooManyPixels = errors.New("too many pixels")

// imdecode decodes b with cv::imdecode (IMREAD_COLOR, so EXIF orientation
// is applied) with C++ exceptions caught: some malformed headers make
// OpenCV throw, which gocv.IMDecode would let abort the process. It
// returns the BGR pixels row by row.
func imdecode(b []byte, maxPixels int) (rows, cols int, px []byte, err error) {
	if len(b) == 0 || len(b) > math.MaxInt32 {
		return 0, 0, nil, fmt.Errorf("%d bytes", len(b))
	}
	var (
		cr, cc C.int
		data   *C.uchar
		errbuf [512]C.char
	)
	ret := C.vigil_imdecode(unsafe.Pointer(&b[0]), C.size_t(len(b)), C.longlong(maxPixels), &cr, &cc, &data, &errbuf[0], C.size_t(len(errbuf)))
	switch ret {
	case 0:
		defer C.free(unsafe.Pointer(data))
		px = make([]byte, int(cr)*int(cc)*3)
		copy(px, unsafe.Slice((*byte)(unsafe.Pointer(data)), len(px)))
		return int(cr), int(cc), px, nil
	case -2:
		return int(cr), int(cc), nil, errTooManyPixels
	default:
		return 0, 0, nil, errors.New(strings.TrimSpace(C.GoString(&errbuf[0])))
	}
}

// probeONNX loads model with OpenCV, C++ exceptions caught, and runs it
// once on a 1×channels×h×w input up to output ("": the last layer). It
// returns the number of values out.
func probeONNX(model []byte, w, h, channels int, output string) (int, error) {
	if len(model) == 0 {
		return 0, errors.New("empty model")
	}
	cmodel := C.CBytes(model)
	defer C.free(cmodel)
	coutput := C.CString(output)
	defer C.free(unsafe.Pointer(coutput))
	var errbuf [512]C.char
	n := C.vigil_onnx_probe((*C.char)(cmodel), C.size_t(len(model)), C.int(w), C.int(h), C.int(channels),
		coutput, &errbuf[0], C.size_t(len(errbuf)))
	if n < 0 {
		msg := C.GoString(&errbuf[0])
		return 0, errors.New(strings.TrimSpace(msg))
	}
	return int(n), nil
}
