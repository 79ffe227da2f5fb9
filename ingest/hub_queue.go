package ingest

import (
	"sync"

	"vigil/media"
)

// item is one queued message: a unit, or a Begin or End control message.
type item struct {
	unit  *media.Unit
	begin []media.Track // non-nil: Begin
	end   bool
}

// ring is a growable FIFO of items.
type ring struct {
	buf        []item
	head, size int
}

func (r *ring) push(it item) {
	if r.size == len(r.buf) {
		nb := make([]item, max(8, 2*len(r.buf)))
		for i := range r.size {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = it
	r.size++
}

func (r *ring) pop() item {
	it := r.buf[r.head]
	r.buf[r.head] = item{}
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return it
}

// subscription is one sink's bounded queue and delivery goroutine.
type subscription struct {
	name  string
	sink  media.Sink
	limit int // maximum queued units; control messages do not count

	mu       sync.Mutex
	cond     *sync.Cond
	q        ring
	units    int  // units in q
	waitKey  bool // skipping units until a video keyframe
	waitDrop bool // ... because of a drop (skips count as drops)
	stopping bool
	drain    bool // deliver what is queued before stopping
	counters SinkStats

	stopOnce sync.Once
	done     chan struct{}
}

func newSubscription(name string, limit int, sink media.Sink) *subscription {
	s := &subscription{name: name, sink: sink, limit: limit, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	s.counters.Name = name
	return s
}

// begin queues a Begin and makes the subscription wait for a keyframe.
func (s *subscription) begin(tracks []media.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q.push(item{begin: tracks})
	s.waitKey, s.waitDrop = true, false
	s.cond.Signal()
}

// pushControl queues a control message; they are never dropped.
func (s *subscription) pushControl(it item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q.push(it)
	s.cond.Signal()
}

// pushUnit queues u unless the queue is full or the subscription is waiting
// for a keyframe. resume tells whether u is a point to resume at.
func (s *subscription) pushUnit(u *media.Unit, resume bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waitKey {
		if !resume {
			if s.waitDrop {
				s.counters.Dropped++
			} else {
				s.counters.Skipped++
			}
			return
		}
		s.waitKey, s.waitDrop = false, false
	}
	if s.units >= s.limit {
		s.counters.Dropped++
		s.waitKey, s.waitDrop = true, true
		return
	}
	s.q.push(item{unit: u})
	s.units++
	s.cond.Signal()
}

func (s *subscription) stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.counters
	st.Queued = s.units
	return st
}

// run delivers queued items to the sink until stopped.
func (s *subscription) run() {
	defer close(s.done)
	inSession := false
	for {
		s.mu.Lock()
		for s.q.size == 0 && !s.stopping {
			s.cond.Wait()
		}
		if s.stopping && (!s.drain || s.q.size == 0) {
			s.mu.Unlock()
			break
		}
		it := s.q.pop()
		if it.unit != nil {
			s.units--
		}
		s.mu.Unlock()

		switch {
		case it.unit != nil:
			if !inSession {
				continue
			}
			s.sink.Write(it.unit)
			s.mu.Lock()
			s.counters.Delivered++
			s.mu.Unlock()
		case it.begin != nil:
			inSession = true
			s.sink.Begin(it.begin)
		case it.end:
			if inSession {
				inSession = false
				s.sink.End()
			}
		}
	}
	if inSession {
		s.sink.End()
	}
}

// stop ends delivery and waits for the goroutine. With drain, queued items
// are delivered first.
func (s *subscription) stop(drain bool) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopping, s.drain = true, drain
		s.cond.Signal()
		s.mu.Unlock()
	})
	<-s.done
}
