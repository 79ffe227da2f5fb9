package fragments

import (
	"math"
	"time"
)

const (
	// reanchorAfter is how far the server-time anchor may drift from unit
	// arrival before it is moved.
	reanchorAfter = 500 * time.Millisecond
	// driftWindow is how long (in media time) every unit must arrive late
	// before the anchor moves later.
	driftWindow = 10 * time.Second
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
//
// Network, queueing and CPU delays only ever make a unit arrive late, so a
// single late unit says nothing about the clock: the anchor moves later
// only when every unit for driftWindow arrived more than reanchorAfter
// late (the camera's clock drifted or jumped), and then by the smallest
// lateness seen. A unit arriving more than reanchorAfter early shows the
// anchor itself was set from a delayed unit; it moves earlier at once.
type anchor struct {
	recv time.Time
	ns   int64 // run media time of that unit
	set  bool

	lateMin  time.Duration // smallest lateness since lateFrom
	lateFrom int64         // run media time the window started
}

// at is the server time of run media time ns.
func (a *anchor) at(ns int64) time.Time { return a.recv.Add(time.Duration(ns - a.ns)) }

// observe takes the arrival at recv of the unit with media time ns and
// reports whether the anchor moved.
func (a *anchor) observe(ns int64, recv time.Time) bool {
	d := recv.Sub(a.at(ns))
	if !a.set || d < -reanchorAfter {
		*a = anchor{recv: recv, ns: ns, set: true, lateMin: math.MaxInt64, lateFrom: ns}
		return true
	}
	a.lateMin = min(a.lateMin, d)
	if time.Duration(ns-a.lateFrom) < driftWindow {
		return false
	}
	moved := a.lateMin > reanchorAfter
	if moved {
		a.recv = a.recv.Add(a.lateMin)
	}
	a.lateMin, a.lateFrom = math.MaxInt64, ns
	return moved
}
