package ingest

import (
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// srClock gives packets their producer (NTP) time from RTCP sender reports.
// gortsplib maps a report to a format by the sender's SSRC, which it learns
// from the first RTP packet; a report that arrives before any RTP packet is
// dropped. ffmpeg sends its first report exactly then and the next one only
// about 5 s later, so without this the first seconds of every ffmpeg
// publisher would have no producer time. srClock keeps every report and
// matches it to packets by SSRC itself.
type srClock struct {
	packetTimer
	mu      sync.Mutex
	reports map[*description.Media]senderReport
}

type senderReport struct {
	ssrc uint32
	ntp  time.Time
	rtp  uint32
}

func newSRClock(t packetTimer) *srClock {
	return &srClock{packetTimer: t, reports: map[*description.Media]senderReport{}}
}

// onRTCP is installed with OnPacketRTCPAny.
func (c *srClock) onRTCP(medi *description.Media, pkt rtcp.Packet) {
	sr, ok := pkt.(*rtcp.SenderReport)
	if !ok {
		return
	}
	c.mu.Lock()
	c.reports[medi] = senderReport{ssrc: sr.SSRC, ntp: ntpTime(sr.NTPTime), rtp: sr.RTPTime}
	c.mu.Unlock()
}

// PacketNTP returns gortsplib's answer when it has one, else the time from
// the latest report of the packet's sender.
func (c *srClock) PacketNTP(medi *description.Media, pkt *rtp.Packet) (time.Time, bool) {
	if t, ok := c.packetTimer.PacketNTP(medi, pkt); ok {
		return t, true
	}
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

// ntpTime converts a 64-bit NTP timestamp (seconds since 1900 and a binary
// fraction) to a time.
func ntpTime(v uint64) time.Time {
	const unixFrom1900 = 2208988800
	sec := int64(v>>32) - unixFrom1900
	frac := (v & 0xffffffff) * 1e9 >> 32
	return time.Unix(sec, int64(frac)).UTC()
}
