// Package media holds the small vocabulary that ingest, the fragment store and
// playback share: what a track is, what one access unit is, and the Sink
// interface a consumer of a live stream implements. It has no dependencies on
// any of those packages, so each can be built and tested alone.
package media

import "time"

// Codec names a codec vigil records.
type Codec string

// Codecs vigil records. Anything else is refused at ingest.
const (
	H264 Codec = "H264"
	H265 Codec = "H265"
	AAC  Codec = "AAC"
	Opus Codec = "Opus"
)

// IsVideo reports whether c is a video codec.
func (c Codec) IsVideo() bool { return c == H264 || c == H265 }

// Track describes one elementary stream of a publishing session.
type Track struct {
	Codec     Codec
	ClockRate int // ticks per second of PTS and DTS (90000 for video)

	// Video parameter sets, without start codes. VPS is H.265 only.
	VPS, SPS, PPS []byte
	// Decoded from the SPS by ingest, for status and playlists.
	Width, Height int

	// AAC: the raw AudioSpecificConfig. Opus: unused.
	AACConfig []byte
	// Audio sample rate and channel count.
	SampleRate, Channels int
}

// Unit is one access unit: a video picture or one audio frame.
type Unit struct {
	Track int   // index into the session's tracks
	PTS   int64 // presentation time in Track.ClockRate ticks, unwrapped
	DTS   int64 // decode time, same clock; equals PTS for audio and for video without B-frames
	// NTP is the producer's wall clock for this unit (from RTCP sender
	// reports), zero when unknown.
	NTP time.Time
	// Recv is when the server received the unit.
	Recv time.Time
	// Key marks a video random access point (IDR); audio units are always key.
	Key bool
	// Payload is the video access unit as NAL units without start codes, or
	// one audio frame in Payload[0].
	Payload [][]byte
}

// Size is the payload's byte count.
func (u *Unit) Size() int {
	n := 0
	for _, p := range u.Payload {
		n += len(p)
	}
	return n
}

// Sink consumes one stream's media. The hub calls its methods from one
// goroutine per sink, in order: Begin, any number of Write, End, and again
// Begin for the next session. Begin is also called again, without End, when a
// publisher changes codec parameters: that starts a new recording run.
type Sink interface {
	Begin(tracks []Track)
	Write(u *Unit)
	End()
}
