package fragments

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// LoadSynthetic fills an empty store directory with n fragments of stream,
// each dur long and back to back from start, so that benchmarks can measure
// queries over a long history (30 days of 2 s fragments is 1.3 million)
// without recording it. The fragments' payloads are a few placeholder
// bytes, not media; chunk files hold an hour each. Open the store after.
func LoadSynthetic(dir, stream string, start time.Time, n int, dur time.Duration) error {
	if err := checkStream(stream); err != nil {
		return err
	}
	sdir := filepath.Join(dir, stream)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return err
	}
	db, err := bolt.Open(filepath.Join(dir, indexFile), 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		return fmt.Errorf("fragments: synthetic index: %w", err)
	}
	defer db.Close()
	perFile := max(1, int(time.Hour/dur))
	payload := []byte("synthetic fragment")
	initPayload := []byte("synthetic init")
	for first := 0; first < n; first += perFile {
		count := min(perFile, n-first)
		id := uint64(first + 1)
		buf := chunk.AppendFileHeader(nil)
		buf = chunk.AppendInit(buf, chunk.InitHeader{Run: 1, Created: start}, initPayload)
		initLen := int64(len(buf)) - chunk.FileHeaderSize
		vals := make([]chunk.IndexValue, 0, count)
		for i := 0; i < count; i++ {
			num := uint64(first + i + 1)
			h := chunk.FragmentHeader{Number: num, Run: 1, ServerTime: start.Add(time.Duration(first+i) * dur), Duration: dur, Keyframe: true}
			off := int64(len(buf))
			buf = chunk.AppendFragment(buf, h, payload)
			h.Checksum = chunk.Checksum(payload)
			vals = append(vals, chunk.IndexValue{File: id, Offset: off, Length: int64(len(buf)) - off,
				HeaderLen: chunk.FragmentHeaderLen, InitLength: initLen, Fragment: h})
		}
		if err := os.WriteFile(filepath.Join(sdir, chunk.FileName(id)), buf, 0o644); err != nil {
			return err
		}
		last := vals[len(vals)-1].Fragment
		fv := chunk.FileValue{Run: 1, Count: count, End: int64(len(buf)), First: id, Last: last.Number,
			Oldest: vals[0].Fragment.ServerTime, Newest: last.ServerTime.Add(dur), InitLength: initLen}
		err := db.Update(func(tx *bolt.Tx) error {
			for _, v := range vals {
				if err := putFragment(tx, stream, v, fv); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fragments: synthetic index: %w", err)
		}
	}
	return db.Sync()
}
