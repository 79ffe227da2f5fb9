package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/detect"
)

// startDetect starts this node's detect worker, analysing up to workers
// fragments at once (0: none), and exports its counters on /metrics. The
// worker's goroutine is joined by close.
func (a *app) startDetect(workers int, reg *prometheus.Registry) error {
	if workers == 0 {
		a.log.Info("detect worker off (detect.workers is 0)")
		return nil
	}
	w, err := detect.NewWorker(detect.WorkerConfig{
		JS:          a.bus.JetStream(),
		Settings:    a.detectSettings,
		Collections: a.faces,
		Publish:     a.bus.PublishEvent,
		Concurrency: workers,
		Logger:      a.log,
	})
	if err != nil {
		return err
	}
	a.worker = w
	go w.Run(context.Background())
	registerDetectMetrics(reg, w)
	return nil
}

// detectSettings is the worker's view of the stream registry: a stream it
// does not know is not analysed.
func (a *app) detectSettings(stream string) (bool, float64, []string) {
	s, err := a.registry.Get(stream)
	if err != nil {
		return false, 0, nil
	}
	return s.Detect.Enabled, s.Detect.FPS, s.Detect.Collections
}

// registerDetectMetrics exports the worker's counters.
func registerDetectMetrics(reg *prometheus.Registry, w *detect.Worker) {
	counter := func(name, help string, labels prometheus.Labels, v func(detect.WorkerStats) int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v(w.Stats())) }))
	}
	counter("vigil_detect_fragments_total", "Fragments the detect worker analysed.", nil,
		func(s detect.WorkerStats) int64 { return s.Fragments })
	counter("vigil_detect_frames_total", "Frames the detect worker searched for faces.", nil,
		func(s detect.WorkerStats) int64 { return s.Frames })
	counter("vigil_detect_events_total", "Events the detect worker published.", nil,
		func(s detect.WorkerStats) int64 { return s.Events })
	counter("vigil_detect_skipped_total", "Fragment notices skipped: detection off, unknown stream, fragment gone.", nil,
		func(s detect.WorkerStats) int64 { return s.Skipped })
	const failures = "Fragments the detect worker failed on, by stage (fetch: given up after every delivery; decode: not decodable; publish: an event publish failed, the fragment is retried)."
	counter("vigil_detect_failures_total", failures, prometheus.Labels{"stage": "fetch"},
		func(s detect.WorkerStats) int64 { return s.FetchFailures })
	counter("vigil_detect_failures_total", failures, prometheus.Labels{"stage": "decode"},
		func(s detect.WorkerStats) int64 { return s.DecodeFailures })
	counter("vigil_detect_failures_total", failures, prometheus.Labels{"stage": "publish"},
		func(s detect.WorkerStats) int64 { return s.PublishFailures })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_detect_lag_seconds",
		Help: "How long after its server time the last fragment analysed was done.",
	}, func() float64 { return w.Stats().Lag.Seconds() }))
}
