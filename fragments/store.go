package fragments

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
	"vigil/media"
)

const indexFile = "index.db"

// Store is the fragment store. Its methods are safe for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      *bolt.DB
	com     *committer
	reserve int64                                             // free-disk reserve in bytes, 0 = off
	statfs  func(dir string) (avail, total uint64, err error) // replaced by tests

	mu      sync.Mutex
	streams map[string]*stream
	closed  bool

	fragmentsDeleted atomic.Uint64
	retMu            sync.Mutex // one retention pass at a time
	stop             chan struct{}
	wg               sync.WaitGroup
}

// stream is one stream's state. Lock order: recorder.mu, then wmu, then mu.
type stream struct {
	name string
	dir  string

	// wmu serialises appends with Purge, so that Purge never races an
	// append between its write and its index update.
	wmu sync.Mutex

	mu        sync.Mutex
	files     []*file // oldest first
	next      uint64  // next fragment number
	gen       uint64  // bumped by Purge: recorders then start a new file
	retention Retention
	rec       *recorder // nil until Recorder is called

	spans spanIndex // the stream's recorded spans; has its own lock

	bytesWritten     atomic.Int64
	fragmentsWritten atomic.Uint64
	unitsDropped     atomic.Uint64
	writeErrors      atomic.Uint64
}

// file is one chunk file. fv is written under stream.mu.
type file struct {
	id     uint64
	fv     chunk.FileValue
	active bool // a recorder appends to it: retention leaves it alone
}

func (s *stream) path(id uint64) string { return filepath.Join(s.dir, chunk.FileName(id)) }

// usageLocked is the stream's indexed bytes on disk. Caller holds s.mu.
func (s *stream) usageLocked() int64 {
	var n int64
	for _, f := range s.files {
		n += f.fv.End
	}
	return n
}

// Open opens the store in cfg.Dir, recovers it from an unclean stop and
// starts retention.
func Open(cfg Config) (*Store, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("fragments: %w", err)
	}
	db, err := bolt.Open(filepath.Join(cfg.Dir, indexFile), 0o600, &bolt.Options{
		Timeout:        5 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("fragments: open index: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "fragments"),
		db:      db,
		statfs:  statfs,
		streams: make(map[string]*stream),
		stop:    make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("fragments: recover: %w", err)
	}
	s.reserve = s.freeReserve()
	s.com = newCommitter(db)
	s.wg.Add(1)
	go s.retentionLoop()
	return s, nil
}

// Close flushes every recorder's buffered media as a last fragment, stops
// retention and closes the index. It waits for all of it.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var recs []*recorder
	for _, st := range s.streams {
		if st.rec != nil {
			recs = append(recs, st.rec)
		}
	}
	s.mu.Unlock()

	close(s.stop)
	s.wg.Wait()
	for _, r := range recs {
		r.shutdown()
	}
	s.com.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("fragments: close index: %w", err)
	}
	return nil
}

// stream returns the state of a valid stream name, creating it.
func (s *Store) stream(name string) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamLocked(name)
}

func (s *Store) streamLocked(name string) *stream {
	st := s.streams[name]
	if st == nil {
		st = &stream{name: name, dir: filepath.Join(s.cfg.Dir, name)}
		s.streams[name] = st
	}
	return st
}

// Recorder returns the media sink that records a stream into the store:
// the same one on every call for the stream, as a stream has one publisher
// at a time. After Close, or for an invalid name, it drops everything.
func (s *Store) Recorder(name string) media.Sink {
	r := &recorder{s: s, log: s.log.With("stream", name), closed: true}
	if err := checkStream(name); err != nil {
		r.log.Error("recorder refused", "err", err)
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return r
	}
	st := s.streamLocked(name)
	if st.rec == nil {
		r.st, r.closed = st, false
		r.w = chunkWriter{s: s, st: st}
		st.rec = r // written under s.mu, like Close reads it
	}
	return st.rec
}

// SetRetention sets a stream's retention limits, applied from the next
// retention pass.
func (s *Store) SetRetention(name string, r Retention) {
	if !validStream(name) {
		return
	}
	st := s.stream(name)
	st.mu.Lock()
	st.retention = r
	st.mu.Unlock()
}

// Usage is the bytes a stream's indexed chunk files use on disk.
func (s *Store) Usage(name string) int64 {
	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.usageLocked()
}

// Stats are the store's counters.
type Stats struct {
	BytesUsed        int64
	FragmentsDeleted uint64 // by retention
	Streams          map[string]StreamStats
}

// StreamStats are one stream's counters since Open.
type StreamStats struct {
	BytesUsed        int64
	BytesWritten     int64 // fragment bytes appended
	FragmentsWritten uint64
	UnitsDropped     uint64 // before the first keyframe, timestamps going backwards, unusable
	WriteErrors      uint64 // fragments lost to write or index errors
}

// Stats returns a snapshot of the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	streams := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	out := Stats{FragmentsDeleted: s.fragmentsDeleted.Load(), Streams: make(map[string]StreamStats, len(streams))}
	for _, st := range streams {
		st.mu.Lock()
		used := st.usageLocked()
		st.mu.Unlock()
		out.BytesUsed += used
		out.Streams[st.name] = StreamStats{
			BytesUsed:        used,
			BytesWritten:     st.bytesWritten.Load(),
			FragmentsWritten: st.fragmentsWritten.Load(),
			UnitsDropped:     st.unitsDropped.Load(),
			WriteErrors:      st.writeErrors.Load(),
		}
	}
	return out
}
