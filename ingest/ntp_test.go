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
	at := time.Date(2026, 11, 26, 10, 0, 0, 500_000_000, time.UTC)
	c := newSRClock(noNTP{}, func() time.Time { return at })
	ntp := uint64(at.Unix()+2208988800)<<32 | uint64(0.5*(1<<32)) // RFC 3550: half a second
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

// Both encodings of the NTP fraction: RFC 3550's binary fraction, and the
// nanoseconds gortsplib's own senders write.
func TestNTPTime(t *testing.T) {
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	sec := uint64(base.Unix()+2208988800) << 32
	cases := []struct {
		name string
		frac uint64
		recv time.Duration // arrival after base
		want time.Duration
	}{
		{"binary 0.75 s", 3 << 30, 760 * time.Millisecond, 750 * time.Millisecond},
		{"binary 0.1 s, arrives then", 429496730, 110 * time.Millisecond, 100 * time.Millisecond},
		{"nanoseconds 0.9 s", 900_000_000, 905 * time.Millisecond, 900 * time.Millisecond},
		{"zero", 0, 0, 0},
	}
	for _, c := range cases {
		got := ntpTime(sec|c.frac, base.Add(c.recv))
		if d := got.Sub(base.Add(c.want)).Abs(); d > time.Microsecond {
			t.Errorf("%s: got %v, want %v", c.name, got, base.Add(c.want))
		}
	}
}
