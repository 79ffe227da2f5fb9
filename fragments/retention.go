package fragments

import (
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// deleteBatch bounds the files deleted in one index transaction, so that
// appends never wait long for the index.
const deleteBatch = 64

func (s *Store) retentionLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.RetentionEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.RunRetention()
		}
	}
}

// RunRetention runs one retention pass now: per stream by age and bytes,
// then the free-disk reserve. The retention goroutine calls it every
// RetentionEvery.
func (s *Store) RunRetention() {
	s.retMu.Lock()
	defer s.retMu.Unlock()
	now := s.cfg.Now()
	for _, st := range s.streamList() {
		if victims := st.expired(now); len(victims) > 0 {
			s.deleteFiles(st, victims, "retention")
		}
	}
	s.enforceReserve()
}

func (s *Store) streamList() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	return list
}

// expired takes out of the stream, oldest first, the files that its
// retention no longer keeps: while the newest fragment of the oldest file is
// older than MaxAge, or while usage exceeds MaxBytes. Files being written are
// skipped.
func (st *stream) expired(now time.Time) []*file {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.retention
	if r.MaxAge <= 0 && r.MaxBytes <= 0 {
		return nil
	}
	usage := st.usageLocked()
	var victims []*file
	keep := make([]*file, 0, len(st.files))
	deleting := true
	for _, f := range st.files {
		old := r.MaxAge > 0 && f.fv.Newest.Before(now.Add(-r.MaxAge))
		big := r.MaxBytes > 0 && usage > r.MaxBytes
		if f.active || !deleting || !old && !big {
			keep = append(keep, f)
			deleting = deleting && f.active
			continue
		}
		victims = append(victims, f)
		usage -= f.fv.End
	}
	st.files = keep
	return victims
}

// deleteFiles deletes chunk files already taken out of st.files: index
// entries first (leaving a tombstone), then the files, then the tombstones.
// A crash in between leaves tombstones that recovery finishes.
func (s *Store) deleteFiles(st *stream, victims []*file, why string) {
	for len(victims) > 0 {
		batch := victims[:min(len(victims), deleteBatch)]
		victims = victims[len(batch):]
		var frags int
		var oldest time.Time
		err := s.db.Update(func(tx *bolt.Tx) error {
			frags = 0
			b, err := streamBucket(tx, st.name, true)
			if err != nil {
				return err
			}
			for _, f := range batch {
				n, err := deleteFileEntries(b, f.id, f.fv.First, f.fv.Last)
				if err != nil {
					return err
				}
				frags += n
				if err := b.Bucket(chunk.BucketGone).Put(chunk.NumberKey(f.id), nil); err != nil {
					return err
				}
			}
			oldest = oldestStart(b)
			return nil
		})
		if err != nil {
			s.log.Error("delete chunk files: index", "stream", st.name, "err", err)
			st.restore(batch)
			return
		}
		st.spans.trim(oldest)
		var bytes int64
		for _, f := range batch {
			if err := os.Remove(st.path(f.id)); err != nil && !os.IsNotExist(err) {
				s.log.Error("delete chunk file", "stream", st.name, "file", f.id, "err", err)
			}
			bytes += f.fv.End
		}
		err = s.db.Update(func(tx *bolt.Tx) error {
			b, err := streamBucket(tx, st.name, true)
			if err != nil {
				return err
			}
			gone := b.Bucket(chunk.BucketGone)
			for _, f := range batch {
				if err := gone.Delete(chunk.NumberKey(f.id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("clear tombstones", "stream", st.name, "err", err)
		}
		if why != "purge" {
			s.fragmentsDeleted.Add(uint64(frags))
		}
		s.log.Info("deleted chunk files", "stream", st.name, "reason", why, "files", len(batch), "fragments", frags, "bytes", bytes)
	}
}

// restore puts back files whose deletion failed.
func (st *stream) restore(files []*file) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.files = append(st.files, files...)
	slices.SortFunc(st.files, func(a, b *file) int { return cmpUint(a.id, b.id) })
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
