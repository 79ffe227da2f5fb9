package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"vigil/media"
)

// audioDecoder turns RTP packets of one AAC or Opus format into audio units.
type audioDecoder struct {
	tr media.Track
	// frames depacketizes one packet into audio frames
	frames func(*rtp.Packet) ([][]byte, error)
	// step is the duration of one frame in clock ticks, for packets that
	// carry several frames
	step int64

	havePTS bool
	lastPTS int64
}

func newAudioDecoder(f format.Format) (*audioDecoder, error) {
	switch f := f.(type) {
	case *format.MPEG4Audio:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("create AAC depacketizer: %w", err)
		}
		conf, err := f.Config.Marshal()
		if err != nil {
			return nil, fmt.Errorf("AAC config: %w", err)
		}
		rate := f.Config.SampleRate
		a := &audioDecoder{
			tr: media.Track{
				Codec: media.AAC, ClockRate: f.ClockRate(), AACConfig: conf,
				SampleRate: rate, Channels: aacChannels(f.Config),
			},
			step: mpeg4audio.SamplesPerAccessUnit * int64(f.ClockRate()) / int64(rate),
		}
		a.frames = func(pkt *rtp.Packet) ([][]byte, error) {
			aus, err := dec.Decode(pkt)
			if errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
				return nil, nil
			}
			return aus, err
		}
		return a, nil

	case *format.Opus:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("create Opus depacketizer: %w", err)
		}
		a := &audioDecoder{tr: media.Track{
			Codec: media.Opus, ClockRate: f.ClockRate(),
			SampleRate: 48000, Channels: max(f.ChannelCount, 1),
		}}
		a.frames = func(pkt *rtp.Packet) ([][]byte, error) {
			fr, err := dec.Decode(pkt)
			if err != nil || len(fr) == 0 {
				return nil, err
			}
			return [][]byte{fr}, nil
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, f.Codec())
}

func aacChannels(c *mpeg4audio.AudioSpecificConfig) int {
	switch {
	case c.ChannelConfig >= 1 && c.ChannelConfig <= 6:
		return int(c.ChannelConfig)
	case c.ChannelConfig == 7:
		return 8
	case c.ChannelCount > 0:
		return c.ChannelCount //nolint:staticcheck // filled by older encoders' configs
	}
	return 2
}

// decode returns the audio units carried by pkt, whose first frame has the
// given PTS and NTP (zero when unknown).
func (a *audioDecoder) decode(pkt *rtp.Packet, pts int64, ntp time.Time) ([]*media.Unit, error) {
	frames, err := a.frames(pkt)
	if err != nil {
		return nil, fmt.Errorf("depacketize %s: %w", a.tr.Codec, err)
	}
	var units []*media.Unit
	for i, fr := range frames {
		if len(fr) == 0 {
			continue
		}
		p := pts + int64(i)*a.step
		if a.havePTS && p <= a.lastPTS {
			return units, fmt.Errorf("%w: %s timestamp went backwards (%d after %d)",
				errFrameDropped, a.tr.Codec, p, a.lastPTS)
		}
		a.havePTS, a.lastPTS = true, p
		u := &media.Unit{PTS: p, DTS: p, Key: true, Payload: [][]byte{fr}}
		if !ntp.IsZero() {
			u.NTP = ntp.Add(time.Duration(i) * time.Duration(a.step) * time.Second / time.Duration(a.tr.ClockRate))
		}
		units = append(units, u)
	}
	return units, nil
}
