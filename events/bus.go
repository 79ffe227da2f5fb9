// Package events is vigil's message bus: an embedded NATS server with
// JetStream (or an existing cluster), the durable streams vigil publishes
// to, and the schema of what it publishes. Fragment-ready notices go on
// VIGIL_FRAGMENTS for detection workers; recognition results go on
// VIGIL_EVENTS for consumers and notifiers.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and subject names: the external contract.
const (
	FragmentsStream  = "VIGIL_FRAGMENTS"
	FragmentsSubject = "vigil.fragments." // + stream name
	EventsStream     = "VIGIL_EVENTS"
	EventsSubject    = "vigil.events." // + stream name
)

// Config configures the bus.
type Config struct {
	// Listen is the embedded server's address. Default "127.0.0.1:4222";
	// port 0 picks a free one. Ignored when URL is set.
	Listen string
	// StoreDir holds the embedded server's JetStream data. Required when
	// URL is empty.
	StoreDir string
	// URL connects to an existing NATS cluster (with JetStream) instead of
	// starting the embedded server.
	URL string
	// EventsMaxAge is how long VIGIL_EVENTS keeps events. Default 168h.
	EventsMaxAge time.Duration
	// FragmentsMaxAge is how long VIGIL_FRAGMENTS keeps notices. Default 24h.
	FragmentsMaxAge time.Duration
	// MQTT is the embedded server's MQTT listen address; "" (the default)
	// runs no MQTT listener. Port 0 picks a free one. Ignored when URL is
	// set. MQTT clients see subject vigil.events.cam1 as topic
	// vigil/events/cam1.
	MQTT string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Bus is a connection to NATS JetStream, and the embedded server when vigil
// runs one.
type Bus struct {
	cfg  Config
	log  *slog.Logger
	srv  *server.Server // nil with an external cluster
	mqtt string         // the embedded server's MQTT address, or ""
	nc   *nats.Conn
	js   jetstream.JetStream
	once sync.Once

	dropped atomic.Int64 // fragment notices dropped
}

// Start starts the embedded server (unless cfg.URL is set), connects, and
// creates or updates vigil's streams.
func Start(cfg Config) (*Bus, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:4222"
	}
	if cfg.EventsMaxAge == 0 {
		cfg.EventsMaxAge = 168 * time.Hour
	}
	if cfg.FragmentsMaxAge == 0 {
		cfg.FragmentsMaxAge = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bus{cfg: cfg, log: cfg.Logger.With("component", "events")}
	url := cfg.URL
	if url == "" {
		srv, mqtt, err := startServer(cfg)
		if err != nil {
			return nil, err
		}
		b.srv, b.mqtt = srv, mqtt
		url = srv.ClientURL()
	}
	nc, err := nats.Connect(url, nats.Name("vigil"), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second), nats.RetryOnFailedConnect(false))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("events: connect %s: %w", redactURL(url), err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		b.Close()
		return nil, fmt.Errorf("events: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, sc := range []jetstream.StreamConfig{
		{Name: FragmentsStream, Subjects: []string{FragmentsSubject + ">"}, MaxAge: cfg.FragmentsMaxAge,
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, Description: "vigil: fragment-ready notices"},
		{Name: EventsStream, Subjects: []string{EventsSubject + ">"}, MaxAge: cfg.EventsMaxAge,
			Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute, Description: "vigil: recognition events"},
	} {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			b.Close()
			return nil, fmt.Errorf("events: stream %s: %w", sc.Name, err)
		}
	}
	return b, nil
}

// startServer runs the embedded NATS server with JetStream on cfg.Listen,
// and its MQTT listener on cfg.MQTT when that is set; it returns the MQTT
// address in use.
func startServer(cfg Config) (*server.Server, string, error) {
	if cfg.StoreDir == "" {
		return nil, "", errors.New("events: the embedded NATS server needs a store directory")
	}
	host, port, err := hostPort("nats", cfg.Listen)
	if err != nil {
		return nil, "", err
	}
	opts := &server.Options{
		ServerName: "vigil",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if cfg.MQTT != "" {
		// MQTT sessions and retained messages live in JetStream, which is
		// on, under the server name set above.
		if opts.MQTT.Host, opts.MQTT.Port, err = hostPort("mqtt", cfg.MQTT); err != nil {
			return nil, "", err
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, "", fmt.Errorf("events: nats server: %w", err)
	}
	go srv.Start()
	// Ready means every configured listener, MQTT's too, is listening.
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		if cfg.MQTT != "" {
			return nil, "", fmt.Errorf("events: nats server on %s (mqtt on %s) did not start", cfg.Listen, cfg.MQTT)
		}
		return nil, "", fmt.Errorf("events: nats server on %s did not start", cfg.Listen)
	}
	mqtt := ""
	if cfg.MQTT != "" {
		// The server writes the port it picked for port 0 into opts before
		// it reports ready.
		mqtt = net.JoinHostPort(opts.MQTT.Host, strconv.Itoa(opts.MQTT.Port))
	}
	return srv, mqtt, nil
}

// hostPort splits a listen address for the server's options: port 0 is a
// free port, an empty host every interface.
func hostPort(what, addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("events: %s address %q: %w", what, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("events: %s address %q: bad port", what, addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// MQTTAddr is the embedded server's MQTT listen address, or "" when it
// runs no MQTT listener.
func (b *Bus) MQTTAddr() string { return b.mqtt }

// Addr is the embedded server's client address, or the cluster URL.
func (b *Bus) Addr() string {
	if b.srv != nil {
		if a, ok := b.srv.Addr().(*net.TCPAddr); ok {
			return a.String()
		}
	}
	return redactURL(b.cfg.URL)
}

// JetStream is the JetStream context, for consumers.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn is the NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Close waits (briefly) for async publishes to be acknowledged, drains the
// connection and stops the embedded server.
func (b *Bus) Close() {
	b.once.Do(func() {
		if b.js != nil {
			select {
			case <-b.js.PublishAsyncComplete():
			case <-time.After(5 * time.Second):
				b.log.Warn("closing with unacknowledged publishes", "pending", b.js.PublishAsyncPending())
			}
		}
		if b.nc != nil {
			b.nc.Drain()
			for b.nc.IsDraining() {
				time.Sleep(10 * time.Millisecond)
			}
			b.nc.Close()
		}
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
		}
	})
}
