package fragments

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// Location says where a fragment's bytes are inside its chunk file, so a
// reader can send them straight from the file.
type Location struct {
	Path string // the chunk file
	// InitOffset and InitLength delimit the run's init segment (ftyp+moov).
	InitOffset, InitLength int64
	// Offset and Length delimit the fragment (moof+mdat).
	Offset, Length int64
}

// Locate returns a fragment's metadata and where its bytes and its run's
// init segment are. It reads only the index: the bytes are the caller's to
// read (and may be gone if retention deletes the file meanwhile).
func (s *Store) Locate(name string, number uint64) (Fragment, Location, error) {
	v, err := s.lookup(name, number)
	if err != nil {
		return Fragment{}, Location{}, err
	}
	// Every version-1 chunk file has its init record right after the file
	// header, with a header of chunk.InitHeaderLen bytes.
	initHdr := int64(chunk.InitHeaderLen)
	loc := Location{
		Path:       s.stream(name).path(v.File),
		InitOffset: chunk.FileHeaderSize + initHdr,
		InitLength: v.InitLength - initHdr,
		Offset:     v.PayloadOffset(),
		Length:     v.PayloadSize(),
	}
	return toFragment(v), loc, nil
}

// Range calls fn with each fragment overlapping [start, end), in server-time
// order, until fn returns false. A zero start or end is unbounded.
func (s *Store) Range(name string, start, end time.Time, fn func(Fragment) bool) error {
	if err := checkStream(name); err != nil {
		return err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b, _ := streamBucket(tx, name, false)
		times, index := sub(b, chunk.BucketTimes), sub(b, chunk.BucketFrags)
		if times == nil || index == nil {
			return nil
		}
		c := times.Cursor()
		k, _ := c.First()
		if !start.IsZero() {
			// A fragment that starts up to the longest duration before start
			// may still overlap it.
			k, _ = c.Seek(chunk.TimeKey(start.Add(-time.Duration(getUint(b, chunk.KeyMaxDur))), 0))
		}
		var endKey []byte
		if !end.IsZero() {
			endKey = chunk.TimeKey(end, 0)
		}
		for ; k != nil; k, _ = c.Next() {
			if endKey != nil && bytes.Compare(k, endKey) >= 0 {
				return nil
			}
			_, n, err := chunk.DecodeTimeKey(k)
			if err != nil {
				continue
			}
			v, err := chunk.DecodeIndexValue(index.Get(chunk.NumberKey(n)))
			if err != nil {
				continue
			}
			f := toFragment(v)
			if !start.IsZero() && !f.ServerTime.Add(f.Duration).After(start) {
				continue
			}
			if !fn(f) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fragments: range %s: %w", name, err)
	}
	return nil
}

// Tail returns the stream's newest n fragments, oldest first.
func (s *Store) Tail(name string, n int) ([]Fragment, error) {
	if err := checkStream(name); err != nil {
		return nil, err
	}
	var out []Fragment
	err := s.db.View(func(tx *bolt.Tx) error {
		b, _ := streamBucket(tx, name, false)
		times, index := sub(b, chunk.BucketTimes), sub(b, chunk.BucketFrags)
		if times == nil || index == nil {
			return nil
		}
		c := times.Cursor()
		for k, _ := c.Last(); k != nil && len(out) < n; k, _ = c.Prev() {
			_, num, err := chunk.DecodeTimeKey(k)
			if err != nil {
				continue
			}
			if v, err := chunk.DecodeIndexValue(index.Get(chunk.NumberKey(num))); err == nil {
				out = append(out, toFragment(v))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fragments: tail %s: %w", name, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
