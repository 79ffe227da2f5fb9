package ingest

import (
	"log/slog"
	"sync"
	"time"
)

// warnings logs problems that can repeat per packet without flooding the
// log: the first occurrence of each kind is logged at once, later ones are
// counted and summarised at most once per interval, and on flush.
type warnings struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	seen   map[string]bool
	counts map[string]int64
	lastEr map[string]error
	last   time.Time
}

func newWarnings(log *slog.Logger, every time.Duration, now func() time.Time) *warnings {
	return &warnings{
		log: log, every: every, now: now,
		seen: map[string]bool{}, counts: map[string]int64{}, lastEr: map[string]error{},
	}
}

// add records one occurrence of the problem kind what.
func (w *warnings) add(what string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen[what] {
		w.seen[what] = true
		w.log.Warn(what, "error", err, "note", "repeats are summarised")
		if w.last.IsZero() {
			w.last = w.now()
		}
		return
	}
	w.counts[what]++
	w.lastEr[what] = err
	if now := w.now(); now.Sub(w.last) >= w.every {
		w.flushLocked(now)
	}
}

// flush logs the counts gathered since the last summary.
func (w *warnings) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked(w.now())
}

func (w *warnings) flushLocked(now time.Time) {
	for what, n := range w.counts {
		if n > 0 {
			w.log.Warn(what+" (repeated)", "count", n, "since", w.last, "last_error", w.lastEr[what])
		}
	}
	clear(w.counts)
	clear(w.lastEr)
	w.last = now
}
