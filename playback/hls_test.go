package playback

import (
	"errors"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// parsePlaylist parses a media playlist with gohlslib and checks what
// every vigil playlist must hold: a PROGRAM-DATE-TIME on every segment
// and a target duration no EXTINF exceeds once rounded.
func parsePlaylist(t *testing.T, body string) *playlist.Media {
	t.Helper()
	var m playlist.Media
	if err := m.Unmarshal([]byte(body)); err != nil {
		t.Fatalf("gohlslib: %v\n%s", err, body)
	}
	for _, s := range m.Segments {
		if s.DateTime == nil {
			t.Errorf("segment %s has no EXT-X-PROGRAM-DATE-TIME", s.URI)
		}
		if r := int(math.Round(s.Duration.Seconds())); r > m.TargetDuration {
			t.Errorf("segment %s: EXTINF %v rounds to %d, over EXT-X-TARGETDURATION %d", s.URI, s.Duration, r, m.TargetDuration)
		}
	}
	if !strings.Contains(body, "#EXT-X-VERSION:") || m.Map == nil {
		t.Errorf("no version or EXT-X-MAP:\n%s", body)
	}
	return &m
}

func playlistServer(fs *fakeStore, now time.Time) *Server {
	return New(Config{Store: fs, Now: func() time.Time { return now }, BlockTimeout: 200 * time.Millisecond, Logger: testLogger()})
}

func servePlaylist(s *Server) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error { return s.ServePlaylist(w, r, "cam") }
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestLivePlaylist(t *testing.T) {
	fs := &fakeStore{}
	fs.add(frags(1, 1, 10, t0, 2*time.Second)...)
	s := playlistServer(fs, t0.Add(time.Hour))
	w, err := get(t, servePlaylist(s), "/hls/cam/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	m := parsePlaylist(t, body)
	if len(m.Segments) != DefaultLiveWindow || m.MediaSequence != 6 || m.Endlist || m.PlaylistType != nil {
		t.Fatalf("live: %d segments from %d, endlist %v, type %v:\n%s", len(m.Segments), m.MediaSequence, m.Endlist, m.PlaylistType, body)
	}
	if m.TargetDuration != 2 || m.ServerControl == nil || !m.ServerControl.CanBlockReload {
		t.Errorf("target %d, server control %+v", m.TargetDuration, m.ServerControl)
	}
	for i, seg := range m.Segments {
		if want := "seg/" + strconv.Itoa(6+i) + ".m4s"; seg.URI != want || seg.Duration != 2*time.Second {
			t.Errorf("segment %d: %s %v, want %s 2s", i, seg.URI, seg.Duration, want)
		}
		if want := t0.Add(time.Duration(5+i) * 2 * time.Second); !seg.DateTime.Equal(want) {
			t.Errorf("segment %d: date %v, want %v", i, seg.DateTime, want)
		}
	}
	if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != "application/vnd.apple.mpegurl" || cc != "no-cache" {
		t.Errorf("content type %q, cache control %q", ct, cc)
	}
	if !strings.Contains(body, `#EXT-X-MAP:URI="init/6.mp4"`) || !strings.Contains(body, "#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:10.000Z\n") {
		t.Errorf("map or date format:\n%s", body)
	}

	// Fragment 11 is dated before 10 (the run's time anchor stepped back):
	// the live edge is still 11.
	late := frags(11, 1, 1, t0.Add(17*time.Second), 2*time.Second)
	fs.add(late...)
	w, err = get(t, servePlaylist(s), "/hls/cam/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if m := parsePlaylist(t, w.Body.String()); m.MediaSequence != 7 || m.Segments[4].URI != "seg/11.m4s" {
		t.Errorf("after a fragment dated back: %d segments from %d:\n%s", len(m.Segments), m.MediaSequence, w.Body)
	}

	// No fragments: no_media.
	empty := playlistServer(&fakeStore{}, t0)
	if _, err := get(t, servePlaylist(empty), "/hls/cam/index.m3u8"); !errors.Is(err, ErrNoMedia) {
		t.Errorf("empty stream: %v, want ErrNoMedia", err)
	}
}

// discontinuities lists the URIs of the segments with a DISCONTINUITY tag.
func discontinuities(m *playlist.Media) []string {
	var out []string
	for _, s := range m.Segments {
		if s.Discontinuity {
			out = append(out, s.URI)
		}
	}
	return out
}

func TestDiscontinuities(t *testing.T) {
	fs := &fakeStore{}
	fs.add(frags(1, 1, 3, t0, 2*time.Second)...)                                          // 1-3, ends t0+6s
	fs.add(frags(4, 1, 2, t0.Add(6*time.Second+40*time.Millisecond), 2*time.Second)...)   // 40 ms late: continuous
	fs.add(frags(6, 1, 2, t0.Add(10*time.Second+100*time.Millisecond), 2*time.Second)...) // 60 ms late: a gap
	fs.add(frags(8, 8, 2, t0.Add(14100*time.Millisecond), 2*time.Second)...)              // abuts, but a new run
	fs.add(frags(10, 8, 1, t0.Add(18100*time.Millisecond), 2500*time.Millisecond)...)     // longer: target 3
	s := playlistServer(fs, t0.Add(time.Hour))
	w, err := get(t, servePlaylist(s), "/hls/cam/index.m3u8?start="+rfc(t0)+"&end="+rfc(t0.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	m := parsePlaylist(t, body)
	if got := discontinuities(m); strings.Join(got, " ") != "seg/6.m4s seg/8.m4s" {
		t.Errorf("discontinuities before %v, want seg/6.m4s and seg/8.m4s:\n%s", got, body)
	}
	if maps := regexp.MustCompile(`#EXT-X-MAP:URI="init/(\d+).mp4"`).FindAllStringSubmatch(body, -1); len(maps) != 2 || maps[0][1] != "1" || maps[1][1] != "8" {
		t.Errorf("EXT-X-MAP tags %v, want init/1 then init/8", maps)
	}
	if m.TargetDuration != 3 || *m.PlaylistType != playlist.MediaPlaylistTypeVOD || !m.Endlist || len(m.Segments) != 10 {
		t.Errorf("target %d, type %v, endlist %v, %d segments", m.TargetDuration, *m.PlaylistType, m.Endlist, len(m.Segments))
	}
}

func TestVODAndReplay(t *testing.T) {
	fs := &fakeStore{}
	fs.add(frags(1, 1, 30, t0, 2*time.Second)...) // t0 .. t0+60s
	// Fragment 11 was a forced cut, without a keyframe.
	fs.frags[10].Keyframe = false
	now := t0.Add(61 * time.Second)
	s := playlistServer(fs, now)
	serve := servePlaylist(s)

	cases := []struct {
		name, query      string
		first, n         int
		kind             string // VOD, EVENT or "" (replay)
		endlist          bool
		err              error
		startOffsetFirst bool
	}{
		{"vod", "start=" + rfc(t0.Add(3*time.Second)) + "&end=" + rfc(t0.Add(9*time.Second)), 2, 4, "VOD", true, nil, false},
		{"vod from a fragment without keyframe", "start=" + rfc(t0.Add(21*time.Second)) + "&end=" + rfc(t0.Add(23*time.Second)), 10, 3, "VOD", true, nil, false},
		{"event: end in the future", "start=" + rfc(t0.Add(50*time.Second)) + "&end=" + rfc(t0.Add(70*time.Second)), 26, 5, "EVENT", false, nil, false},
		{"replay", "start=" + rfc(t0.Add(55*time.Second)), 28, 3, "", false, nil, true},
		{"nothing in range", "start=" + rfc(t0.Add(-time.Hour)) + "&end=" + rfc(t0.Add(-time.Minute)), 0, 0, "", false, ErrNoMedia, false},
		{"replay from the future", "start=" + rfc(t0.Add(time.Hour)), 0, 0, "", false, ErrNoMedia, false},
		{"start after end", "start=" + rfc(t0.Add(time.Minute)) + "&end=" + rfc(t0), 0, 0, "", false, ErrBadRange, false},
		{"start equals end", "start=" + rfc(t0) + "&end=" + rfc(t0), 0, 0, "", false, ErrBadRange, false},
		{"over VODMax", "start=" + rfc(t0) + "&end=" + rfc(t0.Add(25*time.Hour)), 0, 0, "", false, ErrTooLarge, false},
		{"malformed start", "start=yesterday", 0, 0, "", false, ErrBadTime, false},
		{"malformed end", "start=" + rfc(t0) + "&end=2026-13-01T00:00:00Z", 0, 0, "", false, ErrBadTime, false},
		{"end alone", "end=" + rfc(t0), 0, 0, "", false, ErrBadTime, false},
		{"bad msn", "_HLS_msn=x", 0, 0, "", false, ErrBadRequest, false},
		{"part without msn", "_HLS_part=1", 0, 0, "", false, ErrBadRequest, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := get(t, serve, "/hls/cam/index.m3u8?"+c.query)
			if c.err != nil {
				if !errors.Is(err, c.err) || w.Body.Len() != 0 {
					t.Fatalf("error %v (body %q), want %v", err, w.Body, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := w.Body.String()
			m := parsePlaylist(t, body)
			if len(m.Segments) != c.n || m.MediaSequence != c.first || m.Segments[0].URI != "seg/"+strconv.Itoa(c.first)+".m4s" {
				t.Fatalf("%d segments from %d, want %d from %d:\n%s", len(m.Segments), m.MediaSequence, c.n, c.first, body)
			}
			kind := ""
			if m.PlaylistType != nil {
				kind = string(*m.PlaylistType)
			}
			if kind != c.kind || m.Endlist != c.endlist {
				t.Errorf("type %q endlist %v, want %q %v", kind, m.Endlist, c.kind, c.endlist)
			}
			if (m.Start != nil) != c.startOffsetFirst {
				t.Errorf("EXT-X-START %+v", m.Start)
			}
			if c.endlist != (m.ServerControl == nil) {
				t.Errorf("server control %+v on a playlist with endlist %v", m.ServerControl, c.endlist)
			}
		})
	}
}

// A live playlist keeps every segment's discontinuity sequence number, its
// EXT-X-MAP URI and its target duration from one reload to the next, and
// its window starts after a number that is missing.
func TestLiveStableAcrossReloads(t *testing.T) {
	fs := &fakeStore{}
	fs.add(frags(1, 1, 4, t0, 2*time.Second)...)
	s := playlistServer(fs, t0.Add(time.Hour))
	serve := servePlaylist(s)
	dsn := map[string]int{} // segment URI -> discontinuity sequence number seen
	maps := map[string]string{}
	check := func() *playlist.Media {
		t.Helper()
		w, err := get(t, serve, "/hls/cam/index.m3u8")
		if err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		m := parsePlaylist(t, body)
		d := 0
		if m.DiscontinuitySequence != nil {
			d = *m.DiscontinuitySequence
		}
		mapRE := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`)
		lines := strings.Split(body, "\n")
		curMap := ""
		segs := 0
		for _, l := range lines {
			if mm := mapRE.FindStringSubmatch(l); mm != nil {
				curMap = mm[1]
			}
			if strings.HasPrefix(l, "seg/") {
				seg := m.Segments[segs]
				if seg.Discontinuity {
					d++
				}
				if old, ok := dsn[l]; ok && old != d {
					t.Errorf("%s: discontinuity sequence %d, was %d:\n%s", l, d, old, body)
				}
				dsn[l] = d
				run := strconv.FormatUint(findRun(fs, l), 10)
				if old, ok := maps[run]; ok && old != curMap {
					t.Errorf("run %s: EXT-X-MAP %s, was %s", run, curMap, old)
				}
				maps[run] = curMap
				segs++
			}
		}
		return m
	}
	check()
	next := uint64(5)
	at := t0.Add(8 * time.Second)
	add := func(run uint64, n int, gap time.Duration, dur time.Duration) {
		at = at.Add(gap)
		for range n {
			fs.add(frags(next, run, 1, at, dur)...)
			next++
			at = at.Add(dur)
			check()
		}
	}
	add(1, 3, 0, 2*time.Second)
	add(8, 2, 0, 2*time.Second)           // a new run
	add(8, 2, time.Second, 2*time.Second) // a gap
	add(8, 1, 0, 3500*time.Millisecond)   // target grows to 4
	add(8, 6, 0, 2*time.Second)           // and stays
	m := check()
	if m.TargetDuration != 4 {
		t.Errorf("target duration %d after a 3.5 s segment left the window, want it kept at 4", m.TargetDuration)
	}
	// Number 19 is missing (lost in a crash): the window restarts at 20.
	next++
	add(20, 2, 0, 2*time.Second)
	m = check()
	if m.MediaSequence != 20 || len(m.Segments) != 2 {
		t.Errorf("after a missing number: %d segments from %d, want 2 from 20", len(m.Segments), m.MediaSequence)
	}
}

func findRun(fs *fakeStore, uri string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(uri, "seg/"), ".m4s"), 10, 64)
	f, _, _ := fs.Locate("cam", n)
	return f.Run
}

func TestBlockingReload(t *testing.T) {
	fs := &fakeStore{}
	fs.add(frags(1, 1, 5, t0, 2*time.Second)...)
	s := New(Config{Store: fs, Now: func() time.Time { return t0.Add(time.Hour) }, BlockTimeout: 5 * time.Second, Logger: testLogger()})
	serve := servePlaylist(s)

	// Segment 6 does not exist yet: the request waits for it.
	type result struct {
		m   *playlist.Media
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		w, err := get(t, serve, "/hls/cam/index.m3u8?_HLS_msn=6")
		var m playlist.Media
		if err == nil {
			err = m.Unmarshal(w.Body.Bytes())
		}
		done <- result{&m, err, time.Now()}
	}()
	select {
	case r := <-done:
		t.Fatalf("answered before segment 6 existed: %v", r.err)
	case <-time.After(100 * time.Millisecond):
	}
	fs.add(frags(6, 1, 1, t0.Add(10*time.Second), 2*time.Second)...)
	added := time.Now()
	s.Notify("cam", fs.frags[5])
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if last := r.m.Segments[len(r.m.Segments)-1].URI; last != "seg/6.m4s" {
		t.Errorf("blocked request answered with last segment %s", last)
	}
	t.Logf("answered %v after the notice", r.at.Sub(added))

	// Already there: at once. Two past the last: waits. Three past: 400.
	if _, err := get(t, serve, "/hls/cam/index.m3u8?_HLS_msn=3&_HLS_part=0"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, serve, "/hls/cam/index.m3u8?_HLS_msn=9"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("_HLS_msn three past the last: %v, want ErrBadRequest", err)
	}

	// Nothing comes: the playlist as it is after BlockTimeout.
	s2 := playlistServer(fs, t0.Add(time.Hour)) // 200 ms
	began := time.Now()
	w, err := get(t, servePlaylist(s2), "/hls/cam/index.m3u8?_HLS_msn=8")
	if err != nil || !strings.Contains(w.Body.String(), "seg/6.m4s") || time.Since(began) < 200*time.Millisecond {
		t.Errorf("timeout: %v after %v:\n%s", err, time.Since(began), w.Body)
	}

	// Close releases waiters at once.
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.Close()
	}()
	began = time.Now()
	if _, err := get(t, serve, "/hls/cam/index.m3u8?_HLS_msn=7"); err != nil || time.Since(began) > 2*time.Second {
		t.Errorf("after Close: %v in %v", err, time.Since(began))
	}

	// A VOD playlist does not block.
	if _, err := get(t, serve, "/hls/cam/index.m3u8?_HLS_msn=100&start="+rfc(t0)+"&end="+rfc(t0.Add(4*time.Second))); err != nil {
		t.Errorf("VOD with _HLS_msn: %v", err)
	}
}

// A run's time anchor that steps back by more than a fragment dates a
// fragment before its predecessor: playlists still list media order.
func TestPlaylistMediaOrder(t *testing.T) {
	fs := &fakeStore{}
	fs.add(frags(1, 1, 4, t0, time.Second)...)
	fs.add(frags(5, 1, 2, t0.Add(2500*time.Millisecond), time.Second)...) // 5 and 6 dated among 3 and 4
	s := playlistServer(fs, t0.Add(time.Hour))
	w, err := get(t, servePlaylist(s), "/hls/cam/index.m3u8?start="+rfc(t0)+"&end="+rfc(t0.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	m := parsePlaylist(t, w.Body.String())
	var uris []string
	for _, seg := range m.Segments {
		uris = append(uris, strings.TrimSuffix(strings.TrimPrefix(seg.URI, "seg/"), ".m4s"))
	}
	if strings.Join(uris, ",") != "1,2,3,4,5,6" {
		t.Errorf("segments %v, want 1 to 6 in order", uris)
	}
	// 5 starts 1.5 s before 4 ends: its dates do not continue.
	if d := discontinuities(m); len(d) != 1 || d[0] != "seg/5.m4s" {
		t.Errorf("discontinuities before %v, want seg/5.m4s", d)
	}
}
