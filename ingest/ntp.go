package ingest

import (
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// srClock gives packets their producer (NTP) time from RTCP sender reports.
// It does not use gortsplib's mapping, for two reasons:
//   - gortsplib maps a report to a format by the sender's SSRC, which it
//     learns from the first RTP packet, so a report that arrives before any
//     RTP packet is dropped. ffmpeg sends its first report exactly then and
//     the next about 5 s later.
//   - gortsplib (v4.16) reads the 32-bit NTP fraction as nanoseconds, but
//     RFC 3550 (and ffmpeg, and cameras) use units of 2^-32 s, so times from
//     standard senders come out up to 3.3 s wrong. gortsplib's own senders
//     write nanoseconds; ntpTime accepts both.
type srClock struct {
	packetTimer
	now     func() time.Time
	mu      sync.Mutex
	reports map[*description.Media]senderReport
}

type senderReport struct {
	ssrc uint32
	ntp  time.Time
	rtp  uint32
}

func newSRClock(t packetTimer, now func() time.Time) *srClock {
	return &srClock{packetTimer: t, now: now, reports: map[*description.Media]senderReport{}}
}

// onRTCP is installed with OnPacketRTCPAny.
func (c *srClock) onRTCP(medi *description.Media, pkt rtcp.Packet) {
	sr, ok := pkt.(*rtcp.SenderReport)
	if !ok {
		return
	}
	c.mu.Lock()
	c.reports[medi] = senderReport{ssrc: sr.SSRC, ntp: ntpTime(sr.NTPTime, c.now()), rtp: sr.RTPTime}
	c.mu.Unlock()
}

// PacketNTP returns the packet's time from the latest report of its sender.
func (c *srClock) PacketNTP(medi *description.Media, pkt *rtp.Packet) (time.Time, bool) {
	c.mu.Lock()
	r, ok := c.reports[medi]
	c.mu.Unlock()
	if !ok || r.ssrc != pkt.SSRC {
		return time.Time{}, false
	}
	rate := 0
	for _, f := range medi.Formats {
		if f.PayloadType() == pkt.PayloadType {
			rate = f.ClockRate()
		}
	}
	if rate <= 0 {
		return time.Time{}, false
	}
	d := int64(int32(pkt.Timestamp - r.rtp))
	return r.ntp.Add(time.Duration(d * int64(time.Second) / int64(rate))), true
}

// ntpTime converts a 64-bit NTP timestamp (seconds since 1900, then a
// binary fraction of a second) to a time. A fraction below 10^9 may be
// gortsplib's nanoseconds instead; then the reading closer to the arrival
// time recv wins.
func ntpTime(v uint64, recv time.Time) time.Time {
	const unixFrom1900 = 2208988800
	sec := int64(v>>32) - unixFrom1900
	frac := v & 0xffffffff
	std := time.Unix(sec, int64(frac*1e9>>32)).UTC()
	if frac >= 1e9 {
		return std
	}
	ns := time.Unix(sec, int64(frac)).UTC()
	if ns.Sub(recv).Abs() < std.Sub(recv).Abs() {
		return ns
	}
	return std
}
