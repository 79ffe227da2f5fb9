package fragments

import (
	"io"
	"strconv"
	"testing"
	"time"
)

func TestRecordMedia(t *testing.T) {
	tests := []struct {
		name   string
		spec   mediaSpec
		target time.Duration
	}{
		{"h264 with aac", mediaSpec{"h264", "aac", 6}, 2 * time.Second},
		{"h264 target 1s", mediaSpec{"h264", "", 6}, time.Second},
		{"h265", mediaSpec{"h265", "", 6}, 2 * time.Second},
		{"h265 with aac", mediaSpec{"h265", "aac", 4}, time.Second},
		{"aac only", mediaSpec{"", "aac", 6}, 2 * time.Second},
		{"opus only", mediaSpec{"", "opus", 5}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := loadMedia(t, tt.spec)
			var n notices
			cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &n)
			cfg.FragmentTarget = tt.target
			s := openStore(t, cfg)
			feed(s.Recorder("cam"), m)

			frags := checkConsistent(t, s, "cam")
			if len(frags) == 0 {
				t.Fatal("no fragments")
			}
			if got := n.get("cam"); len(got) != len(frags) {
				t.Fatalf("%d notices for %d fragments", len(got), len(frags))
			}
			var total time.Duration
			for i, f := range frags {
				if f.Number != uint64(i+1) || f.Run != 1 || !f.Keyframe {
					t.Fatalf("fragment %d: %+v", i, f)
				}
				if i < len(frags)-1 && f.Duration < tt.target {
					t.Fatalf("fragment %d cut early: %v", i, f.Duration)
				}
				within(t, "server time", f.ServerTime, wallBase.Add(total), time.Second)
				within(t, "producer time", f.ProducerTime, wallBase.Add(total), time.Second)
				total += f.Duration
				checkFragmentMP4(t, s, f, m)
			}
			want := time.Duration(tt.spec.seconds) * time.Second
			if m.videoFrames > 0 {
				want = time.Duration(m.videoFrames) * m.frameDur
			}
			if d := total - want; d > 2*m.frameDur || d < -2*m.frameDur {
				t.Fatalf("fragments last %v, media %v", total, want)
			}
			st := s.Stats().Streams["cam"]
			if st.FragmentsWritten != uint64(len(frags)) || st.WriteErrors != 0 || st.UnitsDropped > 3 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// checkFragmentMP4 plays one fragment's MP4 through ffprobe.
func checkFragmentMP4(t *testing.T, s *Store, f Fragment, m *testMedia) {
	t.Helper()
	rc, size, err := s.OpenMP4("cam", f.Number)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || int64(len(b)) != size {
		t.Fatalf("read %d of %d bytes: %v", len(b), size, err)
	}
	info := probeMP4(t, b)
	var video, audio bool
	for _, st := range info.Streams {
		switch st.CodecType {
		case "video":
			video = true
			want := int((f.Duration + m.frameDur/2) / m.frameDur)
			if st.CodecName != m.codec || st.NbReadFrames != strconv.Itoa(want) {
				t.Fatalf("fragment %d: %s with %s frames, want %s with %d", f.Number, st.CodecName, st.NbReadFrames, m.codec, want)
			}
		case "audio":
			audio = true
			if st.CodecName != m.audioCodec {
				t.Fatalf("audio codec %s", st.CodecName)
			}
		}
	}
	if video != (m.codec != "") || audio != (m.audioCodec != "") {
		t.Fatalf("fragment %d: video %v audio %v", f.Number, video, audio)
	}
	for _, p := range info.Packets {
		if p.CodecType == "video" {
			if p.Flags[0] != 'K' {
				t.Fatalf("fragment %d does not start on a keyframe", f.Number)
			}
			break
		}
	}
}
