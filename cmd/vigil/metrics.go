package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"vigil/web"
)

// newMetrics builds the registry /metrics serves and the histogram of a
// fragment's close to its index commit.
func newMetrics() (*prometheus.Registry, prometheus.Histogram) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigil_fragment_index_latency_seconds",
		Help:    "Time from a fragment's close to its index commit (bytes durable first).",
		Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .015, .02, .03, .05, .075, .1, .2, .5, 1},
	})
	reg.MustRegister(h)
	return reg, h
}

// counters gathers the figures /metrics exposes from ingest and the store.
func (a *app) counters() web.Counters {
	st := a.store.Stats()
	k := web.Counters{
		Streams:          map[string]web.StreamCounters{},
		StoreBytesUsed:   st.BytesUsed,
		FragmentsDeleted: int64(st.FragmentsDeleted),
	}
	for _, s := range a.registry.List() {
		is := a.ingest.Status(s.Name)
		ss := st.Streams[s.Name]
		k.Streams[s.Name] = web.StreamCounters{
			Online:           is.Online,
			BytesIn:          is.BytesIn,
			FragmentsWritten: int64(ss.FragmentsWritten),
			FramesDropped:    is.FramesDropped + int64(ss.UnitsDropped),
			Reconnects:       is.Reconnects,
			BytesUsed:        ss.BytesUsed,
		}
	}
	return k
}
