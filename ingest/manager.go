// Package ingest receives camera streams: an RTSP server that publishers
// push to, RTSP pull sources that reconnect on their own, and per-stream
// hubs that fan media out to recorders and viewers without ever letting a
// slow consumer slow ingest down.
package ingest

import (
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
)

// Config configures a Manager. Zero fields take the defaults stated.
type Config struct {
	// RTSPAddress is the RTSP listen address (TCP). Default ":8554"; a port
	// of 0 picks a free one (see Manager.RTSPAddr).
	RTSPAddress string
	// UDP also accepts RTP/RTCP over UDP from publishers, on
	// UDPRTPAddress/UDPRTCPAddress (an even port and the next one). They
	// default to ":8000"/":8001" on the RTSP host, or to a free pair when
	// the RTSP port is 0; a port of 0 in UDPRTPAddress also picks a free
	// pair. UDPRTCPAddress defaults to the port after UDPRTPAddress's.
	UDP            bool
	UDPRTPAddress  string
	UDPRTCPAddress string
	// Authorize is called on ANNOUNCE with the stream name; a non-nil error
	// refuses the publisher (ErrUnknownStream: 404, ErrInvalidName: 400,
	// anything else: 403). Default: any valid stream name is accepted.
	Authorize func(name string) error
	// OnHub is called once when a stream's hub is created, before any
	// media is written to it, so the caller can subscribe its recorder. It
	// must not call back into the Manager for the same stream.
	OnHub func(name string, h *Hub)
	// BackoffMin and BackoffMax bound the restart delay of pull sources.
	// Defaults 1s and 30s.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// ReadTimeout is the RTSP read timeout, for publishers and sources.
	// Default 10s.
	ReadTimeout time.Duration
	// Logger receives the component's logs. Default slog.Default().
	Logger *slog.Logger
	// Rand returns jitter in [0, 1). Default math/rand/v2's Float64. Calls
	// are serialised, so a seeded *rand.Rand's method is fine.
	Rand func() float64
}

// Manager runs the RTSP server and pull sources and owns the stream hubs.
type Manager struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	server   *gortsplib.Server
	rtspAddr string

	mu      sync.Mutex
	streams map[string]*stream
	started bool
	closed  bool

	randMu sync.Mutex
	wg     sync.WaitGroup // supervisors

	// onRetry, when set (by tests, before use), sees every restart delay.
	onRetry func(name string, attempt int, d time.Duration)
}

// stream is one stream's state inside the Manager.
type stream struct {
	name   string
	hub    *Hub
	status *streamStatus
	log    *slog.Logger
	ready  chan struct{} // closed once OnHub returned

	// guarded by Manager.mu
	publisher *gortsplib.ServerSession
	source    string

	srcMu sync.Mutex // serialises source changes
	sv    *supervisor
}

// New returns a Manager for cfg; Start starts its RTSP server.
func New(cfg Config) *Manager {
	if cfg.RTSPAddress == "" {
		cfg.RTSPAddress = ":8554"
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	cfg.BackoffMax = max(cfg.BackoffMax, cfg.BackoffMin)
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Authorize == nil {
		cfg.Authorize = defaultAuthorize
	}
	return &Manager{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "ingest"),
		now:     time.Now,
		streams: map[string]*stream{},
	}
}

// defaultAuthorize accepts names of 1–128 characters of [A-Za-z0-9_.-]
// other than "." and "..".
func defaultAuthorize(name string) error {
	if name == "" || len(name) > 128 || name == "." || name == ".." {
		return ErrInvalidName
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '-'
		if !ok {
			return ErrInvalidName
		}
	}
	return nil
}

// Hub returns the stream's hub, creating the stream (and calling OnHub) if
// it does not exist. After Close it returns an inert, closed hub.
func (m *Manager) Hub(name string) *Hub {
	st := m.stream(name)
	if st == nil {
		h := NewHub(name)
		h.Close()
		return h
	}
	return st.hub
}

// stream returns the named stream, creating it if missing; nil after Close.
func (m *Manager) stream(name string) *stream {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	st, ok := m.streams[name]
	if !ok {
		st = &stream{
			name:   name,
			hub:    NewHub(name),
			status: newStreamStatus(m.now),
			log:    m.log.With("stream", name),
			ready:  make(chan struct{}),
		}
		m.streams[name] = st
	}
	m.mu.Unlock()

	if !ok {
		if m.cfg.OnHub != nil {
			m.cfg.OnHub(name, st.hub)
		}
		close(st.ready)
	}
	<-st.ready
	return st
}

func (m *Manager) lookup(name string) *stream {
	m.mu.Lock()
	st := m.streams[name]
	m.mu.Unlock()
	if st != nil {
		<-st.ready
	}
	return st
}

// SetSource sets the stream's pull URL (an rtsp:// URL; "" for none),
// creating the stream if needed. A new URL replaces the running source; a
// stream with a source refuses publishers, and one publishing now is
// disconnected.
func (m *Manager) SetSource(name, url string) {
	st := m.stream(name)
	if st == nil {
		return
	}
	st.srcMu.Lock()
	defer st.srcMu.Unlock()

	m.mu.Lock()
	if st.source == url {
		m.mu.Unlock()
		return
	}
	st.source = url
	var pub *gortsplib.ServerSession
	if url != "" {
		pub = st.publisher
	}
	m.mu.Unlock()

	if pub != nil {
		st.log.Info("disconnecting publisher: the stream now pulls from a source")
		pub.Close()
	}
	if st.sv != nil {
		st.sv.stop()
		st.sv = nil
	}
	st.status.setSource(url)
	if url == "" {
		return
	}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	st.sv = m.startSupervisor(st, url)
}

// stopSource stops the stream's pull source, if any, and waits for it.
func (st *stream) stopSource() {
	st.srcMu.Lock()
	defer st.srcMu.Unlock()
	if st.sv != nil {
		st.sv.stop()
		st.sv = nil
	}
}

// Remove stops the stream's source, disconnects its publisher and closes
// its hub. A later publisher or SetSource creates the stream afresh.
func (m *Manager) Remove(name string) {
	m.mu.Lock()
	st := m.streams[name]
	delete(m.streams, name)
	var pub *gortsplib.ServerSession
	if st != nil {
		pub = st.publisher
	}
	m.mu.Unlock()
	if st == nil {
		return
	}
	<-st.ready
	st.stopSource()
	if pub != nil {
		pub.Close()
	}
	st.hub.Close()
}

// Status returns the stream's ingest status; the zero Status for an
// unknown stream.
func (m *Manager) Status(name string) Status {
	st := m.lookup(name)
	if st == nil {
		return Status{}
	}
	s := st.status.snapshot()
	s.FramesDropped += st.hub.Stats().Dropped
	return s
}

// Streams returns the names of the streams the Manager knows, sorted.
func (m *Manager) Streams() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.streams))
	for n := range m.streams {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Close stops the RTSP server (publishers are disconnected and their hubs
// get End), stops the pull sources, closes every hub (sinks get what is
// queued, then End) and waits for all of it.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	var streams []*stream
	for _, st := range m.streams {
		streams = append(streams, st)
	}
	m.mu.Unlock()

	if m.server != nil {
		m.server.Close()
	}
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Go(func() {
			<-st.ready
			st.stopSource()
		})
	}
	wg.Wait()
	m.wg.Wait()
	for _, st := range streams {
		wg.Go(st.hub.Close)
	}
	wg.Wait()
}

func (m *Manager) rand() float64 {
	m.randMu.Lock()
	defer m.randMu.Unlock()
	return m.cfg.Rand()
}
