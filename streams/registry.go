package streams

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/config"
)

// ErrNotFound is returned for an unknown stream.
var ErrNotFound = errors.New("stream not found")

// Stream is one stream's definition.
type Stream struct {
	Name      string    `json:"name"`
	Source    string    `json:"source,omitempty"`
	Retention Retention `json:"retention"`
	Detect    Detect    `json:"detect"`
	Created   time.Time `json:"created"`
}

// Retention bounds how much of a stream is kept; zero values are unlimited.
type Retention struct {
	MaxAge   Duration        `json:"max_age"`
	MaxBytes config.ByteSize `json:"max_bytes"`
}

// Detect configures face detection on a stream.
type Detect struct {
	Enabled     bool     `json:"enabled"`
	FPS         float64  `json:"fps"`
	Collections []string `json:"collections"`
}

// Validate checks a definition.
func (s *Stream) Validate() error {
	if err := ValidateName(s.Name); err != nil {
		return err
	}
	if s.Source != "" {
		u, err := url.Parse(s.Source)
		if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
			return fmt.Errorf("source: %q is not an rtsp:// or rtsps:// URL", s.Source)
		}
	}
	if s.Retention.MaxAge < 0 {
		return errors.New("retention.max_age: must not be negative")
	}
	if s.Retention.MaxBytes < 0 {
		return errors.New("retention.max_bytes: must not be negative")
	}
	if s.Detect.FPS < 0 || s.Detect.FPS > 30 {
		return errors.New("detect.fps: must be between 0 and 30")
	}
	for _, c := range s.Detect.Collections {
		if err := ValidateName(c); err != nil {
			return fmt.Errorf("detect.collections: %q: %w", c, err)
		}
	}
	return nil
}

// Change describes one change to the registry: Old is nil for a new stream,
// New is nil for a deleted one.
type Change struct {
	Old, New *Stream
}

// Registry holds the stream definitions.
type Registry struct {
	db       *bolt.DB
	mu       sync.Mutex
	streams  map[string]*Stream
	onChange []func(Change)
	now      func() time.Time
}

var bucket = []byte("streams")

// Open opens (creating if needed) the registry file at path.
func Open(path string) (*Registry, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open stream registry %s: %w", path, err)
	}
	r := &Registry{db: db, streams: map[string]*Stream{}, now: time.Now}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var s Stream
			if err := json.Unmarshal(v, &s); err != nil || ValidateName(s.Name) != nil {
				return nil // skip a damaged entry rather than refuse to start
			}
			r.streams[s.Name] = &s
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read stream registry: %w", err)
	}
	return r, nil
}

// Close closes the file.
func (r *Registry) Close() error { return r.db.Close() }

// OnChange registers fn to be called after every change, outside the lock.
func (r *Registry) OnChange(fn func(Change)) {
	r.mu.Lock()
	r.onChange = append(r.onChange, fn)
	r.mu.Unlock()
}

// List returns every stream, sorted by name.
func (r *Registry) List() []Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Stream, 0, len(r.streams))
	for _, s := range r.streams {
		out = append(out, s.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns one stream.
func (r *Registry) Get(name string) (Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.streams[name]
	if !ok {
		return Stream{}, ErrNotFound
	}
	return s.clone(), nil
}

// Put creates or replaces a stream and reports whether it was created.
func (r *Registry) Put(s Stream) (created bool, err error) {
	if err := s.Validate(); err != nil {
		return false, err
	}
	r.mu.Lock()
	old := r.streams[s.Name]
	if old != nil {
		s.Created = old.Created
	} else {
		s.Created = r.now().UTC()
	}
	ns := s.clone()
	b, err := json.Marshal(&ns)
	if err == nil {
		err = r.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(s.Name), b) })
	}
	if err != nil {
		r.mu.Unlock()
		return false, fmt.Errorf("save stream %s: %w", s.Name, err)
	}
	r.streams[s.Name] = &ns
	fns := r.onChange
	r.mu.Unlock()
	c := Change{Old: old, New: &ns}
	for _, fn := range fns {
		fn(c)
	}
	return old == nil, nil
}

// Delete removes a stream.
func (r *Registry) Delete(name string) error {
	r.mu.Lock()
	old, ok := r.streams[name]
	if !ok {
		r.mu.Unlock()
		return ErrNotFound
	}
	if err := r.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(name)) }); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("delete stream %s: %w", name, err)
	}
	delete(r.streams, name)
	fns := r.onChange
	r.mu.Unlock()
	for _, fn := range fns {
		fn(Change{Old: old})
	}
	return nil
}

func (s *Stream) clone() Stream {
	c := *s
	c.Detect.Collections = append([]string(nil), s.Detect.Collections...)
	return c
}
