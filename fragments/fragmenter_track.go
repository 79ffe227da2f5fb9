package fragments

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/media"
)

// videoCodec describes the NAL unit types the fragmenter cares about.
type videoCodec struct {
	naluType      func(first byte) uint8
	aud           uint8
	randomAccess  []uint8 // IDR (and CRA for H.265)
	vps, sps, pps uint8   // vps is 0xff when the codec has none
}

var videoCodecs = map[media.Codec]videoCodec{
	media.H264: {
		naluType:     func(b byte) uint8 { return b & 0x1f },
		aud:          9,
		randomAccess: []uint8{5},
		vps:          0xff, sps: 7, pps: 8,
	},
	media.H265: {
		naluType:     func(b byte) uint8 { return (b >> 1) & 0x3f },
		aud:          35,
		randomAccess: []uint8{19, 20, 21},
		vps:          32, sps: 33, pps: 34,
	},
}

// Default sample durations when a stream gives nothing better.
const (
	aacFrameSamples = 1024
	defaultVideoFPS = 25
	opusFrameRate   = 50 // 20 ms frames
	maxClockRate    = 10_000_000
)

// track is one recorded track of a run.
type track struct {
	media.Track
	id    int   // fMP4 track ID
	clock int64 // ticks per second, the fMP4 timescale
	vc    *videoCodec
	aac   mpeg4audio.AudioSpecificConfig

	startTicks int64 // run start in this track's ticks
	lastDTS    int64 // last accepted DTS, absolute
	seen       bool
	lastDur    int64 // last known sample duration, ticks
	samples    []pending
}

// pending is a buffered sample.
type pending struct {
	dts     int64 // run-relative ticks
	dur     int64 // ticks; -1 until the next sample of the track arrives
	ptsOff  int32
	key     bool
	payload []byte
}

// newTrack prepares a media track for recording, or explains why it cannot
// be recorded.
func newTrack(mt media.Track, id int) (*track, error) {
	t := &track{Track: mt, id: id, clock: int64(mt.ClockRate)}
	switch mt.Codec {
	case media.H264, media.H265:
		vc := videoCodecs[mt.Codec]
		t.vc = &vc
		if t.clock <= 0 {
			t.clock = 90000
		}
	case media.AAC:
		if err := t.aac.Unmarshal(mt.AACConfig); err != nil {
			return nil, fmt.Errorf("aac config: %w", err)
		}
		if t.clock <= 0 {
			t.clock = int64(t.aac.SampleRate)
		}
	case media.Opus:
		if t.clock <= 0 {
			t.clock = 48000
		}
	default:
		return nil, fmt.Errorf("codec %q not recorded", mt.Codec)
	}
	if t.clock <= 0 || t.clock > maxClockRate {
		return nil, fmt.Errorf("clock rate %d out of range", t.clock)
	}
	return t, nil
}

func (t *track) video() bool { return t.vc != nil }

// defaultDur is a sample duration to use when none was measured.
func (t *track) defaultDur() int64 {
	switch {
	case t.lastDur > 0:
		return t.lastDur
	case t.video():
		return t.clock / defaultVideoFPS
	case t.Codec == media.AAC:
		return aacFrameSamples * t.clock / int64(max(t.aac.SampleRate, 1))
	}
	return t.clock / opusFrameRate
}

// isKey reports whether an access unit is a random access point.
func (t *track) isKey(u *media.Unit) bool {
	if !t.video() || u.Key {
		return true
	}
	for _, n := range u.Payload {
		if len(n) > 0 && bytes.IndexByte(t.vc.randomAccess, t.vc.naluType(n[0])) >= 0 {
			return true
		}
	}
	return false
}

// learnParams takes the parameter sets carried in an access unit and
// reports whether they differ from the ones the track had.
func (t *track) learnParams(au [][]byte) bool {
	changed := false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		var dst *[]byte
		switch t.vc.naluType(n[0]) {
		case t.vc.vps:
			dst = &t.VPS
		case t.vc.sps:
			dst = &t.SPS
		case t.vc.pps:
			dst = &t.PPS
		default:
			continue
		}
		if !bytes.Equal(*dst, n) {
			changed = changed || len(*dst) > 0
			*dst = bytes.Clone(n)
		}
	}
	return changed
}

// payload converts a unit to an fMP4 sample payload (a fresh copy): video
// as AVCC without access unit delimiters, audio as the raw frame. It
// returns nil when nothing is left.
func (t *track) payload(u *media.Unit) []byte {
	if !t.video() {
		if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
			return nil
		}
		return bytes.Clone(u.Payload[0])
	}
	size := 0
	for _, n := range u.Payload {
		if len(n) > 0 && t.vc.naluType(n[0]) != t.vc.aud {
			size += 4 + len(n)
		}
	}
	if size == 0 {
		return nil
	}
	buf := make([]byte, 0, size)
	for _, n := range u.Payload {
		if len(n) > 0 && t.vc.naluType(n[0]) != t.vc.aud {
			buf = append(buf, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
			buf = append(buf, n...)
		}
	}
	return buf
}

// initTrack is the track's fMP4 init description.
func (t *track) initTrack() (*fmp4.InitTrack, error) {
	it := &fmp4.InitTrack{ID: t.id, TimeScale: uint32(t.clock)}
	switch t.Codec {
	case media.H264:
		if len(t.SPS) == 0 || len(t.PPS) == 0 {
			return nil, fmt.Errorf("h264 track without SPS/PPS")
		}
		it.Codec = &codecs.H264{SPS: t.SPS, PPS: t.PPS}
	case media.H265:
		if len(t.VPS) == 0 || len(t.SPS) == 0 || len(t.PPS) == 0 {
			return nil, fmt.Errorf("h265 track without VPS/SPS/PPS")
		}
		it.Codec = &codecs.H265{VPS: t.VPS, SPS: t.SPS, PPS: t.PPS}
	case media.AAC:
		it.Codec = &codecs.MPEG4Audio{Config: t.aac}
	case media.Opus:
		it.Codec = &codecs.Opus{ChannelCount: max(t.Channels, 1)}
	}
	return it, nil
}

// buildInit marshals the init segment (ftyp+moov) of a run's tracks.
func buildInit(tracks []*track) (b []byte, err error) {
	defer func() {
		// The marshaller parses parameter sets that come from the network.
		if p := recover(); p != nil {
			err = fmt.Errorf("init segment: %v", p)
		}
	}()
	var init fmp4.Init
	for _, t := range tracks {
		if t == nil {
			continue
		}
		it, err := t.initTrack()
		if err != nil {
			return nil, err
		}
		init.Tracks = append(init.Tracks, it)
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("init segment: %w", err)
	}
	return buf.Bytes(), nil
}
