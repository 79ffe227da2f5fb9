package ingest

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"vigil/internal/testkit"
	"vigil/media"
)

// fakeTimer times packets by their RTP timestamp.
type fakeTimer struct{}

func (fakeTimer) PacketPTS2(_ *description.Media, p *rtp.Packet) (int64, bool) {
	return int64(p.Timestamp), true
}

func (fakeTimer) PacketNTP(*description.Media, *rtp.Packet) (time.Time, bool) {
	return time.Time{}, false
}

type pipelineRig struct {
	p      *pipeline
	hub    *Hub
	sink   *recSink
	status *streamStatus
	logs   *testkit.LogBuffer
	enc    interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
}

// newPipelineRig builds a pipeline for one H.264 media (with the given SDP
// parameter sets, possibly nil) and optional AAC, feeding a recording sink.
func newPipelineRig(t *testing.T, sps, pps []byte, withAudio bool) *pipelineRig {
	t.Helper()
	h264f := &format.H264{PayloadTyp: 96, SPS: sps, PPS: pps, PacketizationMode: 1}
	formats := []format.Format{h264f}
	if withAudio {
		formats = append(formats, &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
			Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2}})
	}
	r := newRig(t, formats...)
	enc, err := h264f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	r.enc = enc
	return r
}

// newRig builds a pipeline for one media per format.
func newRig(t *testing.T, formats ...format.Format) *pipelineRig {
	t.Helper()
	var medias []*description.Media
	for _, f := range formats {
		typ := description.MediaTypeVideo
		if _, ok := f.(*format.MPEG4Audio); ok {
			typ = description.MediaTypeAudio
		} else if _, ok := f.(*format.Opus); ok {
			typ = description.MediaTypeAudio
		}
		medias = append(medias, &description.Media{Type: typ, Formats: []format.Format{f}})
	}
	sel, err := selectMedias(medias)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLogger(t)
	r := &pipelineRig{hub: NewHub("t"), sink: &recSink{}, status: newStreamStatus(time.Now), logs: logs}
	r.hub.Subscribe("rec", 10000, r.sink)
	r.p, err = newPipeline(sel, r.hub, r.status, newWarnings(log, time.Hour, time.Now), fakeTimer{}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// video sends one access unit with the given PTS.
func (r *pipelineRig) video(t *testing.T, au [][]byte, pts int64) {
	t.Helper()
	pkts, err := r.enc.Encode(au)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		p.Timestamp = uint32(pts)
		r.p.onVideo(p)
	}
}

// finish ends the session and waits for the sink.
func (r *pipelineRig) finish() []event {
	r.p.close()
	r.hub.Close()
	return r.sink.snapshot()
}

func TestPipelineWaitsForInBandParamsAndRestartsRunOnChange(t *testing.T) {
	a, b := makeClip(t), makeClipSize(t, "160x120")
	r := newPipelineRig(t, nil, nil, false) // no parameter sets in the SDP

	r.video(t, a.aus[1], 0) // a P-frame before anything: dropped quietly
	for i := range 30 {     // clip a, its IDR carrying SPS/PPS in-band
		r.video(t, a.aus[i], int64(i+1)*3600)
	}
	for i := range 10 { // then clip b: new SPS/PPS mid-session
		r.video(t, b.aus[i], int64(i+31)*3600)
	}
	ev := r.finish()

	var begins [][]media.Track
	for _, e := range ev {
		if e.kind == "begin" {
			begins = append(begins, e.tracks)
		}
	}
	if len(begins) != 2 {
		t.Fatalf("got %d Begins, want 2 (the second for new parameter sets)", len(begins))
	}
	if tr := begins[0][0]; tr.Width != 320 || tr.Height != 240 || string(tr.SPS) != string(a.sps) {
		t.Errorf("first run track %dx%d", tr.Width, tr.Height)
	}
	if tr := begins[1][0]; tr.Width != 160 || tr.Height != 120 || string(tr.SPS) != string(b.sps) {
		t.Errorf("second run track %dx%d", tr.Width, tr.Height)
	}
	if ev[0].kind != "begin" || ev[1].kind != "unit" || !ev[1].unit.Key || ev[1].unit.PTS != 3600 {
		t.Errorf("first run does not open with the IDR: %+v", ev[1])
	}
	if n := r.sink.count("unit"); n != 40 {
		t.Errorf("got %d units, want 40", n)
	}
	for _, u := range r.sink.units(-1) {
		for _, n := range u.Payload {
			if typ := n[0] & 0x1f; typ == 9 || (!u.Key && (typ == 7 || typ == 8)) {
				t.Fatalf("unit carries NALU type %d", typ)
			}
		}
	}
	if st := r.status.snapshot(); st.Width != 160 || st.Codec != "H264" {
		t.Errorf("status %+v", st)
	}
}

func TestPipelineDropsBackwardFramesUntilKeyframe(t *testing.T) {
	a := makeClip(t)
	r := newPipelineRig(t, a.sps, a.pps, false)
	pts := []int64{0, 3600, 7200, 3600, 10800, 14400} // frame 3 goes backwards
	for i, p := range pts {
		r.video(t, a.aus[i], p)
	}
	r.video(t, a.aus[25], 90000) // next IDR: recovers
	r.video(t, a.aus[26], 93600)
	r.finish()

	got := r.sink.units(-1)
	var want = []int64{0, 3600, 7200, 90000, 93600}
	if len(got) != len(want) {
		t.Fatalf("got %d units, want %d", len(got), len(want))
	}
	for i, u := range got {
		if u.PTS != want[i] {
			t.Errorf("unit %d PTS %d, want %d", i, u.PTS, want[i])
		}
	}
	if st := r.status.snapshot(); st.FramesDropped != 3 {
		t.Errorf("FramesDropped %d, want 3 (backwards frame and the 2 after it)", st.FramesDropped)
	}
	// The first problem is logged, the two after it summarised in one line.
	if logs := r.logs.String(); strings.Count(logs, "level=WARN") != 2 ||
		!strings.Contains(logs, `msg="video decode error (repeated)" count=2`) {
		t.Errorf("want a warning and a summary, got:\n%s", logs)
	}
}

func TestPipelineAudioWaitsForVideoKeyframe(t *testing.T) {
	a := makeClip(t)
	r := newPipelineRig(t, a.sps, a.pps, true)
	aac := func(ts uint32) {
		// RFC 3640 AU-headers: one 13+3-bit header for a 4-byte AU.
		payload := []byte{0x00, 0x10, 0x00, 0x20, 1, 2, 3, 4}
		r.p.onAudio(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 97, Timestamp: ts, Marker: true}, Payload: payload})
	}
	aac(0) // before any video: dropped
	r.video(t, a.aus[0], 0)
	aac(1024)
	r.video(t, a.aus[1], 3600)
	aac(512) // backwards
	ev := r.finish()
	kinds := []string{}
	for _, e := range ev {
		k := e.kind
		if e.unit != nil {
			k = map[int]string{0: "video", 1: "audio"}[e.unit.Track]
		}
		kinds = append(kinds, k)
	}
	if got := strings.Join(kinds, ","); got != "begin,video,audio,video,end" {
		t.Errorf("events %s", got)
	}
	if st := r.status.snapshot(); st.FramesDropped != 1 || st.Codec != "H264, AAC" {
		t.Errorf("status %+v", st)
	}
}

// FuzzPipeline feeds arbitrary packets to H.264 + AAC and to H.265 + Opus
// decoding: nothing may panic (a recovered panic is logged, and fails the
// fuzz test). Each packet is: flags (bit 0: audio, bit 1: marker), a 16-bit
// timestamp, a length and the payload.
func FuzzPipeline(f *testing.F) {
	for _, p := range junkPayloads {
		f.Add(false, append([]byte{2, 0, 0, byte(len(p))}, p...))
	}
	f.Add(false, []byte{3, 0, 0, 8, 0x00, 0x10, 0x00, 0x20, 1, 2, 3, 4})
	f.Add(false, append(append([]byte{2, 0, 0, byte(len(testSPS))}, testSPS...), append([]byte{2, 0, 0, 4}, testPPS...)...))
	f.Add(true, []byte{2, 0, 0, 3, 0x40, 0x01, 0x0c, 2, 0, 1, 2, 0x42, 0x01, 3, 0, 0, 3, 0x26, 0x01, 0xaf})
	f.Add(true, []byte{3, 0, 0, 3, 0xfc, 0xff, 0xfe})
	f.Fuzz(func(t *testing.T, hevc bool, data []byte) {
		var r *pipelineRig
		if hevc {
			r = newRig(t, &format.H265{PayloadTyp: 96}, &format.Opus{PayloadTyp: 97, ChannelCount: 2})
		} else {
			r = newPipelineRig(t, testSPS, testPPS, true)
		}
		for len(data) >= 4 {
			n := min(int(data[3]), len(data)-4)
			pkt := &rtp.Packet{Header: rtp.Header{
				Version: 2, Marker: data[0]&2 != 0, Timestamp: uint32(binary.BigEndian.Uint16(data[1:3])),
			}, Payload: data[4 : 4+n]}
			if data[0]&1 == 0 {
				pkt.PayloadType = 96
				r.p.onVideo(pkt)
			} else {
				pkt.PayloadType = 97
				r.p.onAudio(pkt)
			}
			data = data[4+n:]
		}
		r.finish()
		if strings.Contains(r.logs.String(), "panic") {
			t.Fatalf("decoder panicked: %s", r.logs)
		}
	})
}
