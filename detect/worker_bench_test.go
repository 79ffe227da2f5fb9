package detect

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gocv.io/x/gocv"

	"vigil/events"
)

// jetstreamStub satisfies WorkerConfig.JS where no NATS is used.
type jetstreamStub struct{ jetstream.JetStream }

// BenchmarkWorker is one worker's whole job for one notice, NATS aside:
// fetch (from memory), spool, decode a 2 s 1280×720 25 fps H.264
// fragment, and at the default 2 frames a second find, template and
// match the faces and make the events (publish is a no-op). OpenCV runs
// on one thread (its FFmpeg decoder still picks its own thread count).
//
// A camera sends a 2 s fragment every 2 s, so one worker keeps up with
// fragments/s × 2 cameras; "cameras/cpu-s" divides by the CPU time the
// process used instead of wall time, which is the figure per core.
func BenchmarkWorker(b *testing.B) {
	c := staffCollections(b)
	for _, v := range []struct {
		name  string
		video []byte
		faces int64 // events per fragment
	}{
		{"face", faceVideo(b, "s1", 4, 4, 1280, 720), 4},
		{"no-face", faceVideo(b, "", 0, 0, 1280, 720), 0},
	} {
		b.Run(v.name, func(b *testing.B) {
			defer SetOpenCVThreads(SetOpenCVThreads(1))
			w, err := NewWorker(WorkerConfig{
				JS:          jetstreamStub{}, // analyse does not use it
				Settings:    func(string) (bool, float64, []string) { return true, DefaultFPS, []string{"staff"} },
				Collections: c,
				Publish:     func(context.Context, *events.Event) error { return nil },
				Fetch: func(context.Context, string) (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(v.video)), nil
				},
				Logger: quietLogger(),
			})
			if err != nil {
				b.Fatal(err)
			}
			n := &events.FragmentNotice{Stream: "cam", Number: 1, ServerTime: time.Now(), URL: "mem:"}
			cpu0, start := cpuTime(), time.Now()
			for b.Loop() {
				if err := w.analyse(context.Background(), n, DefaultFPS, []string{"staff"}); err != nil {
					b.Fatal(err)
				}
			}
			wall, cpu := time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
			if s := w.Stats(); s.Events != v.faces*int64(b.N) {
				b.Fatalf("%d events from %d fragments", s.Events, b.N)
			}
			b.ReportMetric(float64(b.N)/wall, "fragments/s")
			b.ReportMetric(2*float64(b.N)/wall, "cameras")
			b.ReportMetric(2*float64(b.N)/cpu, "cameras/cpu-s")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeFragment is BenchmarkWorker's decoding alone: spool the
// 2 s 1280×720 fragment and decode every frame, analysing none.
func BenchmarkDecodeFragment(b *testing.B) {
	video := faceVideo(b, "s1", 4, 4, 1280, 720)
	defer SetOpenCVThreads(SetOpenCVThreads(1))
	for b.Loop() {
		path, err := spoolFragment(bytes.NewReader(video), 1<<30)
		if err != nil {
			b.Fatal(err)
		}
		err = sampleFrames(context.Background(), path, DefaultFPS, func(time.Duration, gocv.Mat) error { return nil })
		os.Remove(path)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fragments/s")
}
