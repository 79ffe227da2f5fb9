package fragments

import (
	"encoding/binary"
	"testing"
	"time"

	"vigil/media"
)

// FuzzRecorder feeds hostile units (any track index, timestamps, key flags
// and payloads) to a recorder with real codec parameters. Whatever comes in,
// the recorder must not panic and the store must stay consistent.
func FuzzRecorder(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0x65, 0x88, 1, 0, 2, 0x41, 0x9a, 1, 0, 1, 0xff, 0xf1})
	f.Add(binary.BigEndian.AppendUint64([]byte{0, 1, 0x80}, 1<<63))
	f.Add([]byte("\x00\x00\x00\x05\x01\x00\xff\xff\xff\xff\x02\x01\x00\x00\x10\x00\x00\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := loadMedia(t, mediaSpec{"h264", "aac", 1})
		cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{})
		cfg.FragmentTarget = time.Millisecond
		s := openStore(t, cfg)
		rec := s.Recorder("cam")
		rec.Begin(m.tracks)
		var dts [3]int64
		for len(b) >= 4 {
			// op: track, key+flags, dts step (int16), payload length, payload
			tr := int(b[0]) % 3
			u := media.Unit{Track: tr, Key: b[1]&1 != 0, Recv: wallBase}
			dts[tr] += int64(int16(binary.BigEndian.Uint16(b[2:4])))
			if b[1]&2 != 0 {
				dts[tr] = int64(binary.BigEndian.Uint16(b[2:4])) << 48
			}
			u.DTS, u.PTS = dts[tr], dts[tr]+int64(b[1]>>4)*3000
			b = b[4:]
			n := 0
			if len(b) > 0 {
				n = min(int(b[0]), len(b)-1)
				u.Payload = [][]byte{b[1 : 1+n]}
				if b[1&(len(b)-1)]&1 == 0 && n > 2 {
					u.Payload = [][]byte{b[1 : 1+n/2], {}, b[1+n/2 : 1+n]}
				}
				b = b[1+n:]
			}
			rec.Write(&u)
		}
		rec.End()
		checkConsistent(t, s, "cam")
	})
}

// The tracks of a second session may differ from the first (new run) and
// be unusable; the recorder must cope.
func TestRecorderBadTracks(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 2})
	tests := []struct {
		name   string
		tracks []media.Track
	}{
		{"no tracks", nil},
		{"unknown codec", []media.Track{{Codec: "VP8", ClockRate: 90000}}},
		{"bad aac config", []media.Track{{Codec: media.AAC, ClockRate: 48000, AACConfig: []byte{0xff}}}},
		{"absurd clock", []media.Track{{Codec: media.Opus, ClockRate: 1 << 40}}},
		{"garbage sps", []media.Track{{Codec: media.H264, ClockRate: 90000, SPS: []byte{0x67, 0xff, 0xff}, PPS: []byte{0x68}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{}))
			rec := s.Recorder("cam")
			rec.Begin(tt.tracks)
			for _, u := range m.units {
				rec.Write(&u)
			}
			rec.End()
			checkConsistent(t, s, "cam")
			// The same recorder then records a good session.
			feed(rec, m)
			if len(checkConsistent(t, s, "cam")) == 0 {
				t.Fatal("nothing recorded after a bad session")
			}
		})
	}
	var nop media.Sink = &recorder{closed: true}
	nop.Begin(nil)
	nop.Write(&media.Unit{})
	nop.End()
}
