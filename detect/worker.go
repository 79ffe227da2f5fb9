package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/events"
)

// WorkerConfig configures a Worker. Zero values take the defaults.
type WorkerConfig struct {
	// JS is the JetStream context whose VIGIL_FRAGMENTS stream holds the
	// fragment-ready notices. Required.
	JS jetstream.JetStream
	// Durable names the pull consumer on VIGIL_FRAGMENTS (filter
	// vigil.fragments.>, explicit acks) that every worker of a cluster
	// shares, so each notice goes to one worker. Default "vigil-detect".
	Durable string
	// AckWait is how long a delivered notice may go unacknowledged before
	// JetStream gives it to another worker. A worker busy with a fragment
	// reports progress every AckWait/3, so only a worker that died loses
	// its fragment to another. Default 30s.
	AckWait time.Duration
	// MaxDeliver is how many times a notice is delivered at most. Default 5.
	MaxDeliver int
	// Settings returns a stream's detection settings: whether detection is
	// on, the frames per second to analyse (<= 0: 2) and the collections
	// to match. A stream it does not know should be reported disabled.
	// Required.
	Settings func(stream string) (enabled bool, fps float64, collections []string)
	// Collections finds the faces and matches them. Required.
	Collections *Collections
	// Publish publishes an event and waits for it to be stored
	// (events.Bus.PublishEvent). Required.
	Publish func(context.Context, *events.Event) error
	// Fetch opens the fragment MP4 (init segment and one fragment) at a
	// notice's URL. An error wrapping ErrFragmentGone skips the notice;
	// other errors are retried on later deliveries. Default: an HTTP GET
	// bounded by FetchTimeout, where 404 and 410 are ErrFragmentGone.
	Fetch func(ctx context.Context, url string) (io.ReadCloser, error)
	// FetchTimeout bounds the default Fetch, body included. Default 30s.
	FetchTimeout time.Duration
	// MaxFragmentBytes: a larger fragment is refused as undecodable.
	// Default 256 MiB.
	MaxFragmentBytes int64
	// Concurrency is how many fragments the worker analyses at once.
	// Default 1.
	Concurrency int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock of Stats.Lag. Default time.Now.
	Now func() time.Time
}

func (c *WorkerConfig) setDefaults() {
	if c.Durable == "" {
		c.Durable = "vigil-detect"
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 30 * time.Second
	}
	if c.Fetch == nil {
		c.Fetch = httpFetch(&http.Client{Timeout: c.FetchTimeout})
	}
	if c.MaxFragmentBytes <= 0 {
		c.MaxFragmentBytes = 256 << 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// DefaultFPS is the sampling rate of a stream whose settings give none.
const DefaultFPS = 2

// workerMaxMatches is how many matches an event lists per face.
const workerMaxMatches = 5

// fetchWait is how long one pull request waits for a notice.
const fetchWait = 10 * time.Second

// Worker is the detect worker: it takes fragment-ready notices from a
// durable JetStream consumer shared with the cluster's other workers,
// fetches each fragment, decodes frames at the stream's sampling rate,
// finds and matches the faces, and publishes one event per frame with
// faces (see docs/events.md). Event ids are derived from the stream,
// fragment number and frame offset (events.StableID), so a fragment that
// is analysed twice — redelivered after a worker died, or after a failed
// publish — publishes the same ids, which JetStream drops as duplicates.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger

	mu      sync.Mutex
	cancel  context.CancelFunc
	running bool
	closed  bool
	done    chan struct{} // closed when Run returns

	fragments, frames, published, skipped          atomic.Int64
	fetchFailures, decodeFailures, publishFailures atomic.Int64
	consumerErrors                                 atomic.Int64 // NATS failures, for summarised logs
	lagNS                                          atomic.Int64
}

// WorkerStats are a worker's counters since it was made.
type WorkerStats struct {
	Fragments int64 // fragments analysed to the end
	Frames    int64 // frames analysed (sampled, searched for faces)
	Events    int64 // events published
	// Skipped counts notices acknowledged without analysis: detection off
	// or stream unknown, fragment gone.
	Skipped int64
	// FetchFailures counts fragments given up on because every delivery
	// failed to fetch them.
	FetchFailures int64
	// DecodeFailures counts fragments that are not an MP4 OpenCV decodes,
	// and notices that are not JSON.
	DecodeFailures int64
	// PublishFailures counts failed event publishes (the fragment is then
	// analysed again on a later delivery).
	PublishFailures int64
	// Lag is how long after its server time the last fragment analysed
	// was done: how far behind live the worker runs.
	Lag time.Duration
}

// NewWorker checks the configuration and makes a worker; Run runs it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	switch {
	case cfg.JS == nil:
		return nil, errors.New("detect worker: JetStream is required")
	case cfg.Settings == nil:
		return nil, errors.New("detect worker: Settings is required")
	case cfg.Collections == nil:
		return nil, errors.New("detect worker: Collections is required")
	case cfg.Publish == nil:
		return nil, errors.New("detect worker: Publish is required")
	}
	cfg.setDefaults()
	return &Worker{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "detect"),
		done: make(chan struct{}),
	}, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{
		Fragments:       w.fragments.Load(),
		Frames:          w.frames.Load(),
		Events:          w.published.Load(),
		Skipped:         w.skipped.Load(),
		FetchFailures:   w.fetchFailures.Load(),
		DecodeFailures:  w.decodeFailures.Load(),
		PublishFailures: w.publishFailures.Load(),
		Lag:             time.Duration(w.lagNS.Load()),
	}
}

// Run creates (or joins) the durable consumer and analyses fragments,
// Concurrency at a time, until ctx ends or Close is called. It returns
// nil then; it retries NATS failures itself. A fragment being analysed
// when it stops is handed back (Nak) for another worker. Run may be
// called once.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("detect worker: already running")
	}
	w.running = true
	defer close(w.done)
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.cancel = cancel
	w.mu.Unlock()

	cons, err := w.consumer(ctx)
	if err != nil {
		return nil // stopped while (re)trying
	}
	w.log.Info("detect worker started", "durable", w.cfg.Durable, "concurrency", w.cfg.Concurrency)
	var wg sync.WaitGroup
	for range w.cfg.Concurrency {
		wg.Go(func() { w.loop(ctx, cons) })
	}
	wg.Wait()
	return nil
}

// Close stops Run and waits for it to return.
func (w *Worker) Close() {
	w.mu.Lock()
	w.closed = true
	cancel, running := w.cancel, w.running
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if running {
		<-w.done
	}
}

// consumer creates or updates the durable consumer, retrying with capped
// backoff until it succeeds or ctx ends.
func (w *Worker) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:       w.cfg.Durable,
		Description:   "vigil: detect workers",
		FilterSubject: events.FragmentsSubject + ">",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxDeliver:    w.cfg.MaxDeliver,
	}
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := w.cfg.JS.CreateOrUpdateConsumer(cctx, events.FragmentsStream, cc)
		cancel()
		if err == nil {
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		d := backoff(attempt)
		w.warnEvery(&w.consumerErrors, "cannot create the fragments consumer; retrying", "durable", cc.Durable, "in", d.Round(time.Millisecond), "err", err)
		if !sleep(ctx, d) {
			return nil, ctx.Err()
		}
	}
}

// loop pulls one notice at a time and handles it.
func (w *Worker) loop(ctx context.Context, cons jetstream.Consumer) {
	failures := 0
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err == nil {
			for msg := range batch.Messages() {
				w.handle(ctx, msg)
			}
			err = batch.Error()
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoMessages):
			failures = 0
			continue
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			if c, cerr := w.consumer(ctx); cerr == nil {
				cons = c
			}
		}
		d := backoff(failures)
		failures++
		w.warnEvery(&w.consumerErrors, "cannot fetch fragment notices; retrying", "in", d.Round(time.Millisecond), "err", err)
		sleep(ctx, d)
	}
}

// backoff is the delay before retry number attempt (from 0): 1 s
// doubling to 30 s, with ±25 % jitter so that workers do not retry in
// lockstep.
func backoff(attempt int) time.Duration {
	d := 30 * time.Second
	if attempt < 5 {
		d = time.Second << attempt
	}
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// sleep waits d or until ctx ends, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// warnEvery counts a failure and logs it when the count is a power of
// two: failures that can repeat per fragment are summarised, not printed
// for each.
func (w *Worker) warnEvery(counter *atomic.Int64, msg string, args ...any) {
	n := counter.Add(1)
	if n&(n-1) == 0 {
		w.log.Warn(fmt.Sprintf("%s (%d so far)", msg, n), args...)
	}
}
