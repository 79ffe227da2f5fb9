package fragments

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// Fragments lists a stream's fragments overlapping [q.Start, q.End),
// ordered by server time then number. nextCursor is empty on the last page.
// An unknown stream has no fragments.
func (s *Store) Fragments(name string, q Query) (frags []Fragment, nextCursor string, err error) {
	if err := checkStream(name); err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var after []byte
	if q.Cursor != "" {
		if after, err = decodeCursor(q.Cursor); err != nil {
			return nil, "", err
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b, _ := streamBucket(tx, name, false)
		times, index := sub(b, chunk.BucketTimes), sub(b, chunk.BucketFrags)
		if times == nil || index == nil {
			return nil
		}
		c := times.Cursor()
		var k []byte
		switch {
		case after != nil:
			if k, _ = c.Seek(after); bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		case !q.Start.IsZero():
			// A fragment that starts up to the longest duration before
			// Start may still overlap it.
			maxDur := time.Duration(getUint(b, chunk.KeyMaxDur))
			k, _ = c.Seek(chunk.TimeKey(q.Start.Add(-maxDur), 0))
		default:
			k, _ = c.First()
		}
		var last []byte
		for ; k != nil; k, _ = c.Next() {
			at, n, err := chunk.DecodeTimeKey(k)
			if err != nil {
				continue
			}
			if !q.End.IsZero() && !at.Before(q.End) {
				break
			}
			if len(frags) == limit {
				nextCursor = hex.EncodeToString(last) // copies: k is only valid in the tx
				break
			}
			raw := index.Get(chunk.NumberKey(n))
			v, err := chunk.DecodeIndexValue(raw)
			if err != nil {
				continue
			}
			f := toFragment(v)
			if !q.Start.IsZero() && !f.ServerTime.Add(f.Duration).After(q.Start) {
				continue
			}
			frags = append(frags, f)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("fragments: list %s: %w", name, err)
	}
	return frags, nextCursor, nil
}

func decodeCursor(c string) ([]byte, error) {
	k, err := hex.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrInvalidCursor, c)
	}
	if _, _, err := chunk.DecodeTimeKey(k); err != nil {
		return nil, fmt.Errorf("%w: %q", ErrInvalidCursor, c)
	}
	return k, nil
}

// Fragment returns one fragment's metadata, or ErrNotFound.
func (s *Store) Fragment(name string, number uint64) (Fragment, error) {
	v, err := s.lookup(name, number)
	if err != nil {
		return Fragment{}, err
	}
	return toFragment(v), nil
}

func (s *Store) lookup(name string, number uint64) (v chunk.IndexValue, err error) {
	if err := checkStream(name); err != nil {
		return v, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		v, err = lookup(tx, name, number)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("fragments: %s fragment %d: %w", name, number, err)
	}
	return v, nil
}

// OpenMP4 returns the run's init segment followed by the fragment: a
// self-contained playable MP4 of size bytes. Both records are verified
// against their checksums first.
func (s *Store) OpenMP4(name string, number uint64) (io.ReadSeekCloser, int64, error) {
	v, err := s.lookup(name, number)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(filepath.Join(s.cfg.Dir, name, chunk.FileName(v.File)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("fragments: %s fragment %d: %w", name, number, ErrNotFound) // deleted meanwhile
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fragments: %w", err)
	}
	defer f.Close()
	init, err := chunk.ReadRecord(f, chunk.FileHeaderSize, v.InitLength)
	if err == nil && (init.Type != chunk.TypeInit || init.Init.Run != v.Fragment.Run) {
		err = fmt.Errorf("init record of run %d for fragment of run %d: %w", init.Init.Run, v.Fragment.Run, chunk.ErrCorrupt)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fragments: %s fragment %d: %w", name, number, err)
	}
	rec, err := chunk.ReadRecord(f, v.Offset, v.Length)
	if err == nil && (rec.Type != chunk.TypeFragment || rec.Fragment.Number != number) {
		err = fmt.Errorf("record at %d is not fragment %d: %w", v.Offset, number, chunk.ErrCorrupt)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fragments: %s fragment %d: %w", name, number, err)
	}
	buf := make([]byte, 0, len(init.Payload)+len(rec.Payload))
	buf = append(append(buf, init.Payload...), rec.Payload...)
	return nopCloser{bytes.NewReader(buf)}, int64(len(buf)), nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Last returns the stream's newest fragment (the highest number), and false
// when the stream has none.
func (s *Store) Last(name string) (Fragment, bool) {
	if checkStream(name) != nil {
		return Fragment{}, false
	}
	var f Fragment
	var ok bool
	s.db.View(func(tx *bolt.Tx) error {
		b, _ := streamBucket(tx, name, false)
		val := sub(b, chunk.BucketFrags)
		if val == nil {
			return nil
		}
		if _, raw := val.Cursor().Last(); raw != nil {
			if v, err := chunk.DecodeIndexValue(raw); err == nil {
				f, ok = toFragment(v), true
			}
		}
		return nil
	})
	return f, ok
}
