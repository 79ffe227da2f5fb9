package ingest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"vigil/media"
)

// packetTimer gives RTP packets their decoded timestamps; it is implemented
// by *gortsplib.ServerSession (publishers) and *gortsplib.Client (sources).
type packetTimer interface {
	PacketPTS2(*description.Media, *rtp.Packet) (int64, bool)
	PacketNTP(*description.Media, *rtp.Packet) (time.Time, bool)
}

// pipeline turns one session's RTP packets into a hub session: it decodes
// the chosen formats, waits for video parameter sets and the first keyframe,
// calls Begin (again when parameter sets change) and End.
type pipeline struct {
	hub    *Hub
	status *streamStatus
	warn   *warnings
	timer  packetTimer
	now    func() time.Time

	mu     sync.Mutex
	video  *videoDecoder
	audio  *audioDecoder
	vMedia *description.Media
	aMedia *description.Media
	vIndex int // track indexes (video first), -1 if absent
	aIndex int
	begun  bool
	sawKey bool // the run's first video keyframe went out
	closed bool
}

func newPipeline(sel selection, hub *Hub, status *streamStatus, warn *warnings,
	timer packetTimer, now func() time.Time,
) (*pipeline, error) {
	p := &pipeline{hub: hub, status: status, warn: warn, timer: timer, now: now, vIndex: -1, aIndex: -1}
	n := 0
	if sel.video != nil {
		v, err := newVideoDecoder(sel.video.format)
		if err != nil {
			return nil, err
		}
		p.video, p.vMedia, p.vIndex = v, sel.video.media, n
		n++
	}
	if sel.audio != nil {
		a, err := newAudioDecoder(sel.audio.format)
		if err != nil {
			return nil, err
		}
		p.audio, p.aMedia, p.aIndex = a, sel.audio.media, n
	}
	if p.video == nil && p.audio == nil {
		return nil, fmt.Errorf("%w: no media", ErrUnsupportedCodec)
	}
	return p, nil
}

// register installs the packet callbacks through on, which is a session's
// or a client's OnPacketRTP. The selection must only hold set-up medias.
func (p *pipeline) register(sel selection, on func(*description.Media, format.Format, gortsplib.OnPacketRTPFunc)) {
	if sel.video != nil {
		on(sel.video.media, sel.video.format, p.onVideo)
	}
	if sel.audio != nil {
		on(sel.audio.media, sel.audio.format, p.onAudio)
	}
}

func (p *pipeline) tracks() []media.Track {
	var tr []media.Track
	if p.video != nil {
		tr = append(tr, p.video.track())
	}
	if p.audio != nil {
		tr = append(tr, p.audio.tr)
	}
	return tr
}

// onVideo handles one packet of the video format.
func (p *pipeline) onVideo(pkt *rtp.Packet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.recoverPanic()
	if p.closed {
		return
	}
	pts, ok := p.timer.PacketPTS2(p.vMedia, pkt)
	if !ok {
		return
	}
	u, err := p.video.decode(pkt, pts)
	if err != nil {
		p.problem("video decode error", err)
	}
	if u == nil {
		return
	}
	if p.video.changed && p.begun {
		p.begin() // new parameter sets: a new recording run
	}
	if !p.begun {
		p.begin()
	}
	if !p.sawKey {
		if !u.Key {
			return
		}
		p.sawKey = true
	}
	u.Track = p.vIndex
	u.NTP, _ = p.timer.PacketNTP(p.vMedia, pkt)
	p.emit(u, 90000)
}

// onAudio handles one packet of the audio format.
func (p *pipeline) onAudio(pkt *rtp.Packet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.recoverPanic()
	if p.closed {
		return
	}
	pts, ok := p.timer.PacketPTS2(p.aMedia, pkt)
	if !ok {
		return
	}
	ntp, _ := p.timer.PacketNTP(p.aMedia, pkt)
	units, err := p.audio.decode(pkt, pts, ntp)
	if err != nil {
		p.problem("audio decode error", err)
	}
	if len(units) == 0 {
		return
	}
	if p.video != nil && !p.sawKey {
		return // audio starts with the first video keyframe
	}
	if !p.begun {
		p.begin()
	}
	for _, u := range units {
		u.Track = p.aIndex
		p.emit(u, 0)
	}
}

func (p *pipeline) begin() {
	tr := p.tracks()
	p.begun, p.sawKey = true, false
	p.status.setTracks(tr)
	p.hub.Begin(tr)
}

func (p *pipeline) emit(u *media.Unit, videoClock int) {
	u.Recv = p.now()
	p.status.addUnit(u, videoClock)
	p.hub.Write(u)
}

func (p *pipeline) problem(what string, err error) {
	if errors.Is(err, errFrameDropped) {
		p.status.addDropped(1)
	}
	p.warn.add(what, err)
}

// recoverPanic is the last line of defence against a decoder bug on
// hostile input: the packet is dropped, counted and logged.
func (p *pipeline) recoverPanic() {
	if r := recover(); r != nil {
		p.status.addDropped(1)
		p.warn.add("panic while decoding a packet", fmt.Errorf("%v", r))
	}
}

// close ends the hub session, if one began; later packets are ignored.
func (p *pipeline) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.begun {
		p.hub.End()
	}
	p.warn.flush()
}
