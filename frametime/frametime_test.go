package frametime

import (
	"math"
	"testing"
)

func TestClock(t *testing.T) {
	for _, c := range []struct {
		name     string
		fps      float64
		in, want []float64
	}{
		{"monotonic", 25, []float64{0, 40, 80}, []float64{0, 40, 80}},
		{"flushed B-frames at 0", 25, []float64{0, 40, 80, 0, 0}, []float64{0, 40, 80, 120, 160}},
		{"measured step", 25, []float64{0, 33.3, 66.6, 0}, []float64{0, 33.3, 66.6, 99.9}},
		{"no stated rate", 0, []float64{0, 0, 0}, []float64{0, 40, 80}},
		{"NaN rate", math.NaN(), []float64{0, 0}, []float64{0, 40}},
		// OpenCV 4.6 gives a frame with presentation time 0 its decode time.
		{"first frame at its decode time", 25, []float64{40, 40, 80, 120}, []float64{0, 40, 80, 120}},
		{"NaN position", 25, []float64{0, math.NaN()}, []float64{0, 40}},
	} {
		clock := New(c.fps)
		for i, ts := range c.in {
			if got := clock.Next(ts); math.Abs(got-c.want[i]) > 1e-9 {
				t.Errorf("%s: frame %d: %v, want %v", c.name, i, got, c.want[i])
			}
		}
		if want := c.want[len(c.want)-1] + 40; c.fps == 25 && c.name == "monotonic" && clock.Predict() != want {
			t.Errorf("%s: predict %v, want %v", c.name, clock.Predict(), want)
		}
	}
}
