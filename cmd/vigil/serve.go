package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"vigil/config"
	"vigil/detect"
	"vigil/events"
	"vigil/fragments"
	"vigil/ingest"
	"vigil/playback"
	"vigil/playback/frame"
	"vigil/streams"
	"vigil/web"
)

// serveFlags are the command-line overrides of the config.
type serveFlags struct {
	config, data, http, rtsp, nats, natsURL, logLevel string
	// demo publishes a synthetic camera to stream "demo" (demo.go).
	demo bool
}

func parseServeFlags(args []string) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "", "YAML config file (see vigil.example.yaml)")
	fs.StringVar(&f.data, "data", "", "data directory (default ./data)")
	fs.StringVar(&f.http, "http", "", "HTTP listen address (default :8080)")
	fs.StringVar(&f.rtsp, "rtsp", "", "RTSP listen address (default :8554)")
	fs.StringVar(&f.nats, "nats", "", "embedded NATS listen address (default 127.0.0.1:4222)")
	fs.StringVar(&f.natsURL, "nats-url", "", "use an existing NATS cluster instead of the embedded server")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.BoolVar(&f.demo, "demo", false, `publish a synthetic test camera (needs ffmpeg) to stream "demo", created with 1h retention`)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

func loadConfig(f serveFlags) (config.Config, error) {
	cfg, err := config.Load(f.config, os.Getenv)
	if err != nil {
		return cfg, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Data, f.data)
	set(&cfg.HTTP, f.http)
	set(&cfg.RTSP.Address, f.rtsp)
	set(&cfg.NATS, f.nats)
	set(&cfg.NATSURL, f.natsURL)
	set(&cfg.Log.Level, f.logLevel)
	return cfg, cfg.Validate()
}

func newLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func serve(args []string) error {
	f, err := parseServeFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log)
	slog.SetDefault(log)

	app, err := start(cfg, log, f.demo)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	app.close()
	log.Info("stopped")
	return nil
}

// app is the running service: every component, in start order.
type app struct {
	log      *slog.Logger
	registry *streams.Registry
	bus      *events.Bus
	store    *fragments.Store
	playback *playback.Server
	faces    *detect.Collections
	notify   *events.Notifiers
	worker   *detect.Worker
	ingest   *ingest.Manager
	web      *web.Server
	demo     *demoCamera
	baseURL  atomic.Value // string: this node's HTTP base URL, once listening
}

// start builds and starts every component; demo adds the demo camera.
func start(cfg config.Config, log *slog.Logger, demo bool) (a *app, err error) {
	t0 := time.Now()
	a = &app{log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return a, fmt.Errorf("data directory: %w", err)
	}
	if a.registry, err = streams.Open(filepath.Join(cfg.Data, "streams.db")); err != nil {
		return a, err
	}
	defRet := streams.Retention{MaxAge: streams.Duration(cfg.Storage.Retention.MaxAge), MaxBytes: cfg.Storage.Retention.MaxBytes}
	for _, cs := range cfg.Streams {
		if _, err := a.registry.Put(configStream(cs, defRet)); err != nil {
			return a, fmt.Errorf("config: streams: %s: %w", cs.Name, err)
		}
	}

	a.bus, err = events.Start(events.Config{
		Listen:       cfg.NATS,
		StoreDir:     filepath.Join(cfg.Data, "nats"),
		URL:          cfg.NATSURL,
		EventsMaxAge: cfg.Events.MaxAge,
		MQTT:         cfg.MQTT.Listen,
		Logger:       log,
	})
	if err != nil {
		return a, err
	}
	if cfg.NATSURL == "" {
		log.Info("nats listening on " + a.bus.Addr())
	} else {
		log.Info("nats connected to " + a.bus.Addr())
	}
	if m := a.bus.MQTTAddr(); m != "" {
		log.Info("mqtt listening on " + m)
	}
	if a.notify, err = events.OpenNotifiers(events.NotifyConfig{
		Bus:    a.bus,
		Path:   filepath.Join(cfg.Data, "notifiers.db"),
		Logger: log,
	}); err != nil {
		return a, err
	}
	for _, cn := range cfg.Notifiers {
		def, err := configNotifier(cn)
		if err == nil {
			_, err = a.notify.Put(def)
		}
		if err != nil {
			return a, fmt.Errorf("config: notifiers: %s: %w", cn.Name, err)
		}
	}

	reg, indexLatency := newMetrics()
	a.store, err = fragments.Open(fragments.Config{
		Dir:                 filepath.Join(cfg.Data, "recordings"),
		FragmentTarget:      cfg.Storage.FragmentTarget,
		ChunkMaxAge:         cfg.Storage.ChunkMaxAge,
		ChunkMaxBytes:       int64(cfg.Storage.ChunkMaxBytes),
		Fsync:               cfg.Storage.Fsync,
		FreeReserve:         int64(cfg.Storage.FreeReserve),
		RetentionEvery:      cfg.Storage.RetentionEvery,
		OnFragment:          a.fragmentReady,
		ObserveIndexLatency: func(d time.Duration) { indexLatency.Observe(d.Seconds()) },
		Logger:              log,
	})
	if err != nil {
		return a, err
	}

	a.playback = playback.New(playback.Config{Store: a.store, Frame: frame.JPEG, Logger: log})

	det, err := detect.NewDetector(detect.DetectorConfig{})
	if err != nil {
		return a, fmt.Errorf("face detector: %w", err)
	}
	if a.faces, err = detect.OpenCollections(filepath.Join(cfg.Data, "faces.db"), det, detect.NewLBPH()); err != nil {
		det.Close()
		return a, err
	}
	if err := a.startDetect(cfg.Detect.Workers, reg); err != nil {
		return a, err
	}

	a.ingest = ingest.New(ingest.Config{
		RTSPAddress: cfg.RTSP.Address,
		UDP:         cfg.RTSP.UDP,
		Authorize:   a.authorizer(cfg.RTSP.PublishCreates, defRet),
		OnHub: func(name string, h *ingest.Hub) {
			h.Subscribe("recorder", cfg.Storage.HubQueue, a.store.Recorder(name))
		},
		BackoffMin:  cfg.RTSP.BackoffMin,
		BackoffMax:  cfg.RTSP.BackoffMax,
		ReadTimeout: cfg.RTSP.ReadTimeout,
		Logger:      log,
	})
	a.registry.OnChange(a.applyChange)
	for _, s := range a.registry.List() {
		s := s
		a.applyChange(streams.Change{New: &s})
	}
	a.web = web.New(web.Config{
		Address:          cfg.HTTP,
		Registry:         a.registry,
		Store:            a.store,
		Ingest:           a.ingest,
		Playback:         a.playback,
		Purge:            a.store.Purge,
		DefaultRetention: defRet,
		Events:           a.bus,
		Faces:            a.faces,
		Notifiers:        a.notify,
		Counters:         a.counters,
		Metrics:          reg,
		Logger:           log,
	})
	if err := a.web.Start(); err != nil {
		return a, err
	}
	log.Info("http listening on " + a.web.Addr())
	a.baseURL.Store(baseURL(a.web.Addr()))
	// Media comes in last, once everything it flows to is up.
	if err := a.ingest.Start(); err != nil {
		return a, err
	}
	if demo {
		if err := a.startDemo(); err != nil {
			return a, err
		}
	}
	log.Info("vigil started", "version", version, "data", cfg.Data, "streams", len(a.registry.List()), "startup", time.Since(t0).Round(time.Millisecond))
	log.Info("browser UI at http://" + localAddr(a.web.Addr()) + "/")
	return a, nil
}

// close stops the components in reverse start order: no new requests, then
// no new media, then the store flushes what it holds.
func (a *app) close() {
	if a.demo != nil {
		a.demo.Close() // ffmpeg ends its RTSP session while the server is still up
	}
	if a.worker != nil {
		a.worker.Close() // a fragment in hand goes back to the consumer for the next worker
	}
	if a.playback != nil {
		a.playback.Close() // blocked playlist reloads answer now, so the web server stops promptly
	}
	if a.web != nil {
		a.web.Close()
	}
	if a.ingest != nil {
		a.ingest.Close()
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.log.Error("closing the store", "err", err)
		}
	}
	if a.faces != nil {
		a.faces.Close()
		a.faces.Detector().Close()
	}
	if a.notify != nil {
		if err := a.notify.Close(); err != nil {
			a.log.Error("closing the notifiers", "err", err)
		}
	}
	if a.bus != nil {
		a.bus.Close()
	}
	if a.registry != nil {
		a.registry.Close()
	}
}

// applyChange makes ingest and the store follow the registry.
func (a *app) applyChange(c streams.Change) {
	if c.New == nil {
		a.ingest.Remove(c.Old.Name)
		return
	}
	s := c.New
	a.store.SetRetention(s.Name, fragments.Retention{MaxAge: time.Duration(s.Retention.MaxAge), MaxBytes: int64(s.Retention.MaxBytes)})
	a.ingest.Hub(s.Name)
	if c.Old == nil || c.Old.Source != s.Source {
		a.ingest.SetSource(s.Name, s.Source)
	}
}

// authorizer decides whether a publisher may publish to name, creating the
// stream when the config allows it.
func (a *app) authorizer(creates bool, defRet streams.Retention) func(string) error {
	return func(name string) error {
		if err := streams.ValidateName(name); err != nil {
			return fmt.Errorf("%w: %w", ingest.ErrInvalidName, err)
		}
		if _, err := a.registry.Get(name); err == nil {
			return nil
		}
		if !creates {
			return fmt.Errorf("%w: %s (rtsp.publish_creates is off)", ingest.ErrUnknownStream, name)
		}
		_, err := a.registry.Put(streams.Stream{Name: name, Retention: defRet, Detect: streams.Detect{FPS: 2}})
		return err
	}
}

// configStream turns a stream declared in the config file into a definition.
func configStream(cs config.Stream, defRet streams.Retention) streams.Stream {
	s := streams.Stream{Name: cs.Name, Source: cs.Source, Retention: defRet, Detect: streams.Detect{FPS: 2}}
	if cs.Retention != nil {
		s.Retention = streams.Retention{MaxAge: streams.Duration(cs.Retention.MaxAge), MaxBytes: cs.Retention.MaxBytes}
	}
	if cs.Detect != nil {
		s.Detect = streams.Detect{Enabled: cs.Detect.Enabled, FPS: cs.Detect.FPS, Collections: cs.Detect.Collections}
	}
	return s
}

// configNotifier turns a notifier declared in the config file into a
// definition: the file's keys are the API body's, so it goes through the
// same JSON decoding and validation.
func configNotifier(cn config.Notifier) (events.Notifier, error) {
	b, err := json.Marshal(cn)
	if err != nil {
		return events.Notifier{}, err
	}
	var def events.Notifier
	if err := json.Unmarshal(b, &def); err != nil {
		return def, err
	}
	def.Name = cn.Name
	return def, def.Validate()
}

// fragmentReady wakes blocked HLS playlist requests and publishes a
// fragment-ready notice on NATS, for detection workers on this or another
// node.
func (a *app) fragmentReady(stream string, f fragments.Fragment) {
	a.playback.Notify(stream, f)
	base, _ := a.baseURL.Load().(string)
	n := events.FragmentNotice{
		Stream: stream, Number: f.Number, Run: f.Run, ServerTime: f.ServerTime.UTC(),
		DurationMS: float64(f.Duration) / float64(time.Millisecond), SizeBytes: f.Size,
		URL: fmt.Sprintf("%s/api/v1/streams/%s/fragments/%d", base, stream, f.Number),
	}
	if !f.ProducerTime.IsZero() {
		t := f.ProducerTime.UTC()
		n.ProducerTime = &t
	}
	if err := a.bus.PublishFragment(n); err != nil {
		// Summarised: a NATS outage would otherwise log every fragment.
		if d := a.bus.DroppedNotices(); d&(d-1) == 0 {
			a.log.Warn("fragment notices not published", "component", "events", "dropped", d, "err", err)
		}
	}
}

// baseURL is the URL other nodes reach this node's HTTP server at, from its
// listen address (an unspecified host becomes loopback).
func baseURL(addr string) string { return "http://" + localAddr(addr) }

// localAddr is a listen address as a client on this machine dials it: an
// unspecified host ("", 0.0.0.0, ::) becomes 127.0.0.1.
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
