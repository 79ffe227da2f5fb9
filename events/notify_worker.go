package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxRetryAfter caps a receiver's Retry-After.
const maxRetryAfter = time.Hour

// defaultMaxDeliver is a notifier's attempts before a dead letter.
const defaultMaxDeliver = 10

// worker runs one notifier: a consumer whose messages are dispatched to
// in-order lanes, one per stream.
type worker struct {
	ns   *Notifiers
	def  Notifier
	dest destination
	cons jetstream.Consumer
	cnt  *counters

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	held  map[uint64]jetstream.Msg // by stream sequence: received, not yet acked
	lanes map[string]chan jetstream.Msg
	lwg   sync.WaitGroup

	cmu  sync.Mutex
	last map[string]time.Time // cooldown: stream\x00person → last sent event time
}

func newWorker(ns *Notifiers, def Notifier, dest destination, cons jetstream.Consumer, cnt *counters) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{ns: ns, def: def, dest: dest, cons: cons, cnt: cnt, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), held: map[uint64]jetstream.Msg{}, lanes: map[string]chan jetstream.Msg{},
		last: map[string]time.Time{}}
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) run() {
	defer close(w.done)
	log := w.ns.log.With("notifier", w.def.Name)
	var cc jetstream.ConsumeContext
	for {
		var err error
		cc, err = w.cons.Consume(w.dispatch, jetstream.PullMaxMessages(w.ns.cfg.MaxInFlight))
		if err == nil {
			break
		}
		log.Warn("consume", "err", err)
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	hb := time.NewTicker(w.ns.cfg.AckWait / 3)
	defer hb.Stop()
loop:
	for {
		select {
		case <-w.ctx.Done():
			break loop
		case <-hb.C:
			w.heartbeat()
		}
	}
	cc.Stop()
	<-cc.Closed()
	w.mu.Lock()
	for _, l := range w.lanes {
		close(l)
	}
	w.lanes = nil
	w.mu.Unlock()
	w.lwg.Wait()
}

// heartbeat tells JetStream the held messages are still being worked on,
// so a lane waiting out a backoff does not get them redelivered.
func (w *worker) heartbeat() {
	w.mu.Lock()
	msgs := make([]jetstream.Msg, 0, len(w.held))
	for _, m := range w.held {
		msgs = append(msgs, m)
	}
	w.mu.Unlock()
	for _, m := range msgs {
		m.InProgress()
	}
}

// dispatch hands a message to its stream's lane (the Consume callback).
func (w *worker) dispatch(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		m.Term()
		return
	}
	stream := strings.TrimPrefix(m.Subject(), EventsSubject)
	w.mu.Lock()
	if w.lanes == nil || w.ctx.Err() != nil {
		w.mu.Unlock()
		m.Nak()
		return
	}
	if _, dup := w.held[md.Sequence.Stream]; dup {
		w.mu.Unlock() // redelivered while a lane still holds it
		return
	}
	w.held[md.Sequence.Stream] = m
	l := w.lanes[stream]
	if l == nil {
		// MaxAckPending bounds what is held, so a lane never holds more.
		l = make(chan jetstream.Msg, w.ns.cfg.MaxInFlight+1)
		w.lanes[stream] = l
		w.lwg.Add(1)
		go w.lane(l)
	}
	w.mu.Unlock()
	l <- m
}

func (w *worker) release(m jetstream.Msg) {
	if md, err := m.Metadata(); err == nil {
		w.mu.Lock()
		delete(w.held, md.Sequence.Stream)
		w.mu.Unlock()
	}
}

func (w *worker) lane(ch chan jetstream.Msg) {
	defer w.lwg.Done()
	for m := range ch {
		if w.ctx.Err() == nil {
			w.handle(m)
		} else {
			m.Nak()
		}
		w.release(m)
	}
}

// handle delivers one event, retrying in place; it acks, naks or terms m.
func (w *worker) handle(m jetstream.Msg) {
	log := w.ns.log.With("notifier", w.def.Name)
	var e Event
	if err := json.Unmarshal(m.Data(), &e); err != nil {
		log.Warn("dropping unparseable event", "subject", m.Subject(), "err", err)
		m.Term()
		return
	}
	if !w.def.Filter.Match(&e) {
		m.Ack()
		w.cnt.add(&w.cnt.filtered, 1)
		return
	}
	key := e.Stream + "\x00" + person(&e)
	if w.suppressed(key, e.Time) {
		m.Ack()
		w.cnt.add(&w.cnt.suppressed, 1)
		return
	}
	maxDeliver := w.def.MaxDeliver
	if maxDeliver <= 0 {
		maxDeliver = defaultMaxDeliver
	}
	attempts := 0
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
		attempts = int(md.NumDelivered) - 1 // earlier processes tried at least once each
	}
	for {
		attempts++
		err := w.dest.send(w.ctx, &e, m.Data())
		if err == nil {
			m.Ack()
			w.cnt.add(&w.cnt.delivered, 1)
			w.sent(key, e.Time)
			return
		}
		if w.ctx.Err() != nil {
			m.Nak()
			return
		}
		w.cnt.add(&w.cnt.failed, 1)
		var de *deliveryError
		errors.As(err, &de)
		if de != nil && de.Gone {
			// Leave the event queued for when the notifier is enabled again.
			w.ns.disable(w.def.Name, fmt.Sprintf("receiver answered 410 Gone at %s", w.ns.cfg.Now().UTC().Format(time.RFC3339)))
			w.cancel()
			m.Nak()
			return
		}
		if attempts >= maxDeliver {
			d := DeadLetter{EventID: e.ID, Stream: e.Stream, Attempts: attempts, LastError: err.Error(), Time: w.ns.cfg.Now().UTC()}
			if err := addDeadLetter(w.ns.db, w.def.Name, d); err != nil {
				log.Error("recording dead letter", "event", e.ID, "err", err)
			}
			log.Warn("giving up on event", "event", e.ID, "stream", e.Stream, "attempts", attempts, "err", err)
			m.Term()
			return
		}
		delay := w.ns.cfg.Backoff.delay(attempts)
		if de != nil && de.RetryAfter > 0 {
			delay = min(de.RetryAfter, maxRetryAfter)
		}
		log.Warn("delivery failed", "event", e.ID, "stream", e.Stream, "attempt", attempts, "retry_in", delay, "err", err)
		select {
		case <-w.ctx.Done():
			m.Nak()
			return
		case <-time.After(delay):
		}
	}
}

// suppressed reports whether key had a notification within the cooldown
// before t (event time, so a replayed backlog is judged as it happened).
func (w *worker) suppressed(key string, t time.Time) bool {
	cd := time.Duration(w.def.Cooldown)
	if cd <= 0 {
		return false
	}
	w.cmu.Lock()
	defer w.cmu.Unlock()
	last, ok := w.last[key]
	if !ok {
		return false
	}
	d := t.Sub(last)
	return d < cd && d > -cd
}

func (w *worker) sent(key string, t time.Time) {
	if w.def.Cooldown <= 0 {
		return
	}
	w.cmu.Lock()
	defer w.cmu.Unlock()
	w.last[key] = t
	if len(w.last) > 100000 { // forget stale entries
		for k, v := range w.last {
			if t.Sub(v) > time.Duration(w.def.Cooldown) {
				delete(w.last, k)
			}
		}
	}
}

// delay is the wait after failed attempt n (1-based).
func (b BackoffConfig) delay(n int) time.Duration {
	d := b.Max
	if n-1 < 40 {
		if v := b.Initial << (n - 1); v > 0 && v < b.Max {
			d = v
		}
	}
	if b.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + b.Jitter*(2*rand.Float64()-1)))
	}
	return d
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
