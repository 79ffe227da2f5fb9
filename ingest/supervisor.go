package ingest

import (
	"context"
	"time"
)

// supervisor runs a pull source and restarts it when it fails.
type supervisor struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startSupervisor runs the source for url under st; the caller has done
// m.wg.Add(1).
func (m *Manager) startSupervisor(st *stream, url string) *supervisor {
	ctx, cancel := context.WithCancel(context.Background())
	sv := &supervisor{cancel: cancel, done: make(chan struct{})}
	src := &rtspSource{
		url: url, readTimeout: m.cfg.ReadTimeout,
		hub: st.hub, status: st.status, log: st.log, now: m.now,
	}
	go func() {
		defer m.wg.Done()
		defer close(sv.done)
		m.supervise(ctx, st, src)
	}()
	return sv
}

func (sv *supervisor) stop() {
	sv.cancel()
	<-sv.done
}

// supervise restarts src forever with capped exponential backoff and
// jitter. The backoff starts over after a session that stayed up at least
// BackoffMax.
func (m *Manager) supervise(ctx context.Context, st *stream, src *rtspSource) {
	attempt := 0
	lastErr := ""
	for {
		err := src.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		st.status.setError(err)
		if msg := err.Error(); msg != lastErr {
			st.log.Warn("source failed", "url", redact(src.url), "error", err)
			lastErr = msg
		} else {
			st.log.Debug("source failed again", "url", redact(src.url), "error", err, "attempt", attempt)
		}
		if !src.online.IsZero() && m.now().Sub(src.online) >= m.cfg.BackoffMax {
			attempt, lastErr = 0, ""
		}
		d := backoff(attempt, m.cfg.BackoffMin, m.cfg.BackoffMax, m.rand)
		if m.onRetry != nil {
			m.onRetry(st.name, attempt, d)
		}
		attempt++

		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		st.status.addReconnect()
	}
}
