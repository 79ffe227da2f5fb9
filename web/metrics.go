package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// StreamCounters are one stream's figures for /metrics.
type StreamCounters struct {
	Online           bool
	BytesIn          int64 // bytes of media received
	FragmentsWritten int64
	FramesDropped    int64 // slow-consumer drops plus invalid or backwards frames
	Reconnects       int64 // pull source reconnects
	BytesUsed        int64 // bytes on disk
}

// Counters are the figures /metrics exposes, gathered at scrape time.
type Counters struct {
	Streams          map[string]StreamCounters
	StoreBytesUsed   int64
	FragmentsDeleted int64 // by retention
}

var (
	descOnline     = prometheus.NewDesc("vigil_stream_online", "1 while the stream has a live publisher or source.", []string{"stream"}, nil)
	descBytesIn    = prometheus.NewDesc("vigil_stream_bytes_in_total", "Media bytes received.", []string{"stream"}, nil)
	descFragments  = prometheus.NewDesc("vigil_stream_fragments_written_total", "Fragments written and indexed.", []string{"stream"}, nil)
	descDropped    = prometheus.NewDesc("vigil_stream_frames_dropped_total", "Frames dropped: slow consumers, invalid or backwards timestamps.", []string{"stream"}, nil)
	descReconnects = prometheus.NewDesc("vigil_stream_reconnects_total", "Pull source reconnects.", []string{"stream"}, nil)
	descStreamUsed = prometheus.NewDesc("vigil_stream_bytes_used", "Bytes of recordings on disk.", []string{"stream"}, nil)
	descStoreUsed  = prometheus.NewDesc("vigil_store_bytes_used", "Bytes of recordings on disk, all streams.", nil, nil)
	descDeleted    = prometheus.NewDesc("vigil_store_fragments_deleted_total", "Fragments deleted by retention.", nil, nil)
)

// countersCollector reads Counters at every scrape.
type countersCollector struct{ get func() Counters }

func (c countersCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOnline, descBytesIn, descFragments, descDropped, descReconnects, descStreamUsed, descStoreUsed, descDeleted} {
		ch <- d
	}
}

func (c countersCollector) Collect(ch chan<- prometheus.Metric) {
	k := c.get()
	for name, s := range k.Streams {
		online := 0.0
		if s.Online {
			online = 1
		}
		ch <- prometheus.MustNewConstMetric(descOnline, prometheus.GaugeValue, online, name)
		ch <- prometheus.MustNewConstMetric(descBytesIn, prometheus.CounterValue, float64(s.BytesIn), name)
		ch <- prometheus.MustNewConstMetric(descFragments, prometheus.CounterValue, float64(s.FragmentsWritten), name)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.FramesDropped), name)
		ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(s.Reconnects), name)
		ch <- prometheus.MustNewConstMetric(descStreamUsed, prometheus.GaugeValue, float64(s.BytesUsed), name)
	}
	ch <- prometheus.MustNewConstMetric(descStoreUsed, prometheus.GaugeValue, float64(k.StoreBytesUsed))
	ch <- prometheus.MustNewConstMetric(descDeleted, prometheus.CounterValue, float64(k.FragmentsDeleted))
}

func (s *Server) metricsHandler() http.Handler {
	reg := s.cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.cfg.Counters != nil {
		reg.MustRegister(countersCollector{get: s.cfg.Counters})
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
