package fragments

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// layout is a recorded stream as files on disk.
type layout struct {
	dir     string             // stream directory
	numbers []uint64           // indexed fragment numbers, in order
	files   []uint64           // chunk file ids, in order
	scans   []chunk.ScanResult // per file
}

func (l *layout) path(i int) string { return filepath.Join(l.dir, chunk.FileName(l.files[i])) }

func (l *layout) last() uint64 { return l.numbers[len(l.numbers)-1] }

// numbersIn lists the fragment numbers in file i.
func (l *layout) numbersIn(i int) []uint64 {
	var ns []uint64
	for _, r := range l.scans[i].Fragments {
		ns = append(ns, r.Fragment.Number)
	}
	return ns
}

func without(ns []uint64, drop ...uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(ns), func(n uint64) bool { return slices.Contains(drop, n) })
}

// lastRecord returns the bytes of the newest file's last fragment record.
func (l *layout) lastRecord(t *testing.T) chunk.Record {
	t.Helper()
	i := len(l.files) - 1
	frs := l.scans[i].Fragments
	f, err := os.Open(l.path(i))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := chunk.ReadRecord(f, frs[len(frs)-1].Offset, frs[len(frs)-1].Length)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func scanLayout(t *testing.T, dir string, numbers []uint64) *layout {
	t.Helper()
	l := &layout{dir: dir, numbers: numbers, files: chunkIDs(t, dir)}
	for i := range l.files {
		f, err := os.Open(l.path(i))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		l.scans = append(l.scans, chunk.Scan(f, fi.Size()))
		f.Close()
	}
	return l
}

func TestRecovery(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "aac", 12})
	tests := []struct {
		name string
		// damage changes the files of a cleanly closed store and returns
		// the fragment numbers the index must hold after recovery.
		damage func(t *testing.T, cfg Config, l *layout) []uint64
		// next is the number the next recording must start at, relative to
		// the last number recorded before the damage.
		next uint64
	}{
		{"clean", func(t *testing.T, cfg Config, l *layout) []uint64 { return l.numbers }, 1},
		{"torn tail", func(t *testing.T, cfg Config, l *layout) []uint64 {
			rec := l.lastRecord(t)
			h := rec.Fragment
			h.Number++
			b := chunk.AppendFragment(nil, h, rec.Payload)
			appendFile(t, l.path(len(l.files)-1), b[:len(b)/2])
			return l.numbers
		}, 1},
		{"last indexed record torn", func(t *testing.T, cfg Config, l *layout) []uint64 {
			path := l.path(len(l.files) - 1)
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()-10); err != nil {
				t.Fatal(err)
			}
			return l.numbers[:len(l.numbers)-1]
		}, 1},
		{"unindexed whole record", func(t *testing.T, cfg Config, l *layout) []uint64 {
			rec := l.lastRecord(t)
			h := rec.Fragment
			h.Number++
			h.ServerTime = h.ServerTime.Add(h.Duration)
			appendFile(t, l.path(len(l.files)-1), chunk.AppendFragment(nil, h, rec.Payload))
			return append(slices.Clone(l.numbers), h.Number)
		}, 2},
		{"stray files", func(t *testing.T, cfg Config, l *layout) []uint64 {
			os.WriteFile(filepath.Join(l.dir, "junk.tmp"), []byte("junk"), 0o644)
			b := chunk.AppendFileHeader(nil)
			b = chunk.AppendInit(b, chunk.InitHeader{Run: 1}, []byte("init"))
			os.WriteFile(filepath.Join(l.dir, chunk.FileName(l.last()+100)), b, 0o644)
			os.WriteFile(filepath.Join(l.dir, chunk.FileName(l.last()+200)), nil, 0o644)
			return l.numbers
		}, 1},
		{"index lost", func(t *testing.T, cfg Config, l *layout) []uint64 {
			if err := os.Remove(filepath.Join(cfg.Dir, indexFile)); err != nil {
				t.Fatal(err)
			}
			return l.numbers
		}, 1},
		{"oldest file deleted", func(t *testing.T, cfg Config, l *layout) []uint64 {
			os.Remove(l.path(0))
			return without(l.numbers, l.numbersIn(0)...)
		}, 1},
		{"older file lost its tail", func(t *testing.T, cfg Config, l *layout) []uint64 {
			frs := l.scans[0].Fragments
			os.Truncate(l.path(0), frs[len(frs)-1].Offset+5)
			return without(l.numbers, frs[len(frs)-1].Fragment.Number)
		}, 1},
		{"corrupt byte in the newest file", func(t *testing.T, cfg Config, l *layout) []uint64 {
			i := len(l.files) - 1
			frs := l.scans[i].Fragments
			f, _ := os.OpenFile(l.path(i), os.O_RDWR, 0)
			f.WriteAt([]byte{0xff}, frs[1].Offset+frs[1].Length/2)
			f.Close()
			var lost []uint64
			for _, r := range frs[1:] {
				lost = append(lost, r.Fragment.Number)
			}
			return without(l.numbers, lost...)
		}, 1},
		{"deletion interrupted", func(t *testing.T, cfg Config, l *layout) []uint64 {
			// Retention removed the index entries and left a tombstone,
			// then the process died before removing the file.
			db, err := bolt.Open(filepath.Join(cfg.Dir, indexFile), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b, _ := streamBucket(tx, "cam", true)
				ns := l.numbersIn(0)
				if _, err := deleteFileEntries(b, l.files[0], ns[0], ns[len(ns)-1]); err != nil {
					return err
				}
				return b.Bucket(chunk.BucketGone).Put(chunk.NumberKey(l.files[0]), nil)
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			return without(l.numbers, l.numbersIn(0)...)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n notices
			cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &n)
			cfg.FragmentTarget, cfg.ChunkMaxAge = time.Second, 4*time.Second
			s, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			feed(s.Recorder("cam"), m)
			var numbers []uint64
			for _, f := range allFragments(t, s, "cam") {
				numbers = append(numbers, f.Number)
			}
			s.Close()
			l := scanLayout(t, filepath.Join(cfg.Dir, "cam"), numbers)
			if len(l.files) < 3 {
				t.Fatalf("only %d chunk files", len(l.files))
			}
			want := tt.damage(t, cfg, l)

			s = openStore(t, cfg)
			var got []uint64
			for _, f := range checkConsistent(t, s, "cam") {
				got = append(got, f.Number)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("indexed %v, want %v", got, want)
			}
			for _, num := range got {
				rc, _, err := s.OpenMP4("cam", num)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				if num == got[len(got)-1] {
					probeMP4(t, b)
				}
			}
			seen := len(n.get("cam"))
			feed(s.Recorder("cam"), shifted(m, time.Minute))
			if first := n.get("cam")[seen].Number; first != l.last()+tt.next {
				t.Fatalf("next recording starts at %d, want %d", first, l.last()+tt.next)
			}
			checkConsistent(t, s, "cam")
		})
	}
}
