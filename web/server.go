// Package web is vigil's HTTP front door: the REST API, media routes,
// health and metrics. It is the edge: it maps the other packages' errors to
// HTTP statuses and JSON error bodies, and owns no state of its own.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/fragments"
	"vigil/ingest"
	"vigil/streams"
)

// Registry is the stream registry as the API uses it.
type Registry interface {
	List() []streams.Stream
	Get(name string) (streams.Stream, error)
	Put(s streams.Stream) (created bool, err error)
	Delete(name string) error
}

// Store is the fragment store as the API uses it.
type Store interface {
	Fragments(stream string, q fragments.Query) ([]fragments.Fragment, string, error)
	Fragment(stream string, number uint64) (fragments.Fragment, error)
	OpenMP4(stream string, number uint64) (io.ReadSeekCloser, int64, error)
	Usage(stream string) int64
	Last(stream string) (fragments.Fragment, bool)
}

// Ingest reports a stream's live status.
type Ingest interface {
	Status(name string) ingest.Status
}

// Config holds the server's dependencies and settings.
type Config struct {
	// Address to listen on. Default ":8080"; ":0" picks a free port.
	Address  string
	Registry Registry
	Store    Store
	Ingest   Ingest
	// Playback serves HLS, clips, images and the timeline; nil leaves those
	// routes out.
	Playback Playback
	// Purge deletes a stream's recordings; called after the definition is deleted.
	Purge func(name string) error
	// DefaultRetention applies to streams created without one.
	DefaultRetention streams.Retention
	// Events reads stored and live events. Optional.
	Events EventLog
	// Faces holds the face collections; nil leaves the collections routes
	// out.
	Faces Faces
	// Notifiers holds the notifier definitions and delivers events; nil
	// leaves the notifiers routes out.
	Notifiers Notifiers
	// Counters supplies the stream and store figures for /metrics.
	Counters func() Counters
	// Metrics is gathered for /metrics. Default: a registry with Go and process collectors.
	Metrics *prometheus.Registry
	Logger  *slog.Logger
}

// Server is the HTTP server.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	once sync.Once
}

// New builds the server; Start makes it listen.
func New(cfg Config) *Server {
	if cfg.Address == "" {
		cfg.Address = ":8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "web"), done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.Address, err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting requests, lets running ones finish for up to five
// seconds, and waits for the server goroutine.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.ln == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
		<-s.done
	})
	return err
}

// Handler returns the routed handler, guarded against hostile paths.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", s.metricsHandler())
	s.routeStreams(mux)
	s.routeFragments(mux)
	s.routePlayback(mux)
	s.routeEvents(mux)
	s.routeFaces(mux)
	s.routeNotifiers(mux)
	s.routeUI(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such API route: "+r.Method+" "+r.URL.Path)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path)
	})
	return guardPath(mux)
}
