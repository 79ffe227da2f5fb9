package fragments

import (
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// Purge deletes all of a stream's files and index entries. A recorder of
// the stream keeps running and starts a new chunk file; fragment numbers
// continue where they were.
func (s *Store) Purge(name string) error {
	if err := checkStream(name); err != nil {
		return err
	}
	st := s.stream(name)
	st.wmu.Lock()
	st.mu.Lock()
	st.files = nil
	st.gen++
	st.mu.Unlock()
	// Appends after wmu is released go to new files: list the old ones now.
	ids, err := chunkFiles(st.dir)
	if err == nil {
		err = s.db.Update(func(tx *bolt.Tx) error {
			b, err := streamBucket(tx, name, true)
			if err != nil {
				return err
			}
			for _, sub := range [][]byte{chunk.BucketFrags, chunk.BucketTimes, chunk.BucketFiles} {
				if err := b.DeleteBucket(sub); err != nil {
					return err
				}
				if _, err := b.CreateBucket(sub); err != nil {
					return err
				}
			}
			for _, id := range ids {
				if err := b.Bucket(chunk.BucketGone).Put(chunk.NumberKey(id), nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	st.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("fragments: purge %s: %w", name, err)
	}
	st.spans.trim(time.Time{})
	files := make([]*file, len(ids))
	for i, id := range ids {
		files[i] = &file{id: id}
	}
	// deleteFiles finds no index entries left and removes files and
	// tombstones.
	s.deleteFiles(st, files, "purge")
	return nil
}

// chunkFiles lists the ids of the chunk files in dir, in order.
func chunkFiles(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, e := range ents {
		if id, ok := chunk.ParseFileName(e.Name()); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
