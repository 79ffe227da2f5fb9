package playback

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vigil/fragments"
	"vigil/media"
)

// BenchmarkSegments measures segment serving over real HTTP on loopback:
// real chunk files written by the store (2 s fragments of 500 KB, i.e. a
// 2 Mbit/s camera), many keep-alive clients asking for random segments and
// discarding the bodies. It reports requests/s and Gbit/s of segment
// bytes. Client and server share the machine.
func BenchmarkSegments(b *testing.B) {
	for _, c := range []struct{ streams, clients int }{{1, 1}, {1, 16}, {1, 64}, {32, 64}} {
		b.Run(fmt.Sprintf("streams=%d/clients=%d", c.streams, c.clients), func(b *testing.B) {
			benchSegments(b, c.streams, c.clients)
		})
	}
}

func benchSegments(b *testing.B, streams, clients int) {
	st, err := fragments.Open(fragments.Config{Dir: b.TempDir(), FreeReserve: -1, RetentionEvery: time.Hour,
		Fsync: fragments.FsyncNone, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	perStream := max(4, 64/streams) // fragments per stream
	units := synthUnits(perStream*50+1, 25, 50, 10_000, t0)
	type seg struct {
		stream string
		number uint64
		size   int64
	}
	var segs []seg
	for i := range streams {
		name := "cam" + strconv.Itoa(i)
		record(st, name, []media.Track{synthTrack}, units)
		list, _ := st.Tail(name, perStream+1)
		for _, f := range list {
			segs = append(segs, seg{name, f.Number, f.Size})
		}
	}
	s := New(Config{Store: st, Logger: testLogger()})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hls/{name}/seg/{file}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ServeSegment(w, r, r.PathValue("name"), r.PathValue("file")); err != nil {
			http.Error(w, err.Error(), statusOf(err))
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var next, bytes atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 9))
			for next.Add(1) <= int64(b.N) {
				sg := segs[rng.IntN(len(segs))]
				resp, err := client.Get(srv.URL + "/hls/" + sg.stream + "/seg/" + strconv.FormatUint(sg.number, 10) + ".m4s")
				if err != nil {
					b.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n != sg.size {
					b.Errorf("segment %s/%d: %d, %d bytes", sg.stream, sg.number, resp.StatusCode, n)
					return
				}
				bytes.Add(n)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed, "req/s")
	b.ReportMetric(float64(bytes.Load())*8/elapsed/1e9, "Gbit/s")
}

// BenchmarkHistory measures playlist and timeline latency over 30 days of
// one stream's index (1,296,000 fragments of 2 s, written by
// fragments.LoadSynthetic): a 24 h on-demand playlist (43,200 segments),
// the live playlist, a segment lookup and the 30-day timeline.
func BenchmarkHistory(b *testing.B) {
	const days = 30
	const perDay = 43200
	dir := b.TempDir()
	start := time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)
	end := start.Add(days * 24 * time.Hour)
	began := time.Now()
	if err := fragments.LoadSynthetic(dir, "cam", start, days*perDay, 2*time.Second); err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(began)
	st, err := fragments.Open(fragments.Config{Dir: dir, FreeReserve: -1, RetentionEvery: time.Hour, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(Config{Store: st, Now: func() time.Time { return end.Add(time.Minute) }, Logger: testLogger()})
	began = time.Now()
	if _, err := st.Timeline("cam", start, end); err != nil {
		b.Fatal(err)
	}
	b.Logf("30 days: synthetic index written in %v; first timeline (builds the span index) %v", loaded.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))

	playlist := func(query string, want int) func(b *testing.B) {
		return func(b *testing.B) {
			var size int
			for b.Loop() {
				w, err := get(b, func(w http.ResponseWriter, r *http.Request) error { return s.ServePlaylist(w, r, "cam") }, "/hls/cam/index.m3u8"+query)
				if err != nil {
					b.Fatal(err)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(want), "segments")
			b.ReportMetric(float64(size)/1e6, "MB")
		}
	}
	from := start.Add((days - 1) * 24 * time.Hour)
	b.Run("vod-24h", playlist("?start="+rfc(from)+"&end="+rfc(from.Add(24*time.Hour)), perDay))
	b.Run("vod-1h", playlist("?start="+rfc(from)+"&end="+rfc(from.Add(time.Hour)), 1800))
	b.Run("live", playlist("", DefaultLiveWindow))
	b.Run("locate", func(b *testing.B) {
		n := uint64(0)
		for b.Loop() {
			n = (n+7919)%(days*perDay) + 1
			if _, _, err := st.Locate("cam", n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("timeline-30d", func(b *testing.B) {
		for b.Loop() {
			w, err := get(b, func(w http.ResponseWriter, r *http.Request) error { return s.ServeTimeline(w, r, "cam") },
				"/api/v1/streams/cam/timeline?start="+rfc(start)+"&end="+rfc(end))
			if err != nil || w.Code != 200 {
				b.Fatal(err)
			}
		}
	})
}
