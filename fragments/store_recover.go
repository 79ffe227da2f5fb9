package fragments

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// recovery counts what recover did, for its summary line.
type recovery struct {
	streams, files, verified, truncated, reindexed, dropped, removed, strays int
	bytesCut                                                                 int64
}

// recover reconciles the chunk files and the index after any stop, clean or
// not. Per stream directory:
//   - files the index knows, at the size it knows, are trusted, except the
//     newest (the one a crash may have torn), which is verified;
//   - other chunk files are scanned: a torn or corrupt tail is cut at the end
//     of the last whole valid record, fragments the index lacks are indexed,
//     entries whose bytes are gone are dropped;
//   - files without a valid fragment, files with a deletion tombstone and
//     files that are not chunk files are removed;
//   - index entries of files that are gone are dropped.
//
// The next fragment number becomes max(stored next, highest number seen + 1).
func (s *Store) recover() error {
	start := time.Now()
	if err := s.checkVersion(); err != nil {
		return err
	}
	var sum recovery
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() && validStream(e.Name()) {
			sum.streams++
			if err := s.recoverStream(e.Name(), &sum); err != nil {
				return fmt.Errorf("stream %s: %w", e.Name(), err)
			}
		}
	}
	if err := s.recoverOrphans(&sum); err != nil {
		return err
	}
	s.log.Info("recovered", "streams", sum.streams, "files", sum.files, "verified", sum.verified,
		"truncated", sum.truncated, "bytes_cut", sum.bytesCut, "reindexed", sum.reindexed,
		"dropped", sum.dropped, "removed", sum.removed, "strays", sum.strays, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *Store) checkVersion() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(chunk.BucketMeta)
		if err != nil {
			return err
		}
		if v := getUint(meta, chunk.KeyVersion); v != 0 && v != chunk.IndexVersion {
			return fmt.Errorf("index version %d not supported (want %d)", v, chunk.IndexVersion)
		}
		return meta.Put(chunk.KeyVersion, chunk.NumberKey(chunk.IndexVersion))
	})
}

// indexState is what the index holds about one stream.
type indexState struct {
	files map[uint64]chunk.FileValue
	gone  map[uint64]bool
	next  uint64
}

func (s *Store) readIndexState(name string) (indexState, error) {
	is := indexState{files: make(map[uint64]chunk.FileValue), gone: make(map[uint64]bool)}
	err := s.db.View(func(tx *bolt.Tx) error {
		b, _ := streamBucket(tx, name, false)
		if b == nil {
			return nil
		}
		is.next = getUint(b, chunk.KeyNext)
		if files := b.Bucket(chunk.BucketFiles); files != nil {
			err := files.ForEach(func(k, v []byte) error {
				fv, err := chunk.DecodeFileValue(v)
				if len(k) == 8 && err == nil {
					is.files[binary.BigEndian.Uint64(k)] = fv
				}
				return nil // a corrupt summary makes the file unknown: it is rescanned
			})
			if err != nil {
				return err
			}
		}
		if gone := b.Bucket(chunk.BucketGone); gone != nil {
			return gone.ForEach(func(k, _ []byte) error {
				if len(k) == 8 {
					is.gone[binary.BigEndian.Uint64(k)] = true
				}
				return nil
			})
		}
		return nil
	})
	return is, err
}

func (s *Store) recoverStream(name string, sum *recovery) error {
	st := s.stream(name)
	is, err := s.readIndexState(name)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(st.dir)
	if err != nil {
		return err
	}
	var ids []uint64
	for _, e := range ents {
		id, ok := chunk.ParseFileName(e.Name())
		switch {
		case ok && e.Type().IsRegular():
			ids = append(ids, id)
		case e.Type().IsRegular():
			sum.strays++
			s.log.Warn("removing stray file", "stream", name, "file", e.Name())
			if err := os.Remove(filepath.Join(st.dir, e.Name())); err != nil {
				return err
			}
		default:
			s.log.Warn("ignoring unexpected entry", "stream", name, "entry", e.Name())
		}
	}
	slices.Sort(ids)
	maxNumber := uint64(0)
	for i, id := range ids {
		sum.files++
		fv, known := is.files[id]
		delete(is.files, id)
		if is.gone[id] {
			sum.removed++
			if err := s.removeFile(st, id, fv, known); err != nil {
				return err
			}
			continue
		}
		info, err := os.Stat(st.path(id))
		if err != nil {
			return err
		}
		if !known || info.Size() != fv.End || i == len(ids)-1 {
			sum.verified++
			if fv, known, err = s.verifyFile(st, id, info.Size(), fv, known, sum); err != nil {
				return err
			}
			if !known {
				continue
			}
		}
		st.files = append(st.files, &file{id: id, fv: fv})
		maxNumber = max(maxNumber, fv.Last)
	}
	// Whatever the index still lists has no file: its bytes are gone.
	for id, fv := range is.files {
		if err := s.dropEntries(name, id, fv); err != nil {
			return err
		}
		sum.dropped += fv.Count
	}
	if len(is.gone) > 0 {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			b, err := streamBucket(tx, name, true)
			if err != nil {
				return err
			}
			if err := b.DeleteBucket(chunk.BucketGone); err != nil {
				return err
			}
			_, err = b.CreateBucket(chunk.BucketGone)
			return err
		}); err != nil {
			return err
		}
	}
	st.next = max(is.next, maxNumber+1, 1)
	return nil
}

// removeFile deletes a chunk file and its index entries.
func (s *Store) removeFile(st *stream, id uint64, fv chunk.FileValue, known bool) error {
	if known {
		if err := s.dropEntries(st.name, id, fv); err != nil {
			return err
		}
	}
	if err := os.Remove(st.path(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// dropEntries removes the index entries of one file.
func (s *Store) dropEntries(name string, id uint64, fv chunk.FileValue) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := streamBucket(tx, name, true)
		if err != nil {
			return err
		}
		_, err = deleteFileEntries(b, id, fv.First, fv.Last)
		return err
	})
}

// recoverOrphans handles index streams without a directory: their bytes are
// gone, so their entries go, but their next number stays so that numbers are
// never reused.
func (s *Store) recoverOrphans(sum *recovery) error {
	var orphans []string
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(chunk.BucketStreams)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error {
			if _, ok := s.streams[string(k)]; !ok {
				orphans = append(orphans, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, name := range orphans {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(chunk.BucketStreams).Bucket([]byte(name))
			if n := b.Bucket(chunk.BucketFrags); n != nil {
				sum.dropped += n.Stats().KeyN
			}
			for _, sub := range [][]byte{chunk.BucketFrags, chunk.BucketTimes, chunk.BucketFiles, chunk.BucketGone} {
				if b.Bucket(sub) != nil {
					if err := b.DeleteBucket(sub); err != nil {
						return err
					}
				}
			}
			if validStream(name) {
				s.streamLocked(name).next = max(getUint(b, chunk.KeyNext), 1)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
