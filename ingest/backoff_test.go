package ingest

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const s = time.Second
	cases := []struct {
		attempt    int
		min, max   time.Duration
		rnd        float64
		want       time.Duration
		whatRandom string
	}{
		{0, s, 30 * s, 0, s, "lowest draw is min"},
		{0, s, 30 * s, 0.5, 1500 * time.Millisecond, "first retry spans [min, 2min]"},
		{1, s, 30 * s, 0.5, 2500 * time.Millisecond, "second retry spans [min, 4min]"},
		{3, s, 30 * s, 0.999999, 16 * s, "upper bound doubles"},
		{10, s, 30 * s, 0.5, 15500 * time.Millisecond, "capped at max"},
		{1000, s, 30 * s, 0.999999, 30 * s, "huge attempt does not overflow"},
		{5, s, s, 0.7, s, "min == max"},
		{5, 2 * s, s, 0.7, 2 * s, "max below min is raised to min"},
		{0, s, 30 * s, 1.5, s, "out-of-range draw treated as 0"},
	}
	for _, c := range cases {
		got := backoff(c.attempt, c.min, c.max, func() float64 { return c.rnd })
		if d := got - c.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: backoff(%d, %v, %v, %v) = %v, want %v", c.whatRandom, c.attempt, c.min, c.max, c.rnd, got, c.want)
		}
	}
}

func TestBackoffStaysInRangeAndSpreads(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	minD, maxD := 100*time.Millisecond, 3*time.Second
	for attempt := range 12 {
		seen := map[time.Duration]bool{}
		for range 1000 {
			d := backoff(attempt, minD, maxD, r.Float64)
			if d < minD || d > maxD {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, minD, maxD)
			}
			seen[d] = true
		}
		if len(seen) < 900 {
			t.Fatalf("attempt %d: only %d distinct delays out of 1000", attempt, len(seen))
		}
	}
}
