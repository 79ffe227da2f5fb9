package fragments

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vigil/internal/testkit"
	"vigil/media"
)

// Test media is made by ffmpeg once per test binary, in fixtureDir.
var (
	fixtureDir  string
	fixtureMu   sync.Mutex
	fixtureMemo = map[string]*testMedia{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-fragments-media-")
	if err != nil {
		panic(err)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testMedia is an elementary stream cut into units as ingest delivers them.
type testMedia struct {
	tracks      []media.Track
	units       []media.Unit // in arrival order
	videoFrames int
	frameDur    time.Duration
	codec       string // ffprobe's name of the video codec
	audioCodec  string // ffprobe's name of the audio codec
}

// mediaSpec describes a test stream.
type mediaSpec struct {
	video   string // "h264", "h265" or "" for audio only
	audio   string // "aac", "opus" (audio only) or "" for none
	seconds int
}

// tickOffset makes timestamps large, as unwrapped RTP times are.
const tickOffset = 5 << 32

// wallBase is the simulated wall clock at the first unit.
var wallBase = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func loadMedia(t testing.TB, spec mediaSpec) *testMedia {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	key := fmt.Sprint(spec)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if m := fixtureMemo[key]; m != nil {
		return m
	}
	m, err := makeMedia(spec, filepath.Join(fixtureDir, fmt.Sprintf("%s-%s-%d", spec.video, spec.audio, spec.seconds)))
	if err != nil {
		t.Fatal(err)
	}
	fixtureMemo[key] = m
	return m
}

func makeMedia(spec mediaSpec, base string) (*testMedia, error) {
	if spec.audio == "opus" {
		return makeOpus(spec, base)
	}
	ts := base + ".ts"
	args := []string{"-v", "error", "-y"}
	if spec.video != "" {
		args = append(args, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25")
	}
	if spec.audio != "" {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", fmt.Sprint(spec.seconds))
	switch spec.video {
	case "h264":
		args = append(args, "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p", "-x264-params", "aud=1")
	case "h265":
		args = append(args, "-c:v", "libx265", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p", "-x265-params", "aud=1:log-level=error:open-gop=0:keyint=25:min-keyint=25:scenecut=0")
	}
	if spec.audio != "" {
		args = append(args, "-c:a", "aac", "-b:a", "64k")
	}
	if _, err := testkit.Run("ffmpeg", append(args, "-f", "mpegts", ts)...); err != nil {
		return nil, err
	}
	packets, err := testkit.ProbePackets(ts)
	if err != nil {
		return nil, err
	}
	m := &testMedia{frameDur: 40 * time.Millisecond}
	var aus [][][]byte
	var adts mpeg4audio.ADTSPackets
	if spec.video != "" {
		es := base + "." + spec.video
		if _, err := testkit.Run("ffmpeg", "-v", "error", "-y", "-i", ts, "-map", "0:v", "-c", "copy", "-f", map[string]string{"h264": "h264", "h265": "hevc"}[spec.video], es); err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(es)
		if err != nil {
			return nil, err
		}
		aus = testkit.SplitAccessUnits(raw, spec.video)
		m.codec = map[string]string{"h264": "h264", "h265": "hevc"}[spec.video]
		tr := media.Track{Codec: media.H264, ClockRate: 90000}
		if spec.video == "h265" {
			tr.Codec = media.H265
		}
		for _, n := range aus[0] {
			switch typ := testkit.NALUType(spec.video, n); {
			case spec.video == "h264" && typ == 7, spec.video == "h265" && typ == 33:
				tr.SPS = n
			case spec.video == "h264" && typ == 8, spec.video == "h265" && typ == 34:
				tr.PPS = n
			case spec.video == "h265" && typ == 32:
				tr.VPS = n
			}
		}
		m.tracks = append(m.tracks, tr)
	}
	if spec.audio != "" {
		m.audioCodec = "aac"
		aac := base + ".aac"
		if _, err := testkit.Run("ffmpeg", "-v", "error", "-y", "-i", ts, "-map", "0:a", "-c", "copy", "-f", "adts", aac); err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(aac)
		if err != nil {
			return nil, err
		}
		if err := adts.Unmarshal(raw); err != nil {
			return nil, err
		}
		conf, err := mpeg4audio.AudioSpecificConfig{Type: adts[0].Type, SampleRate: adts[0].SampleRate,
			ChannelConfig: adts[0].ChannelConfig}.Marshal()
		if err != nil {
			return nil, err
		}
		m.tracks = append(m.tracks, media.Track{Codec: media.AAC, ClockRate: 48000, AACConfig: conf,
			SampleRate: 48000, Channels: 1})
	}

	// Pair probe packets with access units and frames, in order.
	var vi, ai int
	for _, p := range packets {
		switch p.CodecType {
		case "video":
			if vi >= len(aus) {
				return nil, fmt.Errorf("more video packets than access units (%d)", len(aus))
			}
			m.units = append(m.units, media.Unit{Track: 0, PTS: p.PTS + tickOffset, DTS: p.DTS + tickOffset,
				Key: p.Flags[0] == 'K', Payload: aus[vi]})
			vi++
		case "audio":
			if ai >= len(adts) {
				return nil, fmt.Errorf("more audio packets than ADTS frames (%d)", len(adts))
			}
			pts := p.PTS*48000/90000 + tickOffset*48000/90000
			m.units = append(m.units, media.Unit{Track: len(m.tracks) - 1, PTS: pts, DTS: pts, Key: true,
				Payload: [][]byte{adts[ai].AU}})
			ai++
		}
	}
	if vi != len(aus) || ai != len(adts) {
		return nil, fmt.Errorf("%d/%d access units and %d/%d audio frames paired", vi, len(aus), ai, len(adts))
	}
	m.videoFrames = vi
	m.timeUnits()
	return m, nil
}

// timeUnits sets arrival (Recv) and camera time (NTP) from the media clock,
// starting at wallBase, and sorts the units in arrival order.
func (m *testMedia) timeUnits() {
	first := int64(-1)
	for i := range m.units {
		u := &m.units[i]
		at := ticksToNS(u.DTS, int64(m.tracks[u.Track].ClockRate))
		if first < 0 || at < first {
			first = at
		}
	}
	for i := range m.units {
		u := &m.units[i]
		at := time.Duration(ticksToNS(u.DTS, int64(m.tracks[u.Track].ClockRate)) - first)
		u.Recv = wallBase.Add(at + 30*time.Millisecond)
		u.NTP = wallBase.Add(at)
	}
	slices.SortStableFunc(m.units, func(a, b media.Unit) int { return a.Recv.Compare(b.Recv) })
}

// feed plays m into a sink as a publisher session.
func feed(sink media.Sink, m *testMedia) {
	sink.Begin(m.tracks)
	for i := range m.units {
		u := m.units[i]
		sink.Write(&u)
	}
	sink.End()
}
