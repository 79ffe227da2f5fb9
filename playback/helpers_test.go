package playback

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vigil/fragments"
	"vigil/internal/testkit"
	"vigil/media"
)

// t0 is the wall clock of the first recorded unit in tests.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testLogger() *slog.Logger {
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// openStore opens a real fragment store in dir.
func openStore(t testing.TB, dir string, onFragment func(string, fragments.Fragment)) *fragments.Store {
	t.Helper()
	st, err := fragments.Open(fragments.Config{
		Dir: dir, FreeReserve: -1, RetentionEvery: time.Hour, OnFragment: onFragment, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// record plays units into the store as one publisher session (one run, or
// more when the units' clock jumps).
func record(st *fragments.Store, stream string, tracks []media.Track, units []media.Unit) {
	sink := st.Recorder(stream)
	sink.Begin(tracks)
	for i := range units {
		u := units[i]
		sink.Write(&u)
	}
	sink.End()
}

// A valid H.264 parameter set pair (160x120, baseline), for synthetic
// video whose frames are random bytes: the store never decodes them.
var (
	testSPS, _ = hex.DecodeString("6742c00bd902847e5c0440000003004000000c83c50a92")
	testPPS, _ = hex.DecodeString("68cb83cb20")
	synthTrack = media.Track{Codec: media.H264, ClockRate: 90000, SPS: testSPS, PPS: testPPS, Width: 160, Height: 120}
)

// synthUnits makes n video frames at fps, a keyframe every gop frames,
// each of size random bytes, arriving from recv on.
func synthUnits(n, fps, gop, size int, recv time.Time) []media.Unit {
	units := make([]media.Unit, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range units {
		nal := make([]byte, size)
		for j := range nal {
			nal[j] = byte(rng.Uint32())
		}
		key := i%gop == 0
		nal[0] = 0x41 // non-IDR slice
		if key {
			nal[0] = 0x65 // IDR slice
		}
		ts := int64(i) * 90000 / int64(fps)
		units[i] = media.Unit{PTS: ts + 1<<32, DTS: ts + 1<<32, Key: key, Payload: [][]byte{nal},
			Recv: recv.Add(time.Duration(i) * time.Second / time.Duration(fps))}
	}
	return units
}

// realMedia is H.264 (2 s GOP, B-frames) and AAC made by ffmpeg, cut into
// units as ingest delivers them, arriving from t0 on.
type realMedia struct {
	tracks []media.Track
	units  []media.Unit
}

var (
	realMu   sync.Mutex
	realMemo = map[string]*realMedia{}
)

// loadMedia makes seconds of test video at size (e.g. "320x240") with
// ffmpeg, once per test binary.
func loadMedia(t testing.TB, seconds int, size string) *realMedia {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	realMu.Lock()
	defer realMu.Unlock()
	key := fmt.Sprint(seconds, size)
	if m := realMemo[key]; m != nil {
		return m
	}
	m, err := makeMedia(t.TempDir(), seconds, size)
	if err != nil {
		t.Fatal(err)
	}
	realMemo[key] = m
	return m
}

func makeMedia(dir string, seconds int, size string) (*realMedia, error) {
	ts := filepath.Join(dir, "m.ts")
	if _, err := testkit.Run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size="+size+":rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", fmt.Sprint(seconds),
		"-c:v", "libx264", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-bf", "2", "-pix_fmt", "yuv420p",
		"-x264-params", "aud=1", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", ts); err != nil {
		return nil, err
	}
	packets, err := testkit.ProbePackets(ts)
	if err != nil {
		return nil, err
	}
	es, aac := filepath.Join(dir, "m.h264"), filepath.Join(dir, "m.aac")
	if _, err := testkit.Run("ffmpeg", "-v", "error", "-y", "-i", ts, "-map", "0:v", "-c", "copy", "-f", "h264", es); err != nil {
		return nil, err
	}
	if _, err := testkit.Run("ffmpeg", "-v", "error", "-y", "-i", ts, "-map", "0:a", "-c", "copy", "-f", "adts", aac); err != nil {
		return nil, err
	}
	rawV, err := os.ReadFile(es)
	if err != nil {
		return nil, err
	}
	rawA, err := os.ReadFile(aac)
	if err != nil {
		return nil, err
	}
	aus := testkit.SplitAccessUnits(rawV, "h264")
	var adts mpeg4audio.ADTSPackets
	if err := adts.Unmarshal(rawA); err != nil {
		return nil, err
	}
	conf, err := mpeg4audio.AudioSpecificConfig{Type: adts[0].Type, SampleRate: adts[0].SampleRate, ChannelConfig: adts[0].ChannelConfig}.Marshal()
	if err != nil {
		return nil, err
	}
	video := media.Track{Codec: media.H264, ClockRate: 90000}
	for _, n := range aus[0] {
		switch n[0] & 0x1f {
		case 7:
			video.SPS = n
		case 8:
			video.PPS = n
		}
	}
	m := &realMedia{tracks: []media.Track{video, {Codec: media.AAC, ClockRate: 48000, AACConfig: conf, SampleRate: 48000, Channels: 1}}}
	var vi, ai int
	for _, p := range packets {
		switch {
		case p.CodecType == "video" && vi < len(aus):
			m.units = append(m.units, media.Unit{Track: 0, PTS: p.PTS, DTS: p.DTS, Key: p.Flags[0] == 'K', Payload: aus[vi]})
			vi++
		case p.CodecType == "audio" && ai < len(adts):
			pts := p.PTS * 48000 / 90000
			m.units = append(m.units, media.Unit{Track: 1, PTS: pts, DTS: pts, Key: true, Payload: [][]byte{adts[ai].AU}})
			ai++
		}
	}
	first := m.units[0].DTS * int64(time.Second) / 90000
	for i := range m.units {
		u := &m.units[i]
		at := time.Duration(u.DTS*int64(time.Second)/int64(m.tracks[u.Track].ClockRate) - first)
		u.Recv = t0.Add(at + 30*time.Millisecond)
	}
	slices.SortStableFunc(m.units, func(a, b media.Unit) int { return a.Recv.Compare(b.Recv) })
	return m, nil
}

// shifted returns m's units arriving d later, with their media clock moved
// by clock (a jump of more than 10 s starts a new run).
func (m *realMedia) shifted(d time.Duration, clock time.Duration) []media.Unit {
	out := slices.Clone(m.units)
	for i := range out {
		u := &out[i]
		u.Recv = u.Recv.Add(d)
		ticks := int64(clock) * int64(m.tracks[u.Track].ClockRate) / int64(time.Second)
		u.PTS += ticks
		u.DTS += ticks
	}
	return out
}

// fakeStore is an in-memory Store of fragment metadata for playlist tests.
// Locate points every fragment at file (when set) at offset 0.
type fakeStore struct {
	mu    sync.Mutex
	frags []fragments.Fragment // in time order
	file  string
}

func (f *fakeStore) add(fr ...fragments.Fragment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frags = append(f.frags, fr...)
	sort.SliceStable(f.frags, func(i, j int) bool { return f.frags[i].ServerTime.Before(f.frags[j].ServerTime) })
}

func (f *fakeStore) Locate(stream string, n uint64) (fragments.Fragment, fragments.Location, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fr := range f.frags {
		if fr.Number == n {
			return fr, fragments.Location{Path: f.file, InitOffset: 0, InitLength: 10, Offset: 10, Length: fr.Size}, nil
		}
	}
	return fragments.Fragment{}, fragments.Location{}, fragments.ErrNotFound
}

func (f *fakeStore) Range(stream string, start, end time.Time, fn func(fragments.Fragment) bool) error {
	f.mu.Lock()
	frags := slices.Clone(f.frags)
	f.mu.Unlock()
	for _, fr := range frags {
		if !end.IsZero() && !fr.ServerTime.Before(end) {
			break
		}
		if !start.IsZero() && !fr.ServerTime.Add(fr.Duration).After(start) {
			continue
		}
		if !fn(fr) {
			break
		}
	}
	return nil
}

func (f *fakeStore) Tail(stream string, n int) ([]fragments.Fragment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.frags[max(0, len(f.frags)-n):]), nil
}

func (f *fakeStore) Timeline(stream string, start, end time.Time) ([]fragments.Span, error) {
	return nil, nil
}

// frags makes n back-to-back keyframe fragments of run numbered from
// first, each dur long, starting at at.
func frags(first uint64, run uint64, n int, at time.Time, dur time.Duration) []fragments.Fragment {
	out := make([]fragments.Fragment, n)
	for i := range out {
		out[i] = fragments.Fragment{Number: first + uint64(i), Run: run, ServerTime: at.Add(time.Duration(i) * dur),
			Duration: dur, Size: 1000, Keyframe: true, Checksum: uint32(first) + uint32(i)}
	}
	return out
}

// get runs a handler on a request and returns the recorder.
func get(t testing.TB, serve func(w http.ResponseWriter, r *http.Request) error, target string, hdr ...string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	err := serve(w, r)
	return w, err
}

// ffprobeJSON runs ffprobe with args and decodes its JSON output.
func ffprobeJSON(t testing.TB, out any, args ...string) {
	t.Helper()
	b, err := testkit.Run("ffprobe", append([]string{"-v", "error", "-of", "json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// decodeSilently decodes every frame of path and returns what ffprobe -v
// error printed (empty for a clean file) and its format duration.
func decodeSilently(t testing.TB, path string) (stderr string, duration time.Duration) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "format=duration", "-of", "csv=p=0", path)
	var se strings.Builder
	cmd.Stderr = &se
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("ffprobe: %v: %s", err, se.String()), 0
	}
	var sec float64
	fmt.Sscanf(strings.TrimSpace(string(out)), "%f", &sec)
	return se.String(), time.Duration(sec * float64(time.Second))
}
