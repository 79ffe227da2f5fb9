package detect

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Benchmarks (acceptance 6): go test -run X -bench . ./detect/
// "frames/s" with OpenCV on one thread is the per-core figure.

// benchSizes are the frames: ffmpeg testsrc with face.jpg pasted in the
// middle at half the frame's width.
var benchSizes = []struct{ w, h int }{{640, 360}, {1280, 720}}

func BenchmarkDetect(b *testing.B) {
	d := newDetector(b)
	for _, sz := range benchSizes {
		frame := decode(b, testFrame(b, sz.w, sz.h, sz.w/2))
		if n := len(d.Detect(frame)); n != 1 {
			b.Fatalf("%d faces in the benchmark frame", n)
		}
		for _, threads := range []int{1, 0} {
			name := fmt.Sprintf("%dx%d/opencv-threads=%d", sz.w, sz.h, threads)
			if threads == 0 {
				name = fmt.Sprintf("%dx%d/opencv-threads=default", sz.w, sz.h)
			}
			b.Run(name, func(b *testing.B) {
				if threads > 0 {
					defer SetOpenCVThreads(SetOpenCVThreads(threads))
				}
				start := time.Now()
				for b.Loop() {
					d.Detect(frame)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
			})
		}
	}
}

// BenchmarkDetectParallel runs one detection per core, OpenCV on one
// thread each: the throughput of a worker with one goroutine per core.
func BenchmarkDetectParallel(b *testing.B) {
	d := newDetector(b)
	for _, sz := range benchSizes {
		frame := decode(b, testFrame(b, sz.w, sz.h, sz.w/2))
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			defer SetOpenCVThreads(SetOpenCVThreads(1))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d.Detect(frame)
				}
			})
			fps := float64(b.N) / time.Since(start).Seconds()
			b.ReportMetric(fps, "frames/s")
			b.ReportMetric(fps/float64(runtime.GOMAXPROCS(0)), "frames/s/core")
		})
	}
}

func BenchmarkTemplateLBPH(b *testing.B) {
	frame := decode(b, testFrame(b, 640, 360, 320))
	face := newDetector(b).Detect(frame)[0].Rect
	rec := NewLBPH()
	for b.Loop() {
		if _, err := rec.Template(frame, face); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch compares one template with a collection of n faces.
func BenchmarkMatch(b *testing.B) {
	frame := decode(b, testFrame(b, 640, 360, 320))
	face := newDetector(b).Detect(frame)[0].Rect
	probe, err := NewLBPH().Template(frame, face)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("faces=%d", n), func(b *testing.B) {
			c, _ := newCollections(b)
			if _, err := c.Create("big", 0); err != nil {
				b.Fatal(err)
			}
			mc := c.colls["big"]
			for i := range n { // distinct templates: the probe, shifted
				t := make(Template, len(probe))
				copy(t, probe[i%len(probe):])
				copy(t[len(probe)-i%len(probe):], probe)
				id := fmt.Sprintf("f_%d", i)
				mc.index[id] = len(mc.faces)
				mc.faces = append(mc.faces, memFace{IndexedFace: IndexedFace{FaceID: id, ExternalID: id}, template: t})
			}
			for b.Loop() {
				c.Match([]string{"big"}, probe, 10)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "faces/s")
		})
	}
}

// BenchmarkIdentify is the worker's whole step for one 640×360 frame with
// one face, against a collection of 100 faces.
func BenchmarkIdentify(b *testing.B) {
	c, _ := newCollections(b)
	if _, err := c.Create("staff", 0); err != nil {
		b.Fatal(err)
	}
	img := gocvFile(b, "images/face.jpg")
	for range 100 {
		if _, _, err := c.IndexFaces("staff", img, IndexOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	frame := decode(b, testFrame(b, 640, 360, 320))
	defer SetOpenCVThreads(SetOpenCVThreads(1))
	start := time.Now()
	for b.Loop() {
		if res := c.Identify(frame, []string{"staff"}, 5); len(res) != 1 {
			b.Fatalf("identify: %+v", res)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}

func BenchmarkDecodeImage(b *testing.B) {
	img := gocvFile(b, "images/face.jpg")
	for b.Loop() {
		m, err := DecodeImage(img, 0)
		if err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
}

// BenchmarkDetectNoDownscale is the 1280×720 frame searched at full
// resolution (MaxWidth -1, min face still 60): what the downscale saves.
func BenchmarkDetectNoDownscale(b *testing.B) {
	d, err := NewDetector(DetectorConfig{MaxWidth: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	frame := decode(b, testFrame(b, 1280, 720, 640))
	defer SetOpenCVThreads(SetOpenCVThreads(1))
	start := time.Now()
	for b.Loop() {
		d.Detect(frame)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}
