package detect

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors callers branch on; the HTTP layer maps them to statuses.
var (
	ErrNotFound         = errors.New("not found")
	ErrExists           = errors.New("already exists")
	ErrInvalidID        = errors.New("invalid collection id")
	ErrInvalidThreshold = errors.New("invalid threshold")
	ErrInvalidExternal  = errors.New("invalid external id")
	ErrNoFace           = errors.New("no face found")
	// ErrRecognizerMismatch: the collection's templates were made by
	// another recognizer (see Collection.Recognizer) and cannot be
	// compared with this one's.
	ErrRecognizerMismatch = errors.New("collection made with another recognizer")
	ErrClosed             = errors.New("collections closed")
)

// DefaultThreshold is the similarity at or above which a face matches,
// for collections created without a threshold. With the LBPH recognizer
// it is calibrated on the AT&T faces (see NewLBPH).
const DefaultThreshold = 0.8

// DefaultMaxMatches is how many matches Match and Search return when the
// caller passes max <= 0.
const DefaultMaxMatches = 10

// Collection describes a set of enrolled faces.
type Collection struct {
	ID string `json:"id"`
	// Threshold is the similarity at or above which a face matches.
	Threshold float64 `json:"threshold"`
	// Recognizer names the recognizer whose templates the collection holds.
	Recognizer string    `json:"recognizer"`
	Faces      int       `json:"face_count"`
	Created    time.Time `json:"created"`
}

// Collections is the store of face collections: a bbolt file, with every
// template also held in memory so that matching never touches the disk.
// It is safe for concurrent use.
type Collections struct {
	db  *bolt.DB
	det *Detector
	rec Recognizer
	cfg collectionsConfig

	writeMu sync.Mutex // serialises writers, so bbolt commits happen outside mu

	mu     sync.RWMutex // guards colls and closed
	colls  map[string]*memCollection
	closed bool
}

// memCollection is a collection as held in memory.
type memCollection struct {
	meta  Collection // Faces not maintained; len(faces) is the count
	faces []memFace
	index map[string]int // face id → position in faces
}

type memFace struct {
	IndexedFace
	template Template
}

// Option changes a default of OpenCollections.
type Option func(*collectionsConfig)

type collectionsConfig struct {
	defaultThreshold float64
	minFaceSize      int
	minSharpness     float64
	maxPixels        int
	maxSearchFaces   int
	now              func() time.Time
}

// WithDefaultThreshold sets the threshold of collections created with
// threshold 0. Default DefaultThreshold.
func WithDefaultThreshold(t float64) Option {
	return func(c *collectionsConfig) { c.defaultThreshold = t }
}

// WithMinFaceSize sets the smallest face side, in pixels of the uploaded
// image, that IndexFaces enrols; smaller faces are "too_small". Default 64.
func WithMinFaceSize(px int) Option { return func(c *collectionsConfig) { c.minFaceSize = px } }

// WithMinSharpness sets the focus measure (see sharpness in crop.go) under
// which IndexFaces refuses a face as "too_blurred". Default 0.04, which
// passes every AT&T face (the softest scores 0.076) and refuses them all
// after a Gaussian blur of 1 pixel (they then score at most 0.026);
// negative disables the check.
func WithMinSharpness(s float64) Option { return func(c *collectionsConfig) { c.minSharpness = s } }

// WithMaxPixels bounds uploaded images. Default DefaultMaxPixels.
func WithMaxPixels(n int) Option { return func(c *collectionsConfig) { c.maxPixels = n } }

// WithMaxSearchFaces bounds how many faces of one image Search looks up,
// largest first. Default 10.
func WithMaxSearchFaces(n int) Option { return func(c *collectionsConfig) { c.maxSearchFaces = n } }

// WithClock sets the clock that dates collections and faces. Default
// time.Now.
func WithClock(now func() time.Time) Option { return func(c *collectionsConfig) { c.now = now } }

// OpenCollections opens (creating if needed) the collections file at path
// and loads every template into memory. det and rec are used, not owned:
// the caller closes them after Collections.
func OpenCollections(path string, det *Detector, rec Recognizer, opts ...Option) (*Collections, error) {
	if det == nil || rec == nil {
		return nil, errors.New("collections: a detector and a recognizer are required")
	}
	cfg := collectionsConfig{
		defaultThreshold: DefaultThreshold,
		minFaceSize:      64,
		minSharpness:     0.04,
		maxPixels:        DefaultMaxPixels,
		maxSearchFaces:   10,
		now:              time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkThreshold(cfg.defaultThreshold); err != nil {
		return nil, fmt.Errorf("collections: default threshold: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("collections: %w", err)
	}
	// Templates are biometric data: the file is private to its owner.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("collections: open %s: %w", path, err)
	}
	c := &Collections{db: db, det: det, rec: rec, cfg: cfg}
	if c.colls, err = load(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("collections: %s: %w", path, err)
	}
	return c, nil
}

// Close closes the file. It waits for writes in flight.
func (c *Collections) Close() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.colls = nil
	c.mu.Unlock()
	return c.db.Close()
}

// Recognizer returns the recognizer that makes the collections' templates.
func (c *Collections) Recognizer() Recognizer { return c.rec }

// Detector returns the detector that finds faces in uploaded images.
func (c *Collections) Detector() *Detector { return c.det }

// ValidateID checks a collection id: 1 to 128 characters of
// [A-Za-z0-9_.-], and not "." or "..", like stream names.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > 128 {
		return fmt.Errorf("%w: longer than 128 characters", ErrInvalidID)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w: %q is reserved", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%w: character %q not allowed (use A-Z a-z 0-9 _ . -)", ErrInvalidID, c)
		}
	}
	return nil
}

func checkThreshold(t float64) error {
	if math.IsNaN(t) || t <= 0 || t > 1 {
		return fmt.Errorf("%w: %v is not in (0, 1]", ErrInvalidThreshold, t)
	}
	return nil
}

// Create makes an empty collection. threshold 0 takes the default; else it
// must lie in (0, 1]. An existing id is ErrExists.
func (c *Collections) Create(id string, threshold float64) (Collection, error) {
	if err := ValidateID(id); err != nil {
		return Collection{}, err
	}
	if threshold == 0 {
		threshold = c.cfg.defaultThreshold
	}
	if err := checkThreshold(threshold); err != nil {
		return Collection{}, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.checkOpen(); err != nil {
		return Collection{}, err
	}
	c.mu.RLock()
	_, exists := c.colls[id]
	c.mu.RUnlock()
	if exists {
		return Collection{}, fmt.Errorf("collection %q: %w", id, ErrExists)
	}
	meta := Collection{ID: id, Threshold: threshold, Recognizer: c.rec.Name(), Created: c.cfg.now().UTC()}
	if err := c.db.Update(func(tx *bolt.Tx) error { return putCollection(tx, meta) }); err != nil {
		return Collection{}, fmt.Errorf("collection %q: %w", id, err)
	}
	c.mu.Lock()
	c.colls[id] = &memCollection{meta: meta, index: map[string]int{}}
	c.mu.Unlock()
	return meta, nil
}

// SetThreshold changes a collection's threshold (0: the default).
func (c *Collections) SetThreshold(id string, threshold float64) (Collection, error) {
	if threshold == 0 {
		threshold = c.cfg.defaultThreshold
	}
	if err := checkThreshold(threshold); err != nil {
		return Collection{}, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	mc, err := c.lookup(id)
	if err != nil {
		return Collection{}, err
	}
	c.mu.RLock()
	meta := mc.meta
	c.mu.RUnlock()
	meta.Threshold = threshold
	if err := c.db.Update(func(tx *bolt.Tx) error { return putCollection(tx, meta) }); err != nil {
		return Collection{}, fmt.Errorf("collection %q: %w", id, err)
	}
	c.mu.Lock()
	mc.meta.Threshold = threshold
	meta.Faces = len(mc.faces)
	c.mu.Unlock()
	return meta, nil
}

// Get returns one collection, or ErrNotFound.
func (c *Collections) Get(id string) (Collection, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return Collection{}, ErrClosed
	}
	mc, ok := c.colls[id]
	if !ok {
		return Collection{}, fmt.Errorf("collection %q: %w", id, ErrNotFound)
	}
	return mc.describe(), nil
}

// List returns every collection, ordered by id.
func (c *Collections) List() []Collection {
	c.mu.RLock()
	out := make([]Collection, 0, len(c.colls))
	for _, mc := range c.colls {
		out = append(out, mc.describe())
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Delete removes a collection with its faces, templates and crops.
func (c *Collections) Delete(id string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.lookup(id); err != nil {
		return err
	}
	if err := c.db.Update(func(tx *bolt.Tx) error { return deleteCollection(tx, id) }); err != nil {
		return fmt.Errorf("collection %q: %w", id, err)
	}
	c.mu.Lock()
	delete(c.colls, id)
	c.mu.Unlock()
	return nil
}

func (mc *memCollection) describe() Collection {
	m := mc.meta
	m.Faces = len(mc.faces)
	return m
}

func (c *Collections) checkOpen() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	return nil
}

// lookup finds a collection for a writer (who holds writeMu, so it stays).
func (c *Collections) lookup(id string) (*memCollection, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, ErrClosed
	}
	mc, ok := c.colls[id]
	if !ok {
		return nil, fmt.Errorf("collection %q: %w", id, ErrNotFound)
	}
	return mc, nil
}

// usable is lookup plus the check that the collection's templates are
// this recognizer's.
func (c *Collections) usable(id string) (*memCollection, error) {
	mc, err := c.lookup(id)
	if err != nil {
		return nil, err
	}
	if mc.meta.Recognizer != c.rec.Name() {
		return nil, fmt.Errorf("collection %q holds %s templates, the recognizer is %s: %w",
			id, mc.meta.Recognizer, c.rec.Name(), ErrRecognizerMismatch)
	}
	return mc, nil
}
