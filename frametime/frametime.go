// Package frametime turns the frame positions OpenCV reports while decoding
// a stored fragment into presentation times from the start of the file. It
// is shared by the still-image decoder (playback/frame) and the detection
// worker (detect), which must agree on what "the frame at offset t" is.
package frametime

import "math"

// Tolerance absorbs the rounding of OpenCV's millisecond positions.
const Tolerance = 0.5 // ms

// Clock corrects two quirks of OpenCV 4.6's FFmpeg capture:
//   - the frames the decoder flushes at the end of the input, held back for
//     B-frame reordering, come without a timestamp and are reported at 0: a
//     position that does not move forward is taken to be one frame
//     interval, as last measured, after the previous frame;
//   - a frame whose presentation time is exactly 0 is reported at its
//     decode time, one or two frames late (the first frame of a recording's
//     first fragment): the first frame is at 0, whatever OpenCV says.
type Clock struct {
	prev float64 // ms; the previous frame's time
	step float64 // ms between frames, measured, or from the nominal rate
	seen bool
}

// New returns a clock for a file whose stated frame rate is fps (0 or NaN
// when it states none: 25 fps is assumed until a step is measured).
func New(fps float64) Clock { return Clock{step: 1000 / fps} }

// Seen reports whether a frame has been timed.
func (c *Clock) Seen() bool { return c.seen }

// Next takes OpenCV's position (ms) of the frame just decoded and returns
// its presentation time (ms).
func (c *Clock) Next(ts float64) float64 {
	if math.IsNaN(ts) || math.IsInf(ts, 0) || !c.seen {
		ts = 0
	}
	if c.seen {
		if ts > c.prev {
			c.step = ts - c.prev
		} else {
			if !c.stepKnown() {
				c.step = 40 // 25 fps, when the input states no rate
			}
			ts = c.prev + c.step
		}
	}
	c.prev, c.seen = ts, true
	return ts
}

// Predict is the time the next frame should have: one step after the
// previous (the previous time itself while no step is known).
func (c *Clock) Predict() float64 {
	if !c.stepKnown() {
		return c.prev
	}
	return c.prev + c.step
}

func (c *Clock) stepKnown() bool {
	return !math.IsNaN(c.step) && !math.IsInf(c.step, 0) && c.step > 0
}
