package fragments

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// verifyFile scans one chunk file, cuts its torn tail, and makes the index
// match its records. It returns the file's new summary, or false when the
// file held no valid fragment and was removed.
func (s *Store) verifyFile(st *stream, id uint64, size int64, old chunk.FileValue, known bool, sum *recovery) (chunk.FileValue, bool, error) {
	path := st.path(id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return old, false, err
	}
	defer f.Close()
	res := chunk.Scan(f, size)
	if len(res.Fragments) == 0 {
		s.log.Warn("removing chunk file without a valid fragment", "stream", st.name, "file", id, "err", res.Err)
		sum.removed++
		f.Close()
		return old, false, s.removeFile(st, id, old, known)
	}
	if res.End < size {
		s.log.Warn("cutting torn chunk file", "stream", st.name, "file", id, "size", size, "end", res.End, "err", res.Err)
		if err := f.Truncate(res.End); err != nil {
			return old, false, fmt.Errorf("truncate %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return old, false, fmt.Errorf("sync %s: %w", path, err)
		}
		sum.truncated++
		sum.bytesCut += size - res.End
	}

	fv := chunk.FileValue{
		Run: res.Init.Init.Run, End: res.End, InitLength: res.Init.Length, Count: len(res.Fragments),
		First: res.Fragments[0].Fragment.Number, Last: res.Fragments[len(res.Fragments)-1].Fragment.Number,
		Oldest: res.Fragments[0].Fragment.ServerTime,
	}
	values := make([]chunk.IndexValue, len(res.Fragments))
	for i, r := range res.Fragments {
		if end := r.Fragment.ServerTime.Add(r.Fragment.Duration); end.After(fv.Newest) {
			fv.Newest = end
		}
		values[i] = chunk.IndexValue{File: id, Offset: r.Offset, Length: r.Length, HeaderLen: r.HeaderLen,
			InitLength: fv.InitLength, Fragment: r.Fragment}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := streamBucket(tx, st.name, true)
		if err != nil {
			return err
		}
		frags := b.Bucket(chunk.BucketFrags)
		had := 0
		for _, v := range values {
			if raw := frags.Get(chunk.NumberKey(v.Fragment.Number)); raw != nil {
				if ov, err := chunk.DecodeIndexValue(raw); err == nil && ov.File == id && ov.Offset == v.Offset && ov.Length == v.Length {
					had++
				}
			}
		}
		lo, hi := fv.First, fv.Last
		if known {
			lo, hi = min(lo, old.First), max(hi, old.Last)
		}
		n, err := deleteFileEntries(b, id, lo, hi)
		if err != nil {
			return err
		}
		for _, v := range values {
			if err := putFragment(tx, st.name, v, fv); err != nil {
				return err
			}
		}
		sum.reindexed += len(values) - had
		sum.dropped += max(n-had, 0)
		return nil
	})
	return fv, true, err
}
