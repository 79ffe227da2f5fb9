package ingest

import "time"

// backoff returns the delay before restart number attempt (0-based) of a
// failing source: capped exponential growth with jitter. The delay is drawn
// uniformly from [min, upper] where upper = min(max, min·2^(attempt+1)), so
// even the first retries of many sources that failed together are spread
// out, and no delay leaves [min, max]. rnd returns a value in [0, 1).
func backoff(attempt int, minD, maxD time.Duration, rnd func() float64) time.Duration {
	if maxD < minD {
		maxD = minD
	}
	upper := minD
	for i := 0; i <= attempt && upper < maxD; i++ {
		upper *= 2
		if upper <= 0 { // overflow
			upper = maxD
		}
	}
	upper = min(upper, maxD)
	r := rnd()
	if r < 0 || r >= 1 {
		r = 0
	}
	return minD + time.Duration(r*float64(upper-minD))
}
