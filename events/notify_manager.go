package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// ErrNotifierNotFound is returned for a name no notifier has.
var ErrNotifierNotFound = errors.New("notifier not found")

// ErrNotifiersClosed is returned after Close.
var ErrNotifiersClosed = errors.New("notifiers closed")

// BackoffConfig is the retry schedule: attempt n (1-based) failed → wait
// Initial·2^(n-1), capped at Max, times a random factor in [1-Jitter,
// 1+Jitter]. The zero value means 1s, 5m, 0.2; a zero Initial or Max alone
// takes its default, and Jitter 0 then means none.
type BackoffConfig struct {
	Initial, Max time.Duration
	Jitter       float64
}

// NotifyConfig configures the notifiers.
type NotifyConfig struct {
	// Bus is the events bus. Required.
	Bus *Bus
	// Path is the bbolt file for definitions, counters and dead letters.
	// Required.
	Path string
	// Backoff is the retry schedule (see BackoffConfig).
	Backoff BackoffConfig
	// AckWait is the consumers' AckWait: how long before an event held by
	// a crashed process is redelivered. Default 30s.
	AckWait time.Duration
	// MaxInFlight bounds each notifier's unacknowledged events (the
	// consumer's MaxAckPending), shared by its per-stream lanes. Default 256.
	MaxInFlight int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Dialer, when set, adjusts each destination's dialer (tests). The
	// egress check is the dialer's Control func: keep it.
	Dialer func(*net.Dialer) *net.Dialer
}

// Notifiers runs the stored notifiers.
type Notifiers struct {
	cfg NotifyConfig
	log *slog.Logger
	db  *bolt.DB

	mu      sync.Mutex
	defs    map[string]Notifier // with secrets
	counts  map[string]*counters
	workers map[string]*worker
	closed  bool

	stopFlush chan struct{}
	flushDone chan struct{}
}

// OpenNotifiers opens the store and starts every enabled notifier.
func OpenNotifiers(cfg NotifyConfig) (*Notifiers, error) {
	if cfg.Bus == nil || cfg.Path == "" {
		return nil, errors.New("events: notifiers need a bus and a path")
	}
	if cfg.Backoff == (BackoffConfig{}) {
		cfg.Backoff.Jitter = 0.2
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff.Initial = time.Second
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = 5 * time.Minute
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := openNotifyStore(cfg.Path)
	if err != nil {
		return nil, err
	}
	defs, counts, err := loadDefs(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("events: notifiers store %s: %w", cfg.Path, err)
	}
	n := &Notifiers{cfg: cfg, log: cfg.Logger.With("component", "notify"), db: db, defs: defs, counts: counts,
		workers: map[string]*worker{}, stopFlush: make(chan struct{}), flushDone: make(chan struct{})}
	for _, d := range defs {
		if d.Disabled {
			continue
		}
		if err := n.startLocked(d); err != nil {
			// A definition that cannot start (a bad stored template, NATS
			// trouble) must not keep the others from running.
			n.log.Error("notifier not started", "notifier", d.Name, "err", err)
		}
	}
	go n.flushLoop()
	return n, nil
}

func durableName(name string) string { return "vigil-notify-" + name }

func filterSubjects(f Filter) []string {
	if len(f.Streams) == 0 {
		return []string{EventsSubject + ">"}
	}
	out := make([]string, len(f.Streams))
	for i, s := range f.Streams {
		out[i] = EventsSubject + s
	}
	return out
}

// ensureConsumer creates or updates the notifier's durable consumer.
func (n *Notifiers) ensureConsumer(ctx context.Context, d Notifier) (jetstream.Consumer, error) {
	cons, err := n.cfg.Bus.JetStream().CreateOrUpdateConsumer(ctx, EventsStream, jetstream.ConsumerConfig{
		Durable:        durableName(d.Name),
		Description:    "vigil notifier " + d.Name,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        n.cfg.AckWait,
		MaxDeliver:     -1, // attempts are counted by the worker (MaxDeliver)
		MaxAckPending:  n.cfg.MaxInFlight,
		FilterSubjects: filterSubjects(d.Filter),
	})
	if err != nil {
		return nil, fmt.Errorf("events: consumer %s: %w", durableName(d.Name), err)
	}
	return cons, nil
}

// newDestination builds a definition's destination.
func (n *Notifiers) newDestination(d *Notifier) (destination, error) {
	switch d.Type {
	case NotifyWebhook:
		return newWebhook(d, n.cfg.Now, n.cfg.Dialer)
	case NotifyEmail:
		return newEmail(d, n.cfg.Now, n.cfg.Dialer)
	}
	return nil, fieldErr("type", "unknown destination type %q", d.Type)
}

// startLocked creates the consumer and starts a worker for d.
func (n *Notifiers) startLocked(d Notifier) error {
	dest, err := n.newDestination(&d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cons, err := n.ensureConsumer(ctx, d)
	cancel()
	if err != nil {
		return err
	}
	c := n.counts[d.Name]
	if c == nil {
		c = &counters{}
		n.counts[d.Name] = c
	}
	w := newWorker(n, d, dest, cons, c)
	n.workers[d.Name] = w
	go w.run()
	return nil
}

// stopLocked stops a notifier's worker and waits for it.
func (n *Notifiers) stopLocked(name string) {
	if w := n.workers[name]; w != nil {
		w.stop()
		delete(n.workers, name)
	}
}

// Put validates, stores and (re)starts a notifier. An empty or "********"
// secret or password keeps the stored one.
func (n *Notifiers) Put(def Notifier) (created bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false, ErrNotifiersClosed
	}
	old, exists := n.defs[def.Name]
	if def.Secret == redactedSecret || (def.Secret == "" && exists) {
		def.Secret = old.Secret
	}
	if def.Email != nil {
		e := *def.Email
		if (e.Password == redactedSecret || e.Password == "") && old.Email != nil {
			e.Password = old.Email.Password
		}
		if e.Password == redactedSecret {
			e.Password = ""
		}
		def.Email = &e
	}
	if def.Secret == redactedSecret {
		def.Secret = ""
	}
	if !def.Disabled {
		def.DisabledReason = ""
	}
	if err := def.Validate(); err != nil {
		return false, err
	}
	n.stopLocked(def.Name)
	if err := saveDef(n.db, def); err != nil {
		return false, fmt.Errorf("events: store notifier %s: %w", def.Name, err)
	}
	n.defs[def.Name] = def
	if _, ok := n.counts[def.Name]; !ok {
		n.counts[def.Name] = &counters{}
	}
	if def.Disabled {
		// Keep (or create) the consumer so events queue while disabled.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = n.ensureConsumer(ctx, def)
		cancel()
		return !exists, err
	}
	return !exists, n.startLocked(def)
}

// Get returns a notifier's redacted definition and its status.
func (n *Notifiers) Get(name string) (Notifier, Status, error) {
	n.mu.Lock()
	d, ok := n.defs[name]
	c := n.counts[name]
	n.mu.Unlock()
	if !ok {
		return Notifier{}, Status{}, ErrNotifierNotFound
	}
	return d.Redacted(), n.status(d, c), nil
}

func (n *Notifiers) status(d Notifier, c *counters) Status {
	st := Status{Disabled: d.Disabled, DisabledReason: d.DisabledReason, DeadLetters: deadLetters(n.db, d.Name)}
	if c != nil {
		st.Delivered, st.Failed = c.delivered.Load(), c.failed.Load()
		st.Suppressed, st.Filtered = c.suppressed.Load(), c.filtered.Load()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if cons, err := n.cfg.Bus.JetStream().Consumer(ctx, EventsStream, durableName(d.Name)); err == nil {
		if info, err := cons.Info(ctx); err == nil {
			st.Pending = int64(info.NumPending) + int64(info.NumAckPending)
		}
	}
	return st
}

// List returns every notifier, redacted, with its status, sorted by name.
func (n *Notifiers) List() []NotifierView {
	n.mu.Lock()
	type pair struct {
		d Notifier
		c *counters
	}
	all := make([]pair, 0, len(n.defs))
	for name, d := range n.defs {
		all = append(all, pair{d, n.counts[name]})
	}
	n.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].d.Name < all[j].d.Name })
	out := make([]NotifierView, len(all))
	for i, p := range all {
		out[i] = NotifierView{Notifier: p.d.Redacted(), Status: n.status(p.d, p.c)}
	}
	return out
}

// Delete stops a notifier and deletes its consumer, record and dead letters.
func (n *Notifiers) Delete(name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.defs[name]; !ok {
		return ErrNotifierNotFound
	}
	n.stopLocked(name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.cfg.Bus.JetStream().DeleteConsumer(ctx, EventsStream, durableName(name)); err != nil &&
		!errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("events: delete consumer %s: %w", durableName(name), err)
	}
	if err := deleteDef(n.db, name); err != nil {
		return fmt.Errorf("events: delete notifier %s: %w", name, err)
	}
	delete(n.defs, name)
	delete(n.counts, name)
	return nil
}

// SampleEvent is the face.matched event Test sends.
func SampleEvent(now time.Time, stream string) *Event {
	now = now.UTC()
	return &Event{ID: NewID(now), Version: SchemaVersion, Type: FaceMatched, Time: now, Stream: stream,
		Fragment: FragmentRef{Number: 1, ServerTime: now},
		Faces: []FaceResult{{BBox: BBox{Left: 0.4, Top: 0.3, Width: 0.1, Height: 0.15}, Confidence: 0.99,
			Matches: []Match{{Collection: "test", FaceID: "00000000-0000-0000-0000-000000000000", ExternalID: "vigil-test", Similarity: 0.97}}}},
		ImageURL: ""}
}

// Test sends a sample face.matched event through the notifier's
// destination now, bypassing the queue, and returns the delivery error.
// It works on a disabled notifier too, and counts nothing.
func (n *Notifiers) Test(ctx context.Context, name string) error {
	n.mu.Lock()
	d, ok := n.defs[name]
	n.mu.Unlock()
	if !ok {
		return ErrNotifierNotFound
	}
	dest, err := n.newDestination(&d)
	if err != nil {
		return err
	}
	stream := "test"
	if len(d.Filter.Streams) > 0 {
		stream = d.Filter.Streams[0]
	}
	e := SampleEvent(n.cfg.Now(), stream)
	raw, err := jsonMarshal(e)
	if err != nil {
		return err
	}
	return dest.send(ctx, e, raw)
}

// disable marks a notifier disabled (from its own worker: no wait).
func (n *Notifiers) disable(name, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d, ok := n.defs[name]
	if !ok || d.Disabled {
		return
	}
	d.Disabled, d.DisabledReason = true, reason
	n.defs[name] = d
	if err := saveDef(n.db, d); err != nil {
		n.log.Error("persisting disabled notifier", "notifier", name, "err", err)
	}
	n.log.Warn("notifier disabled", "notifier", name, "reason", reason)
}

func (n *Notifiers) flushLoop() {
	defer close(n.flushDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.stopFlush:
			return
		case <-t.C:
			n.flush()
		}
	}
}

func (n *Notifiers) flush() {
	n.mu.Lock()
	all := make(map[string]*counters, len(n.counts))
	for k, v := range n.counts {
		if _, ok := n.defs[k]; ok {
			all[k] = v
		}
	}
	n.mu.Unlock()
	if err := saveCounters(n.db, all); err != nil {
		n.log.Error("persisting notifier counters", "err", err)
	}
}

// Close stops every worker, waits for them and closes the store.
func (n *Notifiers) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	ws := n.workers
	n.workers = map[string]*worker{}
	n.mu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	for _, w := range ws {
		<-w.done
	}
	close(n.stopFlush)
	<-n.flushDone
	n.flush()
	return n.db.Close()
}
