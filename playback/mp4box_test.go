package playback

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// testInit is an init segment as the store writes it: H.264 (track 1,
// 90 kHz) and AAC (track 2, 48 kHz), made by mediacommon.
func testInit(t testing.TB) []byte {
	t.Helper()
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}},
		{ID: 2, TimeScale: 48000, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{
			Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}}},
	}}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testPart is a fragment as the store writes it: 50 video samples of 3600
// ticks from videoBase and 94 audio samples of 1024 from audioBase.
func testPart(t testing.TB, seq uint32, videoBase, audioBase uint64) []byte {
	t.Helper()
	p := fmp4.Part{SequenceNumber: seq}
	v := &fmp4.PartTrack{ID: 1, BaseTime: videoBase}
	for i := range 50 {
		v.Samples = append(v.Samples, &fmp4.Sample{Duration: 3600, PTSOffset: int32(i % 3 * 3600), IsNonSyncSample: i > 0, Payload: []byte{0, 0, 0, 1, 0x41}})
	}
	a := &fmp4.PartTrack{ID: 2, BaseTime: audioBase}
	for range 94 {
		a.Samples = append(a.Samples, &fmp4.Sample{Duration: 1024, Payload: []byte{1, 2, 3}})
	}
	p.Tracks = []*fmp4.PartTrack{v, a}
	var buf seekablebuffer.Buffer
	if err := p.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// find returns the payload of the first box at path (e.g. "moov/mvex/mehd").
func find(t testing.TB, b []byte, path ...string) []byte {
	t.Helper()
	from, to := 0, len(b)
	for _, typ := range path {
		var found *box
		if err := walk(b, from, to, func(bx box) error {
			if bx.typ == typ && found == nil {
				found = &bx
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if found == nil {
			return nil
		}
		from, to = found.payload(), found.end
	}
	return b[from:to]
}

func TestPatchInit(t *testing.T) {
	init := testInit(t)
	out, info, err := patchInit(init, 30500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(init)+20 || info.movieScale != 1000 || info.tracks[1].scale != 90000 || info.tracks[2].scale != 48000 {
		t.Fatalf("%d bytes from %d, info %+v", len(out), len(init), info)
	}
	mehd := find(t, out, "moov", "mvex", "mehd")
	if mehd == nil || binary.BigEndian.Uint64(mehd[4:]) != 30500 {
		t.Fatalf("mehd %x", mehd)
	}
	if mvhd := find(t, out, "moov", "mvhd"); binary.BigEndian.Uint32(mvhd[16:]) != 30500 {
		t.Errorf("mvhd duration %d", binary.BigEndian.Uint32(mvhd[16:]))
	}
	if tkhd := find(t, out, "moov", "trak", "tkhd"); binary.BigEndian.Uint32(tkhd[20:]) != 30500 {
		t.Errorf("tkhd duration %d", binary.BigEndian.Uint32(tkhd[20:]))
	}
	// mediacommon reads the patched init back; patching it again updates
	// the mehd in place.
	var back fmp4.Init
	if err := back.Unmarshal(bytes.NewReader(out)); err != nil || len(back.Tracks) != 2 {
		t.Fatalf("unmarshal patched init: %v", err)
	}
	again, _, err := patchInit(out, time.Second)
	if err != nil || len(again) != len(out) || binary.BigEndian.Uint64(find(t, again, "moov", "mvex", "mehd")[4:]) != 1000 {
		t.Fatalf("patching twice: %v, %d bytes", err, len(again))
	}
	if !bytes.Equal(init, testInit(t)) {
		t.Errorf("patchInit changed its input")
	}
}

func TestPatchMoof(t *testing.T) {
	_, info, err := patchInit(testInit(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	frag := testPart(t, 77, 900000, 480000)
	moofLen := int(binary.BigEndian.Uint32(frag))
	moof := append([]byte(nil), frag[:moofLen]...)
	m, err := parseMoof(moof, info)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.trafs) != 2 || m.trafs[0].base != 900000 || m.trafs[0].dur != 50*3600 || m.trafs[1].base != 480000 || m.trafs[1].dur != 94*1024 {
		t.Fatalf("trafs %+v", m.trafs)
	}
	m.setSequence(moof, 1)
	if err := setBase(moof, m.trafs[0], 0); err != nil {
		t.Fatal(err)
	}
	if err := setBase(moof, m.trafs[1], 5); err != nil {
		t.Fatal(err)
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(append(moof, frag[moofLen:]...)); err != nil {
		t.Fatal(err)
	}
	p := parts[0]
	if p.SequenceNumber != 1 || p.Tracks[0].BaseTime != 0 || p.Tracks[1].BaseTime != 5 || len(p.Tracks[0].Samples) != 50 {
		t.Errorf("patched part: seq %d, bases %d %d", p.SequenceNumber, p.Tracks[0].BaseTime, p.Tracks[1].BaseTime)
	}
}

// FuzzPatchInit: any bytes, never a panic; a patched init walks cleanly and
// grew by one mehd at most.
func FuzzPatchInit(f *testing.F) {
	init := testInit(f)
	f.Add(init, uint16(30))
	f.Add(init[:len(init)/2], uint16(1))
	f.Add([]byte{0, 0, 0, 8, 'm', 'o', 'o', 'v'}, uint16(0))
	f.Add([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'v', 0, 0, 0, 0, 0, 0, 0, 16}, uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, seconds uint16) {
		in := append([]byte(nil), b...)
		out, _, err := patchInit(b, time.Duration(seconds)*time.Second)
		if !bytes.Equal(in, b) {
			t.Fatal("input modified")
		}
		if err != nil {
			return
		}
		if len(out) != len(b) && len(out) != len(b)+20 {
			t.Fatalf("%d bytes from %d", len(out), len(b))
		}
		if err := walk(out, 0, len(out), func(box) error { return nil }); err != nil {
			t.Fatalf("patched init does not walk: %v", err)
		}
	})
}

// FuzzPatchMoof: any bytes as a moof, never a panic; patching keeps the
// size.
func FuzzPatchMoof(f *testing.F) {
	_, info, err := patchInit(testInit(f), time.Second)
	if err != nil {
		f.Fatal(err)
	}
	frag := testPart(f, 3, 1<<40, 12345)
	moof := frag[:binary.BigEndian.Uint32(frag)]
	f.Add(moof, uint32(0))
	f.Add(moof[:len(moof)-3], uint32(1))
	f.Add([]byte{0, 0, 0, 16, 'm', 'o', 'o', 'f', 0, 0, 0, 8, 'm', 'f', 'h', 'd'}, uint32(7))
	f.Fuzz(func(t *testing.T, b []byte, shift uint32) {
		base := uint64(shift) << (shift % 40) // past 32 bits too: a version 0 tfdt must refuse it
		m, err := parseMoof(b, info)
		if err != nil {
			return
		}
		n := len(b)
		m.setSequence(b, 1)
		for _, tr := range m.trafs {
			setBase(b, tr, base)
		}
		if len(b) != n {
			t.Fatal("size changed")
		}
		if _, err := parseMoof(b, info); err != nil {
			t.Fatalf("patched moof no longer parses: %v", err)
		}
	})
}
