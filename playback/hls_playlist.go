package playback

import (
	"strconv"
	"time"

	"vigil/fragments"
)

// hlsVersion is the protocol version the playlists need: EXT-X-MAP in a
// playlist without I-frames only (version 6). Blocking reload (EXT-X-
// SERVER-CONTROL) needs no particular version.
const hlsVersion = 6

// gapTolerance is how far apart in server time two consecutive fragments
// may be and still play as one: a longer gap gets an EXT-X-DISCONTINUITY.
const gapTolerance = 50 * time.Millisecond

// discontinuous reports whether f does not continue prev: another run
// (another init segment and media timeline), a gap, or a step back in
// server time (a run's time anchor moved after the publisher stalled), so
// that players map EXT-X-PROGRAM-DATE-TIME afresh.
func discontinuous(prev, f fragments.Fragment) bool {
	d := f.ServerTime.Sub(prev.ServerTime.Add(prev.Duration))
	return f.Run != prev.Run || d > gapTolerance || d < -gapTolerance
}

// segmentList renders the segment lines of a media playlist, fragment by
// fragment in playlist order, and keeps what the header needs. It is built
// inside a store iteration, so it appends to one buffer with strconv and
// never allocates per segment.
type segmentList struct {
	buf         []byte
	n           int
	first, last fragments.Fragment
	maxMS       int64
	allKey      bool
	// mapNumber is the fragment number whose run's init segment EXT-X-MAP
	// names for f's run; nil means f itself.
	mapNumber func(f fragments.Fragment) uint64
}

func (l *segmentList) add(f fragments.Fragment) {
	b := l.buf
	if l.n == 0 {
		l.first, l.allKey = f, true
	} else if discontinuous(l.last, f) {
		b = append(b, "#EXT-X-DISCONTINUITY\n"...)
	}
	if l.n == 0 || f.Run != l.last.Run {
		m := f.Number
		if l.mapNumber != nil {
			m = l.mapNumber(f)
		}
		b = append(b, `#EXT-X-MAP:URI="init/`...)
		b = strconv.AppendUint(b, m, 10)
		b = append(b, ".mp4\"\n"...)
	}
	b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
	b = f.ServerTime.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	ms := durationMS(f.Duration)
	b = append(b, "\n#EXTINF:"...)
	b = appendSeconds(b, ms)
	b = append(b, ",\nseg/"...)
	b = strconv.AppendUint(b, f.Number, 10)
	b = append(b, ".m4s\n"...)
	l.buf = b
	l.maxMS = max(l.maxMS, ms)
	l.allKey = l.allKey && f.Keyframe
	l.last = f
	l.n++
}

// durationMS is d in whole milliseconds, rounded, and at least 1: EXTINF
// must not be zero.
func durationMS(d time.Duration) int64 {
	return max(int64((d+time.Millisecond/2)/time.Millisecond), 1)
}

// appendSeconds appends ms as seconds with three decimals.
func appendSeconds(b []byte, ms int64) []byte {
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// targetDuration is EXT-X-TARGETDURATION for a longest EXTINF of maxMS: its
// ceiling in seconds, so that no EXTINF rounded to an integer exceeds it.
func targetDuration(maxMS int64) int {
	return int(max((maxMS+999)/1000, 1))
}

// playlistKind is what a playlist promises about its future.
type playlistKind int

const (
	kindLive   playlistKind = iota // a sliding window
	kindReplay                     // grows at the end from a fixed start; starts playing at its start
	kindEvent                      // on demand, but its end is still in the future
	kindVOD                        // complete
)

// header is a media playlist's header.
type header struct {
	kind     playlistKind
	target   int
	sequence uint64 // EXT-X-MEDIA-SEQUENCE
	dseq     uint64 // EXT-X-DISCONTINUITY-SEQUENCE
	ended    bool   // EXT-X-ENDLIST
}

// render writes a whole playlist: the header, then l's segments.
func render(h header, l *segmentList) []byte {
	b := make([]byte, 0, 320+len(l.buf))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, hlsVersion, 10)
	if l.allKey {
		b = append(b, "\n#EXT-X-INDEPENDENT-SEGMENTS"...)
	}
	b = append(b, "\n#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, int64(h.target), 10)
	switch h.kind {
	case kindVOD:
		b = append(b, "\n#EXT-X-PLAYLIST-TYPE:VOD"...)
	case kindEvent:
		b = append(b, "\n#EXT-X-PLAYLIST-TYPE:EVENT"...)
	case kindReplay:
		// TIME-OFFSET=0 is valid but some parsers (gohlslib) refuse it; a
		// millisecond in, not precise, starts at the first segment.
		b = append(b, "\n#EXT-X-START:TIME-OFFSET=0.001"...)
	}
	if !h.ended {
		b = append(b, "\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"...)
	}
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	b = strconv.AppendUint(b, h.sequence, 10)
	b = append(b, "\n#EXT-X-DISCONTINUITY-SEQUENCE:"...)
	b = strconv.AppendUint(b, h.dseq, 10)
	b = append(b, '\n')
	b = append(b, l.buf...)
	if h.ended {
		b = append(b, "#EXT-X-ENDLIST\n"...)
	}
	return b
}
