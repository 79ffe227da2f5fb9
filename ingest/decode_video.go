package ingest

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"vigil/media"
)

// naluKind sorts NAL units for the decoder.
type naluKind int

const (
	naluData naluKind = iota
	naluVPS
	naluSPS
	naluPPS
	naluDrop // access unit delimiters: dropped, the unit is the delimiter
)

type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

type rtpAUDecoder interface {
	Decode(*rtp.Packet) ([][]byte, error)
}

// videoCodec is what differs between H.264 and H.265 for the decoder.
type videoCodec struct {
	codec    media.Codec
	needVPS  bool
	classify func(nalu []byte) naluKind
	isKey    func(au [][]byte) bool
	size     func(sps []byte) (w, h int, err error)
	newDTS   func() dtsExtractor
	benign   []error // RTP depacketizer errors that only mean "not yet"
}

var h264Codec = videoCodec{
	codec: media.H264,
	classify: func(n []byte) naluKind {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			return naluSPS
		case h264.NALUTypePPS:
			return naluPPS
		case h264.NALUTypeAccessUnitDelimiter:
			return naluDrop
		}
		return naluData
	},
	isKey: h264.IsRandomAccess,
	size: func(b []byte) (int, int, error) {
		var sps h264.SPS
		if err := sps.Unmarshal(b); err != nil {
			return 0, 0, err
		}
		return sps.Width(), sps.Height(), nil
	},
	newDTS: func() dtsExtractor {
		d := &h264.DTSExtractor{}
		d.Initialize()
		return d
	},
	benign: []error{rtph264.ErrMorePacketsNeeded, rtph264.ErrNonStartingPacketAndNoPrevious},
}

var h265Codec = videoCodec{
	codec:   media.H265,
	needVPS: true,
	classify: func(n []byte) naluKind {
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return naluVPS
		case h265.NALUType_SPS_NUT:
			return naluSPS
		case h265.NALUType_PPS_NUT:
			return naluPPS
		case h265.NALUType_AUD_NUT:
			return naluDrop
		}
		return naluData
	},
	isKey: h265.IsRandomAccess,
	size: func(b []byte) (int, int, error) {
		var sps h265.SPS
		if err := sps.Unmarshal(b); err != nil {
			return 0, 0, err
		}
		return sps.Width(), sps.Height(), nil
	},
	newDTS: func() dtsExtractor {
		d := &h265.DTSExtractor{}
		d.Initialize()
		return d
	},
	benign: []error{rtph265.ErrMorePacketsNeeded, rtph265.ErrNonStartingPacketAndNoPrevious},
}

// errFrameDropped marks decode errors that cost a frame (counted in
// Status.FramesDropped), as opposed to a malformed packet.
var errFrameDropped = errors.New("frame dropped")

// videoDecoder turns RTP packets of one H.264/H.265 format into access units
// with decode timestamps. Parameter sets are kept out of band (in the track)
// and repeated ahead of every keyframe, so each keyframe is self-contained.
type videoDecoder struct {
	c   *videoCodec
	rtp rtpAUDecoder

	vps, sps, pps []byte
	width, height int
	changed       bool // parameter sets changed since track() was last called

	dts     dtsExtractor
	started bool // a keyframe went through the extractor
	dtsBad  bool // the extractor failed: wait for a keyframe, start afresh

	// the depacketizer's pending frame, to time access units it completes
	// on a timestamp change rather than on a marker
	pending bool
	pendTS  uint32
	pendPTS int64
}

func newVideoDecoder(f format.Format) (*videoDecoder, error) {
	v := &videoDecoder{}
	var err error
	switch f := f.(type) {
	case *format.H264:
		v.c = &h264Codec
		v.rtp, err = f.CreateDecoder()
		sps, pps := f.SafeParams()
		v.setParams(nil, sps, pps) //nolint:errcheck // a bad SDP SPS waits for an in-band one
	case *format.H265:
		v.c = &h265Codec
		v.rtp, err = f.CreateDecoder()
		vps, sps, pps := f.SafeParams()
		v.setParams(vps, sps, pps) //nolint:errcheck
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, f.Codec())
	}
	if err != nil {
		return nil, fmt.Errorf("create %s depacketizer: %w", v.c.codec, err)
	}
	v.dts = v.c.newDTS()
	v.changed = false
	return v, nil
}

// ready reports whether the parameter sets needed to describe the track are known.
func (v *videoDecoder) ready() bool {
	return v.sps != nil && v.pps != nil && (!v.c.needVPS || v.vps != nil)
}

func (v *videoDecoder) track() media.Track {
	v.changed = false
	return media.Track{
		Codec: v.c.codec, ClockRate: 90000,
		VPS: v.vps, SPS: v.sps, PPS: v.pps,
		Width: v.width, Height: v.height,
	}
}

// setParams adopts the non-nil parameter sets that differ from the current
// ones. An SPS that does not parse is refused.
func (v *videoDecoder) setParams(vps, sps, pps []byte) error {
	var err error
	if len(sps) > 0 && !bytes.Equal(sps, v.sps) {
		w, h, perr := v.c.size(sps)
		if perr != nil {
			err = fmt.Errorf("invalid SPS: %w", perr)
		} else {
			v.sps, v.width, v.height, v.changed = bytes.Clone(sps), w, h, true
		}
	}
	if len(pps) > 0 && !bytes.Equal(pps, v.pps) {
		v.pps, v.changed = bytes.Clone(pps), true
	}
	if len(vps) > 0 && !bytes.Equal(vps, v.vps) {
		v.vps, v.changed = bytes.Clone(vps), true
	}
	return err
}

// decode feeds one packet with its PTS. It returns the access unit the
// packet completes, if any (Track, NTP and Recv left for the caller).
func (v *videoDecoder) decode(pkt *rtp.Packet, pts int64) (*media.Unit, error) {
	split := v.pending && pkt.Timestamp != v.pendTS
	nalus, err := v.rtp.Decode(pkt)
	switch {
	case err != nil && v.isBenign(err):
		v.pending, v.pendTS, v.pendPTS = true, pkt.Timestamp, pts
		return nil, nil
	case err != nil:
		v.pending = false
		return nil, fmt.Errorf("depacketize %s: %w", v.c.codec, err)
	case split:
		pts, v.pendTS, v.pendPTS = v.pendPTS, pkt.Timestamp, pts
	default:
		v.pending = false
	}

	var vps, sps, pps []byte
	au := make([][]byte, 0, len(nalus)+3)
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch v.c.classify(n) {
		case naluVPS:
			vps = n
		case naluSPS:
			sps = n
		case naluPPS:
			pps = n
		case naluData:
			au = append(au, n)
		}
	}
	perr := v.setParams(vps, sps, pps)
	if len(au) == 0 || !v.ready() {
		return nil, perr
	}

	key := v.c.isKey(au)
	if !key && (!v.started || v.dtsBad) {
		if v.dtsBad {
			return nil, fmt.Errorf("%w: waiting for a keyframe after a timing error", errFrameDropped)
		}
		return nil, perr // joined mid-GOP: not a loss
	}
	if key {
		if v.dtsBad {
			v.dts, v.dtsBad = v.c.newDTS(), false
		}
		params := [][]byte{v.sps, v.pps}
		if v.c.needVPS {
			params = [][]byte{v.vps, v.sps, v.pps}
		}
		au = append(params, au...)
	}
	dts, err := v.dts.Extract(au, pts)
	if err != nil {
		v.dtsBad = true
		return nil, fmt.Errorf("%w: %s decode time: %w", errFrameDropped, v.c.codec, err)
	}
	v.started = true
	return &media.Unit{PTS: pts, DTS: dts, Key: key, Payload: au}, perr
}

func (v *videoDecoder) isBenign(err error) bool {
	for _, b := range v.c.benign {
		if errors.Is(err, b) {
			return true
		}
	}
	return false
}
