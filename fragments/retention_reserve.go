package fragments

import (
	"container/heap"
	"time"
)

// maxReservePasses bounds the statfs/delete rounds of one retention pass.
const maxReservePasses = 16

// freeReserve resolves Config.FreeReserve: 0 is min(5% of the filesystem,
// MaxFreeReserve), negative is off.
func (s *Store) freeReserve() int64 {
	switch r := s.cfg.FreeReserve; {
	case r < 0:
		return 0
	case r > 0:
		return r
	}
	_, total, err := s.statfs(s.cfg.Dir)
	if err != nil {
		s.log.Warn("free-disk reserve off: cannot stat filesystem", "err", err)
		return 0
	}
	return min(int64(total/20), MaxFreeReserve)
}

// enforceReserve deletes the oldest chunk files of any stream while the
// filesystem has less than the reserve free.
func (s *Store) enforceReserve() {
	if s.reserve <= 0 {
		return
	}
	for range maxReservePasses {
		avail, _, err := s.statfs(s.cfg.Dir)
		if err != nil {
			s.log.Warn("free-disk reserve: stat filesystem", "err", err)
			return
		}
		deficit := s.reserve - int64(avail)
		if deficit <= 0 {
			return
		}
		victims := s.oldestFiles(deficit)
		if len(victims) == 0 {
			s.log.Warn("free disk below reserve and nothing left to delete", "avail", avail, "reserve", s.reserve)
			return
		}
		for st, files := range victims {
			s.deleteFiles(st, files, "free-disk reserve")
		}
	}
}

// oldestFiles takes out of their streams the oldest files across all
// streams until they add up to at least bytes.
func (s *Store) oldestFiles(bytes int64) map[*stream][]*file {
	var h fileHeap
	for _, st := range s.streamList() {
		if f := st.oldestIdle(); f != nil {
			h = append(h, candidate{st, f, f.fv.Oldest})
		}
	}
	heap.Init(&h)
	out := make(map[*stream][]*file)
	for bytes > 0 && h.Len() > 0 {
		c := heap.Pop(&h).(candidate)
		if c.st.take(c.f) {
			out[c.st] = append(out[c.st], c.f)
			bytes -= c.f.fv.End
		}
		if f := c.st.oldestIdle(); f != nil {
			heap.Push(&h, candidate{c.st, f, f.fv.Oldest})
		}
	}
	return out
}

// oldestIdle is the stream's oldest file that no recorder writes.
func (st *stream) oldestIdle() *file {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, f := range st.files {
		if !f.active {
			return f
		}
	}
	return nil
}

// take removes an idle file from the stream, reporting whether it was there.
func (st *stream) take(f *file) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, g := range st.files {
		if g == f && !f.active {
			st.files = append(st.files[:i], st.files[i+1:]...)
			return true
		}
	}
	return false
}

type candidate struct {
	st     *stream
	f      *file
	oldest time.Time
}

// fileHeap orders candidates oldest first.
type fileHeap []candidate

func (h fileHeap) Len() int           { return len(h) }
func (h fileHeap) Less(i, j int) bool { return h[i].oldest.Before(h[j].oldest) }
func (h fileHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *fileHeap) Push(x any)        { *h = append(*h, x.(candidate)) }
func (h *fileHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
