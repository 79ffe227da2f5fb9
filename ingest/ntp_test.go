package ingest

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

type noNTP struct{}

func (noNTP) PacketPTS2(*description.Media, *rtp.Packet) (int64, bool) { return 0, false }
func (noNTP) PacketNTP(*description.Media, *rtp.Packet) (time.Time, bool) {
	return time.Time{}, false
}

// A sender report that arrives before the first RTP packet still dates the
// packets that follow it, and only those of the same sender.
func TestSRClockUsesEarlyReport(t *testing.T) {
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}}
	c := newSRClock(noNTP{})
	at := time.Date(2026, 11, 26, 10, 0, 0, 500_000_000, time.UTC)
	ntp := uint64(at.Unix()+2208988800)<<32 | uint64(0.5*(1<<32))
	c.onRTCP(medi, &rtcp.SenderReport{SSRC: 7, NTPTime: ntp, RTPTime: 4_294_967_000})
	wrapped := uint32(4_294_967_000)
	wrapped += 90_000 // one second later, across the 32-bit wrap
	got, ok := c.PacketNTP(medi, &rtp.Packet{Header: rtp.Header{SSRC: 7, PayloadType: 96, Timestamp: wrapped}})
	if !ok || got.Sub(at.Add(time.Second)).Abs() > time.Microsecond {
		t.Fatalf("got %v %v, want %v (one second later, across the 32-bit wrap)", got, ok, at.Add(time.Second))
	}
	if _, ok := c.PacketNTP(medi, &rtp.Packet{Header: rtp.Header{SSRC: 8, PayloadType: 96}}); ok {
		t.Fatal("dated a packet of another sender")
	}
}
