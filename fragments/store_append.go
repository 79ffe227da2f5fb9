package fragments

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// chunkWriter is a recorder's open chunk file. Its methods are called with
// the recorder's lock held.
type chunkWriter struct {
	s  *Store
	st *stream

	f          *os.File // nil when no file is open
	fl         *file
	gen        uint64        // stream generation the file belongs to
	run        uint64        // run the file holds
	initLen    int64         // init record length
	mediaStart time.Duration // run media time of the file's first fragment
	buf        []byte
}

// built is a marshalled fragment waiting to be appended.
type built struct {
	hdr       chunk.FragmentHeader
	payload   []byte
	init      []byte        // the run's init segment
	mediaTime time.Duration // run media time of the fragment's start
}

// append writes one fragment record to the current chunk file (rotating or
// starting one as needed), fsyncs it per policy and indexes it. It returns
// once the fragment is durable and indexed.
func (w *chunkWriter) append(b *built) (Fragment, error) {
	st := w.st
	st.wmu.Lock()
	defer st.wmu.Unlock()

	st.mu.Lock()
	gen := st.gen
	st.mu.Unlock()
	recLen := int64(chunk.FragmentHeaderLen + len(b.payload))
	if w.f != nil && (w.gen != gen || w.run != b.hdr.Run ||
		w.fl.fv.End+recLen > w.s.cfg.ChunkMaxBytes ||
		b.mediaTime-w.mediaStart >= w.s.cfg.ChunkMaxAge) {
		w.close()
	}

	created := false
	if w.f == nil {
		if err := w.create(b, gen); err != nil {
			return Fragment{}, err
		}
		created = true
	}
	off := w.fl.fv.End
	if created {
		off = int64(len(w.buf)) // header and init record are already in buf
	}
	w.buf = chunk.AppendFragment(w.buf, b.hdr, b.payload)
	writeAt := w.fl.fv.End
	if created {
		writeAt = 0
	}
	if err := w.write(writeAt, created); err != nil {
		return Fragment{}, err
	}

	v := chunk.IndexValue{
		File: w.fl.id, Offset: off, Length: recLen, HeaderLen: chunk.FragmentHeaderLen,
		InitLength: w.initLen, Fragment: b.hdr,
	}
	v.Fragment.Checksum = chunk.Checksum(b.payload)
	fv := w.fl.fv
	if fv.Count == 0 {
		fv.First, fv.Oldest = b.hdr.Number, b.hdr.ServerTime
	}
	fv.Count++
	fv.Last = b.hdr.Number
	fv.End = off + recLen
	if end := b.hdr.ServerTime.Add(b.hdr.Duration); end.After(fv.Newest) {
		fv.Newest = end
	}
	err := w.s.com.do(func(tx *bolt.Tx) error { return putFragment(tx, st.name, v, fv) })
	if err != nil {
		w.undo(writeAt, created)
		return Fragment{}, fmt.Errorf("index fragment %d: %w", b.hdr.Number, err)
	}
	st.mu.Lock()
	w.fl.fv = fv
	st.mu.Unlock()
	st.bytesWritten.Add(int64(len(b.payload)))
	st.fragmentsWritten.Add(1)
	f := toFragment(v)
	st.spans.add(f)
	return f, nil
}

// create starts a chunk file named after the fragment's number, with the
// file header and init record in w.buf.
func (w *chunkWriter) create(b *built, gen uint64) error {
	st := w.st
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		return fmt.Errorf("create chunk: %w", err)
	}
	id := b.hdr.Number
	f, err := os.OpenFile(st.path(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create chunk: %w", err)
	}
	w.buf = chunk.AppendFileHeader(w.buf[:0])
	w.buf = chunk.AppendInit(w.buf, chunk.InitHeader{Run: b.hdr.Run, Created: w.s.cfg.Now()}, b.init)
	w.f, w.gen, w.run, w.mediaStart = f, gen, b.hdr.Run, b.mediaTime
	w.initLen = int64(len(w.buf)) - chunk.FileHeaderSize
	w.fl = &file{id: id, active: true, fv: chunk.FileValue{Run: b.hdr.Run, First: id, Last: id,
		End: chunk.FileHeaderSize, InitLength: w.initLen}}
	st.mu.Lock()
	if st.gen == gen {
		st.files = append(st.files, w.fl)
	}
	st.mu.Unlock()
	return nil
}

// write writes w.buf at off and fsyncs per policy.
func (w *chunkWriter) write(off int64, created bool) error {
	_, err := w.f.WriteAt(w.buf, off)
	if err == nil && w.s.cfg.Fsync == FsyncFragment {
		err = w.f.Sync()
		if err == nil && created {
			err = syncDir(w.st.dir)
		}
	}
	w.buf = w.buf[:0]
	if err != nil {
		w.undo(off, created)
		return fmt.Errorf("write chunk: %w", err)
	}
	return nil
}

// undo takes back a failed append: it cuts the file to its indexed end, or
// removes a file that was just created. If that fails too the file is
// abandoned; recovery at the next Open settles it.
func (w *chunkWriter) undo(off int64, created bool) {
	if created {
		fl, name := w.fl, w.f.Name()
		w.close()
		w.removeFromStream(fl)
		if err := os.Remove(name); err != nil {
			w.s.log.Warn("remove failed chunk", "stream", w.st.name, "err", err)
		}
		return
	}
	if err := w.f.Truncate(off); err != nil {
		w.s.log.Warn("abandon chunk after failed append", "stream", w.st.name, "file", w.f.Name(), "err", err)
		w.close()
	}
}

// removeFromStream drops the in-memory entry of a file.
func (w *chunkWriter) removeFromStream(fl *file) {
	st := w.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, f := range st.files {
		if f == fl {
			st.files = append(st.files[:i], st.files[i+1:]...)
			break
		}
	}
}

// close closes the current chunk file, which retention may then delete.
func (w *chunkWriter) close() {
	if w.f == nil {
		return
	}
	if err := w.f.Close(); err != nil {
		w.s.log.Warn("close chunk", "stream", w.st.name, "err", err)
	}
	w.st.mu.Lock()
	w.fl.active = false
	w.st.mu.Unlock()
	w.f, w.fl = nil, nil
}

// syncDir fsyncs a directory so that a new file's entry is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) {
		return nil // not supported here
	}
	return err
}
