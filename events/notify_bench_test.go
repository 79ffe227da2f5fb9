package events

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkNotifyWebhook measures events/s from PublishEvent to webhook
// receipt on loopback, and the p50/p99 latency, with 8 streams published
// concurrently (per-stream order is kept, so streams are the parallelism).
func BenchmarkNotifyWebhook(b *testing.B) {
	bus, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	var (
		mu   sync.Mutex
		sent = map[string]time.Time{}
		lat  []time.Duration
		got  = make(chan struct{}, 1<<20)
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		now := time.Now()
		mu.Lock()
		if t0, ok := sent[r.Header.Get("webhook-id")]; ok {
			lat = append(lat, now.Sub(t0))
			delete(sent, r.Header.Get("webhook-id"))
		}
		mu.Unlock()
		got <- struct{}{}
	}))
	defer srv.Close()
	ns, err := OpenNotifiers(NotifyConfig{Bus: bus, Path: filepath.Join(b.TempDir(), "n.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	secret := "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if _, err := ns.Put(Notifier{Name: "bench", Type: NotifyWebhook, URL: srv.URL, Secret: secret}); err != nil {
		b.Fatal(err)
	}
	const streams = 8
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < b.N; i += streams {
				e := personEvent(fmt.Sprintf("cam%d", s), "p", time.Now().UTC())
				e.ID = NewID(e.Time)
				mu.Lock()
				sent[e.ID] = time.Now()
				mu.Unlock()
				publishT(b, bus, e)
			}
		}()
	}
	wg.Wait()
	for range b.N {
		<-got
	}
	el := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
