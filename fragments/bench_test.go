package fragments

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vigil/chunk"
)

// BenchmarkAppend measures the fragment-close-to-indexed path (chunk
// append, fsync, index commit) with streams appending in parallel: as fast
// as they can, and paced like cameras (one 2 s fragment per stream every
// 2 s). It reports the p50 and p99 latency of one append.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		streams int
		every   time.Duration
	}{{1, 0}, {150, 0}, {150, 2 * time.Second}} {
		name := fmt.Sprintf("streams=%d", bc.streams)
		if bc.every > 0 {
			name += fmt.Sprintf("/every=%v", bc.every)
		}
		b.Run(name, func(b *testing.B) { benchAppend(b, bc.streams, bc.every) })
	}
}

func benchAppend(b *testing.B, streams int, every time.Duration) {
	s, err := Open(Config{Dir: b.TempDir(), FreeReserve: -1, RetentionEvery: time.Hour, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 250<<10) // 2 s at 1 Mbit/s
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	init := make([]byte, 700)

	var ops atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s.stream(fmt.Sprintf("cam%d", i))
			w := chunkWriter{s: s, st: st}
			defer w.close()
			var mine []time.Duration
			var media time.Duration
			var run uint64
			next := time.Now().Add(time.Duration(rand.Int64N(int64(max(every, 1)))))
			for ops.Add(1) <= int64(b.N) {
				if every > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(every)
				}
				n := st.allocNumber()
				if run == 0 {
					run = n
				}
				start := time.Now()
				_, err := w.append(&built{
					hdr: chunk.FragmentHeader{Number: n, Run: run, ServerTime: start,
						Duration: 2 * time.Second, Keyframe: true},
					payload: payload, init: init, mediaTime: media,
				})
				mine = append(mine, time.Since(start))
				if err != nil {
					b.Error(err)
					return
				}
				media += 2 * time.Second
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
