package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Status is a notifier's delivery state.
type Status struct {
	Delivered  int64 `json:"delivered"`
	Failed     int64 `json:"failed"`     // attempts that failed
	Suppressed int64 `json:"suppressed"` // by the cooldown
	Filtered   int64 `json:"filtered"`   // not selected by the filter
	// Pending is the consumer's NumPending + NumAckPending.
	Pending        int64        `json:"pending"`
	DeadLetters    []DeadLetter `json:"dead_letters"`
	Disabled       bool         `json:"disabled"`
	DisabledReason string       `json:"disabled_reason,omitempty"`
}

// DeadLetter is an event given up on after MaxDeliver attempts.
type DeadLetter struct {
	EventID   string    `json:"event_id"`
	Stream    string    `json:"stream"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Time      time.Time `json:"time"`
}

// NotifierView is a redacted definition with its status.
type NotifierView struct {
	Notifier
	Status Status `json:"status"`
}

// maxDeadLetters is how many dead letters a notifier keeps (oldest dropped).
const maxDeadLetters = 1000

var (
	bucketNotifiers = []byte("notifiers")
	bucketStatus    = []byte("notify_status")
	bucketDead      = []byte("notify_dead")
)

// counters are a notifier's live counts, flushed to the store periodically.
type counters struct {
	delivered, failed, suppressed, filtered atomic.Int64
	dirty                                   atomic.Bool
}

type storedCounters struct {
	Delivered, Failed, Suppressed, Filtered int64
}

func (c *counters) add(v *atomic.Int64, n int64) { v.Add(n); c.dirty.Store(true) }

func openNotifyStore(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("events: notifiers store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNotifiers, bucketStatus, bucketDead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("events: notifiers store %s: %w", path, err)
	}
	return db, nil
}

func loadDefs(db *bolt.DB) (map[string]Notifier, map[string]*counters, error) {
	defs, cnt := map[string]Notifier{}, map[string]*counters{}
	err := db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketStatus)
		return tx.Bucket(bucketNotifiers).ForEach(func(k, v []byte) error {
			var n Notifier
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("notifier %q: %w", k, err)
			}
			defs[n.Name] = n
			c := &counters{}
			var sc storedCounters
			if b := st.Get(k); b != nil && json.Unmarshal(b, &sc) == nil {
				c.delivered.Store(sc.Delivered)
				c.failed.Store(sc.Failed)
				c.suppressed.Store(sc.Suppressed)
				c.filtered.Store(sc.Filtered)
			}
			cnt[n.Name] = c
			return nil
		})
	})
	return defs, cnt, err
}

func saveDef(db *bolt.DB, n Notifier) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNotifiers).Put([]byte(n.Name), b) })
}

func deleteDef(db *bolt.DB, name string) error {
	return db.Update(func(tx *bolt.Tx) error {
		k := []byte(name)
		if err := tx.Bucket(bucketNotifiers).Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bucketStatus).Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDead).DeleteBucket(k); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		return nil
	})
}

// saveCounters writes the dirty counters.
func saveCounters(db *bolt.DB, all map[string]*counters) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStatus)
		for name, c := range all {
			if !c.dirty.Swap(false) {
				continue
			}
			v, _ := json.Marshal(storedCounters{c.delivered.Load(), c.failed.Load(), c.suppressed.Load(), c.filtered.Load()})
			if err := b.Put([]byte(name), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func addDeadLetter(db *bolt.DB, name string, d DeadLetter) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketDead).CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		seq, _ := b.NextSequence()
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], v); err != nil {
			return err
		}
		if seq > maxDeadLetters {
			binary.BigEndian.PutUint64(k[:], seq-maxDeadLetters)
			return b.Delete(k[:])
		}
		return nil
	})
}

func deadLetters(db *bolt.DB, name string) []DeadLetter {
	out := []DeadLetter{}
	db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDead).Bucket([]byte(name))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var d DeadLetter
			if json.Unmarshal(v, &d) == nil {
				out = append(out, d)
			}
			return nil
		})
	})
	return out
}
