package fragments

import (
	"math"
	"time"
)

const (
	// reanchorAfter is how far the server-time anchor may drift from unit
	// arrival before it is reset.
	reanchorAfter = 500 * time.Millisecond
	// maxJump is the largest DTS step taken as continuous; a larger jump
	// either way is a timeline reset and starts a new run.
	maxJump = 10 * time.Second
	// maxTickSeconds bounds |ticks/clock| so nanosecond maths cannot
	// overflow (about 272 years).
	maxTickSeconds = 1 << 33
)

// ticksToNS converts ticks of clock to nanoseconds without overflowing for
// |ticks/clock| < maxTickSeconds.
func ticksToNS(ticks, clock int64) int64 {
	return ticks/clock*1e9 + ticks%clock*1e9/clock
}

// nsToTicks converts nanoseconds to ticks of clock.
func nsToTicks(ns, clock int64) int64 {
	return ns/1e9*clock + ns%1e9*clock/1e9
}

// ticksInRange reports whether a timestamp is safe for the conversions.
func ticksInRange(ticks, clock int64) bool {
	s := ticks / clock
	return s < maxTickSeconds && s > -maxTickSeconds
}

// clampOffset converts a PTS-DTS difference to the trun's int32.
func clampOffset(d int64) int32 {
	return int32(min(max(d, math.MinInt32), math.MaxInt32))
}

// clampDur converts a sample duration to the trun's uint32.
func clampDur(d int64) uint32 {
	return uint32(min(max(d, 0), math.MaxUint32))
}

// anchor maps a run's media time to server time: the arrival of the unit
// that set it, plus the media time elapsed since.
type anchor struct {
	recv time.Time
	ns   int64 // run media time of that unit
	set  bool
}

// at is the server time of run media time ns.
func (a *anchor) at(ns int64) time.Time { return a.recv.Add(time.Duration(ns - a.ns)) }

// observe re-anchors when the unit arriving at recv with media time ns
// drifts more than reanchorAfter from what the anchor predicts. It reports
// whether it moved.
func (a *anchor) observe(ns int64, recv time.Time) bool {
	if a.set {
		if d := recv.Sub(a.at(ns)); d <= reanchorAfter && d >= -reanchorAfter {
			return false
		}
	}
	*a = anchor{recv: recv, ns: ns, set: true}
	return true
}
