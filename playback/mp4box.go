package playback

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// errBox is returned for MP4 bytes the patcher cannot walk.
var errBox = errors.New("malformed mp4 box")

// box is one ISO BMFF box inside a byte slice: it spans [start, end) and
// its payload starts at start+hdr.
type box struct {
	typ             string
	start, hdr, end int
}

func (b box) payload() int { return b.start + b.hdr }

// walk calls fn for each box in b[from:to], in order. Sizes are checked
// against the bounds, so fn may index b within [payload, end).
func walk(b []byte, from, to int, fn func(box) error) error {
	for p := from; p < to; {
		if to-p < 8 {
			return fmt.Errorf("%w: %d stray bytes", errBox, to-p)
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b[p:])), 8
		switch size {
		case 1:
			if to-p < 16 {
				return fmt.Errorf("%w: short large size", errBox)
			}
			size, hdr = binary.BigEndian.Uint64(b[p+8:]), 16
		case 0: // to the end
			size = uint64(to - p)
		}
		if size < uint64(hdr) || size > uint64(to-p) {
			return fmt.Errorf("%w: %q of %d bytes in %d", errBox, b[p+4:p+8], size, to-p)
		}
		bx := box{typ: string(b[p+4 : p+8]), start: p, hdr: hdr, end: p + int(size)}
		if err := fn(bx); err != nil {
			return err
		}
		p = bx.end
	}
	return nil
}

// need fails unless the payload of bx holds n bytes.
func need(bx box, n int) error {
	if bx.end-bx.payload() < n {
		return fmt.Errorf("%w: %s shorter than %d bytes", errBox, bx.typ, n)
	}
	return nil
}

// durationTicks converts d to ticks of scale per second without overflow.
func durationTicks(d time.Duration, scale uint32) uint64 {
	if d <= 0 {
		return 0
	}
	s := uint64(scale)
	return uint64(d/time.Second)*s + uint64(d%time.Second)*s/uint64(time.Second)
}

// ticksDuration converts ticks of scale per second to a duration without
// overflow (saturating past 292 years).
func ticksDuration(t uint64, scale uint32) time.Duration {
	s := uint64(scale)
	if s == 0 {
		return 0
	}
	sec := t / s
	if sec > uint64(1<<63-1)/uint64(time.Second)-1 {
		return 1<<63 - 1
	}
	return time.Duration(sec)*time.Second + time.Duration((t%s)*uint64(time.Second)/s)
}
