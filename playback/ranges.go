package playback

import (
	"fmt"
	"strconv"
	"strings"
)

// parseRange interprets a Range header for a resource of size bytes. Only
// single byte ranges are honoured: without a header, with several ranges
// or with one that does not parse, the whole resource is served (RFC 9110
// lets a server ignore Range). A range that starts past the end is
// ErrUnsatisfied.
func parseRange(header string, size int64) (start, length int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	spec = strings.TrimSpace(spec)
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, size, false, nil
	}
	if a == "" { // suffix: the last b bytes
		n, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, fmt.Errorf("%w: bytes=-%d of %d", ErrUnsatisfied, n, size)
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	first, perr := strconv.ParseInt(a, 10, 64)
	if perr != nil || first < 0 {
		return 0, size, false, nil
	}
	last := size - 1
	if b != "" {
		l, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || l < first {
			return 0, size, false, nil
		}
		last = min(l, size-1)
	}
	if first >= size {
		return 0, 0, false, fmt.Errorf("%w: bytes=%s of %d", ErrUnsatisfied, truncate(spec), size)
	}
	return first, last - first + 1, true, nil
}
