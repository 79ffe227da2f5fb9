package ingest

import (
	"context"
	"math"
	"testing"
	"time"

	"vigil/internal/testkit"
	"vigil/media"
)

var (
	x264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-bf", "2", "-pix_fmt", "yuv420p"}
	x265 = []string{"-c:v", "libx265", "-preset", "ultrafast", "-g", "50", "-bf", "2", "-pix_fmt", "yuv420p",
		"-x265-params", "log-level=error"}
	aac  = []string{"-c:a", "aac"}
	opus = []string{"-c:a", "libopus"}
)

// wantRecording is what a recording sink must have seen of a publish.
type wantRecording struct {
	video         media.Codec
	audio         media.Codec // "" for none
	codec         string      // Status.Codec
	width, height int
	frames        int // video frames sent
	audioUnits    int // audio frames sent
	// slack is how many more units may be missing: over UDP, the packets
	// still in the socket buffer when the publisher's TEARDOWN arrives are
	// lost with the session, more so on a loaded machine.
	slack int
}

func TestPublishH264AACOverTCP(t *testing.T) {
	t.Parallel()
	testPublish(t, "tcp", x264, aac, wantRecording{
		video: media.H264, audio: media.AAC, codec: "H264, AAC",
		width: 640, height: 360, frames: 125, audioUnits: 5 * 48000 / 1024,
	})
}

func TestPublishH264AACOverUDP(t *testing.T) {
	t.Parallel()
	testPublish(t, "udp", x264, aac, wantRecording{
		video: media.H264, audio: media.AAC, codec: "H264, AAC",
		width: 640, height: 360, frames: 125, audioUnits: 5 * 48000 / 1024, slack: 10,
	})
}

func TestPublishH265(t *testing.T) {
	t.Parallel()
	testPublish(t, "tcp", x265, nil, wantRecording{
		video: media.H265, codec: "H265",
		width: 640, height: 360, frames: 125,
	})
}

func TestPublishH264Opus(t *testing.T) {
	t.Parallel()
	testPublish(t, "tcp", x264, opus, wantRecording{
		video: media.H264, audio: media.Opus, codec: "H264, Opus",
		width: 640, height: 360, frames: 125, audioUnits: 5 * 50,
	})
}

func testPublish(t *testing.T, transport string, video, audio []string, want wantRecording) {
	requireFFmpeg(t)
	tm := startTestManager(t, Config{UDP: transport == "udp"})
	const name = "cam1"

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		out, err := ffmpeg(ctx, publishArgs(5, video, audio, transport, tm.url(name))...)
		if err != nil {
			t.Logf("ffmpeg: %s", out)
		}
		errc <- err
	}()

	// While publishing: status reports the stream.
	testkit.WaitFor(t, 30*time.Second, "units to arrive", func() bool { return tm.sinkUnits(name) >= 60 })
	st := tm.Status(name)
	if !st.Online || st.Codec != want.codec || st.Width != want.width || st.Height != want.height {
		t.Errorf("status while publishing: %+v", st)
	}
	if math.Abs(st.FPS-25) > 3 {
		t.Errorf("status FPS %.1f, want about 25", st.FPS)
	}
	if st.Bitrate <= 0 || st.BytesIn <= 0 {
		t.Errorf("status bitrate %d, bytes in %d", st.Bitrate, st.BytesIn)
	}

	if err := <-errc; err != nil {
		t.Fatalf("ffmpeg failed: %v", err)
	}
	s := tm.sink(name)
	testkit.WaitFor(t, 15*time.Second, "the session to end", func() bool { return s.count("end") == 1 && !tm.Status(name).Online })
	checkRecording(t, s, want)
	if st := tm.Status(name); st.FramesDropped != 0 || st.LastError != "" {
		t.Errorf("status after publishing: %+v", st)
	}
}

func checkRecording(t *testing.T, s *recSink, want wantRecording) {
	t.Helper()
	ev := s.snapshot()
	if len(ev) == 0 || ev[0].kind != "begin" {
		t.Fatal("first event is not Begin")
	}
	if n := s.count("begin"); n != 1 {
		t.Errorf("got %d Begins, want 1", n)
	}
	if ev[len(ev)-1].kind != "end" {
		t.Errorf("last event is %s, want end", ev[len(ev)-1].kind)
	}

	tracks := ev[0].tracks
	wantTracks := 1
	if want.audio != "" {
		wantTracks = 2
	}
	if len(tracks) != wantTracks {
		t.Fatalf("Begin has %d tracks, want %d: %+v", len(tracks), wantTracks, tracks)
	}
	v := tracks[0]
	if v.Codec != want.video || v.ClockRate != 90000 || v.Width != want.width || v.Height != want.height ||
		len(v.SPS) == 0 || len(v.PPS) == 0 || (want.video == media.H265) != (len(v.VPS) > 0) {
		t.Errorf("video track %+v", v)
	}
	if want.audio != "" {
		a := tracks[1]
		if a.Codec != want.audio || a.ClockRate != 48000 || a.SampleRate != 48000 || a.Channels < 1 ||
			(want.audio == media.AAC) != (len(a.AACConfig) > 0) {
			t.Errorf("audio track %+v", a)
		}
	}

	all := s.units(-1)
	if len(all) == 0 || all[0].Track != 0 || !all[0].Key {
		t.Fatal("first unit is not a video keyframe")
	}

	vids := s.units(0)
	if d := len(vids) - want.frames; d < -want.slack-4 || d > 4 {
		t.Errorf("got %d video frames, want %d-%d+4", len(vids), want.frames, want.slack+4)
	}
	keys := 0
	for i, u := range vids {
		if u.PTS < u.DTS {
			t.Errorf("video unit %d: PTS %d < DTS %d", i, u.PTS, u.DTS)
		}
		if i > 0 && u.DTS <= vids[i-1].DTS {
			t.Errorf("video unit %d: DTS %d after %d", i, u.DTS, vids[i-1].DTS)
		}
		if u.Recv.IsZero() || len(u.Payload) == 0 {
			t.Errorf("video unit %d: no recv time or payload", i)
		}
		if u.Key {
			keys++
			if !hasParams(u, want.video) {
				t.Errorf("keyframe %d does not carry its parameter sets", i)
			}
		}
	}
	if keys < 3 {
		t.Errorf("got %d keyframes, want at least 3 (GOP of 2 s over 5 s)", keys)
	}
	if len(vids) > 0 {
		span := float64(vids[len(vids)-1].DTS-vids[0].DTS) / 90000
		if math.Abs(span-float64(len(vids)-1)/25) > 0.2 {
			t.Errorf("video DTS spans %.2fs for %d frames at 25 fps", span, len(vids))
		}
		if last := vids[len(vids)-1]; !last.NTP.IsZero() && time.Since(last.NTP).Abs() > 10*time.Second {
			t.Errorf("last video unit's producer time %v is not about now", last.NTP)
		}
	}

	if want.audio == "" {
		return
	}
	auds := s.units(1)
	if d := len(auds) - want.audioUnits; d < -want.slack-10 || d > 10 {
		t.Errorf("got %d audio units, want %d-%d+10", len(auds), want.audioUnits, want.slack+10)
		if len(auds) > 0 && len(vids) > 0 {
			t.Logf("audio %.3f..%.3f s, video %.3f..%.3f s",
				float64(auds[0].PTS)/48000, float64(auds[len(auds)-1].PTS)/48000,
				float64(vids[0].PTS)/90000, float64(vids[len(vids)-1].PTS)/90000)
		}
	}
	for i, u := range auds {
		if !u.Key || u.PTS != u.DTS || len(u.Payload) != 1 || len(u.Payload[0]) == 0 {
			t.Errorf("audio unit %d: %+v", i, u)
		}
		if i > 0 && u.PTS <= auds[i-1].PTS {
			t.Errorf("audio unit %d: PTS %d after %d", i, u.PTS, auds[i-1].PTS)
		}
	}
	if len(auds) > 0 && len(vids) > 0 {
		skew := float64(auds[0].PTS)/48000 - float64(vids[0].PTS)/90000
		if math.Abs(skew) > 0.5 {
			t.Errorf("audio starts %.3fs away from video", skew)
		}
	}
}

func hasParams(u *media.Unit, c media.Codec) bool {
	for _, n := range u.Payload {
		if c == media.H264 && n[0]&0x1f == 7 || c == media.H265 && (n[0]>>1)&0x3f == 33 {
			return true
		}
	}
	return false
}
