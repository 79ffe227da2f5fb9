package fragments

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// streamBucket returns a stream's index bucket with its nested buckets,
// creating them when create is set; nil when it does not exist.
func streamBucket(tx *bolt.Tx, name string, create bool) (*bolt.Bucket, error) {
	root := tx.Bucket(chunk.BucketStreams)
	if root == nil {
		if !create {
			return nil, nil
		}
		var err error
		if root, err = tx.CreateBucketIfNotExists(chunk.BucketStreams); err != nil {
			return nil, err
		}
	}
	b := root.Bucket([]byte(name))
	if b == nil && create {
		var err error
		if b, err = root.CreateBucket([]byte(name)); err != nil {
			return nil, err
		}
	}
	if b == nil {
		return nil, nil
	}
	if create {
		for _, sub := range [][]byte{chunk.BucketFrags, chunk.BucketTimes, chunk.BucketFiles, chunk.BucketGone} {
			if _, err := b.CreateBucketIfNotExists(sub); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// sub returns a nested bucket of a stream bucket; nil-safe for b.
func sub(b *bolt.Bucket, name []byte) *bolt.Bucket {
	if b == nil {
		return nil
	}
	return b.Bucket(name)
}

func getUint(b *bolt.Bucket, key []byte) uint64 {
	if v := b.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// raiseUint stores v under key unless a larger value is there.
func raiseUint(b *bolt.Bucket, key []byte, v uint64) error {
	if getUint(b, key) >= v {
		return nil
	}
	return b.Put(key, chunk.NumberKey(v))
}

// putFragment indexes one fragment and its file's new summary.
func putFragment(tx *bolt.Tx, stream string, v chunk.IndexValue, fv chunk.FileValue) error {
	b, err := streamBucket(tx, stream, true)
	if err != nil {
		return err
	}
	frags, times, files := b.Bucket(chunk.BucketFrags), b.Bucket(chunk.BucketTimes), b.Bucket(chunk.BucketFiles)
	// Keys mostly arrive in order: pack pages fuller.
	frags.FillPercent, times.FillPercent, files.FillPercent = 0.9, 0.9, 0.9
	n := v.Fragment.Number
	if old := frags.Get(chunk.NumberKey(n)); old != nil {
		// Re-indexing: drop the old time key, which may differ.
		if ov, err := chunk.DecodeIndexValue(old); err == nil {
			if err := times.Delete(chunk.TimeKey(ov.Fragment.ServerTime, n)); err != nil {
				return err
			}
		}
	}
	if err := frags.Put(chunk.NumberKey(n), chunk.AppendIndexValue(nil, v)); err != nil {
		return err
	}
	if err := times.Put(chunk.TimeKey(v.Fragment.ServerTime, n), nil); err != nil {
		return err
	}
	if err := files.Put(chunk.NumberKey(v.File), chunk.AppendFileValue(nil, fv)); err != nil {
		return err
	}
	if err := raiseUint(b, chunk.KeyNext, n+1); err != nil {
		return err
	}
	return raiseUint(b, chunk.KeyMaxDur, uint64(max(v.Fragment.Duration, 0)))
}

// deleteFileEntries removes the index entries of chunk file id, whose
// fragments are numbered first..last, and its file summary. It returns how
// many fragments it removed.
func deleteFileEntries(b *bolt.Bucket, id, first, last uint64) (int, error) {
	frags, times, files := sub(b, chunk.BucketFrags), sub(b, chunk.BucketTimes), sub(b, chunk.BucketFiles)
	if frags == nil || times == nil || files == nil {
		return 0, nil
	}
	var keys, timeKeys [][]byte
	c := frags.Cursor()
	lastKey := chunk.NumberKey(last)
	for k, val := c.Seek(chunk.NumberKey(first)); k != nil && bytes.Compare(k, lastKey) <= 0; k, val = c.Next() {
		v, err := chunk.DecodeIndexValue(val)
		if err != nil || v.File == id {
			keys = append(keys, bytes.Clone(k))
		}
		if err == nil && v.File == id {
			timeKeys = append(timeKeys, chunk.TimeKey(v.Fragment.ServerTime, v.Fragment.Number))
		}
	}
	for _, k := range keys {
		if err := frags.Delete(k); err != nil {
			return 0, err
		}
	}
	for _, k := range timeKeys {
		if err := times.Delete(k); err != nil {
			return 0, err
		}
	}
	if err := files.Delete(chunk.NumberKey(id)); err != nil {
		return 0, err
	}
	return len(keys), nil
}

// lookup returns the index value of a fragment.
func lookup(tx *bolt.Tx, stream string, number uint64) (chunk.IndexValue, error) {
	b, _ := streamBucket(tx, stream, false)
	val := sub(b, chunk.BucketFrags)
	if val == nil {
		return chunk.IndexValue{}, ErrNotFound
	}
	raw := val.Get(chunk.NumberKey(number))
	if raw == nil {
		return chunk.IndexValue{}, ErrNotFound
	}
	v, err := chunk.DecodeIndexValue(raw)
	if err != nil {
		return chunk.IndexValue{}, fmt.Errorf("fragment %d: %w", number, err)
	}
	return v, nil
}

// toFragment converts an index value to the public metadata.
func toFragment(v chunk.IndexValue) Fragment {
	return Fragment{
		Number:       v.Fragment.Number,
		Run:          v.Fragment.Run,
		ProducerTime: v.Fragment.ProducerTime,
		ServerTime:   v.Fragment.ServerTime,
		Duration:     v.Fragment.Duration,
		Size:         v.PayloadSize(),
		Keyframe:     v.Fragment.Keyframe,
		Checksum:     v.Fragment.Checksum,
	}
}
