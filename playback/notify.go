package playback

import (
	"context"
	"sync"
	"time"
)

// notifier wakes requests waiting for a stream's next fragment. A waiter
// takes the stream's channel before it checks the store, so a fragment that
// lands between the check and the wait still wakes it; notify closes the
// channel and forgets it, so the map only holds streams someone waits on.
type notifier struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
	closed  chan struct{} // closed by close: nobody waits any more
	done    bool
}

// changed returns a channel closed at the stream's next fragment (or at
// close).
func (n *notifier) changed(stream string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return n.closed
	}
	ch := n.waiters[stream]
	if ch == nil {
		ch = make(chan struct{})
		n.waiters[stream] = ch
	}
	return ch
}

func (n *notifier) notify(stream string) {
	n.mu.Lock()
	ch := n.waiters[stream]
	delete(n.waiters, stream)
	n.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return
	}
	n.done = true
	close(n.closed)
	for k, ch := range n.waiters {
		close(ch)
		delete(n.waiters, k)
	}
}

// wait blocks until ch is closed, the deadline passes or ctx ends, and
// reports whether ch was closed.
func wait(ctx context.Context, ch <-chan struct{}, deadline *time.Timer) bool {
	select {
	case <-ch:
		return true
	case <-deadline.C:
	case <-ctx.Done():
	}
	return false
}

// stopped reports whether close was called.
func (n *notifier) stopped() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.done
}
