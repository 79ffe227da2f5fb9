package playback

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"vigil/fragments"
	"vigil/media"
)

// TestBlockingReloadLatency measures, over a real store and real HTTP on
// loopback, the time from a fragment being indexed (the store's
// OnFragment) to a blocked _HLS_msn request for it returning. A recorder
// cuts a one-frame fragment every 40 ms; a client always asks for the next
// segment. Only requests that were waiting when the fragment landed count.
// It prints p50 and p99 (run with -v); timing never fails the test.
func TestBlockingReloadLatency(t *testing.T) {
	const want = 120
	var mu sync.Mutex
	indexed := map[uint64]time.Time{}
	var s *Server
	st, err := fragments.Open(fragments.Config{
		Dir: t.TempDir(), FreeReserve: -1, RetentionEvery: time.Hour, Fsync: fragments.FsyncNone,
		FragmentTarget: 10 * time.Millisecond, Logger: testLogger(),
		OnFragment: func(stream string, f fragments.Fragment) {
			mu.Lock()
			indexed[f.Number] = time.Now()
			mu.Unlock()
			s.Notify(stream, f)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s = New(Config{Store: st, Logger: testLogger()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.ServePlaylist(w, r, "cam"); err != nil {
			http.Error(w, err.Error(), statusOf(err))
		}
	}))
	defer srv.Close()

	// Every frame a keyframe: every frame closes a fragment.
	units := synthUnits(want+60, 25, 1, 2000, time.Now())
	sink := st.Recorder("cam")
	sink.Begin([]media.Track{synthTrack})
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		for i := range units {
			u := units[i]
			u.Recv = time.Now()
			sink.Write(&u)
			time.Sleep(40 * time.Millisecond) // real time: 25 fps
		}
		sink.End()
	}()

	lastSeg := regexp.MustCompile(`seg/(\d+)\.m4s\n(?:#EXT-X-ENDLIST\n)?$`)
	var lat []time.Duration
	var last uint64
	client := &http.Client{Timeout: 15 * time.Second}
	for len(lat) < want {
		select {
		case <-feedDone:
			t.Fatalf("the recorder finished with %d samples", len(lat))
		default:
		}
		target := srv.URL + "/index.m3u8"
		if last > 0 {
			target += "?_HLS_msn=" + strconv.FormatUint(last+1, 10)
		}
		sent := time.Now()
		resp, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := time.Now()
		if resp.StatusCode == http.StatusNotFound { // nothing recorded yet
			time.Sleep(5 * time.Millisecond)
			continue
		}
		m := lastSeg.FindSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("%s: %d %s", target, resp.StatusCode, body)
		}
		n, _ := strconv.ParseUint(string(m[1]), 10, 64)
		mu.Lock()
		at, ok := indexed[last+1]
		mu.Unlock()
		if last > 0 && n >= last+1 && ok && at.After(sent) {
			lat = append(lat, got.Sub(at))
		}
		last = n
	}
	<-feedDone
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("blocking reload, fragment indexed -> blocked request answered, %d fragments: p50 %v, p99 %v, max %v",
		len(lat), p50.Round(time.Microsecond), p99.Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
}
