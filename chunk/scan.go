package chunk

import (
	"fmt"
	"io"
)

// ScanResult is what Scan found in a chunk file.
type ScanResult struct {
	Header FileHeader
	// Init is the file's init record, with its payload; Init.Length is 0
	// when the file has no valid init record.
	Init Record
	// Fragments are the whole valid fragment records after the init record,
	// in file order, without payloads.
	Fragments []Record
	// End is the offset just past the last whole valid record (or past the
	// file header when there is none, or 0 when the header is invalid): the
	// length to truncate a torn file to.
	End int64
	// Err says why scanning stopped before size; nil when End == size.
	Err error
}

// Scan reads the chunk file of size bytes in r, verifies every record's
// checksum and returns the records up to the first invalid or incomplete
// one. A valid file is a file header, one init record, then fragment
// records of the init record's run with increasing numbers.
func Scan(r io.ReaderAt, size int64) ScanResult {
	var res ScanResult
	var hb [FileHeaderSize]byte
	if err := readAt(r, hb[:], 0, size); err != nil {
		res.Err = fmt.Errorf("file header: %w", err)
		return res
	}
	h, err := DecodeFileHeader(hb[:])
	if err != nil {
		res.Err = err
		return res
	}
	res.Header = h
	res.End = FileHeaderSize

	var buf []byte
	for res.End < size {
		rec, b, err := scanRecord(r, res.End, size, buf)
		buf = b
		if err == nil {
			err = checkOrder(&res, &rec)
		}
		if err != nil {
			res.Err = fmt.Errorf("record at %d: %w", res.End, err)
			return res
		}
		rec.Offset = res.End
		if rec.Type == TypeInit {
			rec.Payload = append([]byte(nil), rec.Payload...)
			res.Init = rec
		} else {
			rec.Payload = nil
			res.Fragments = append(res.Fragments, rec)
		}
		res.End += rec.Length
	}
	return res
}

// scanRecord reads and decodes the record at off, reusing buf.
func scanRecord(r io.ReaderAt, off, size int64, buf []byte) (Record, []byte, error) {
	var fb [fixedHeaderLen]byte
	if err := readAt(r, fb[:], off, size); err != nil {
		return Record{}, buf, err
	}
	f, err := decodeFixed(fb[:])
	if err != nil {
		return Record{}, buf, err
	}
	if f.length() > size-off {
		return Record{}, buf, ErrShort
	}
	if int64(cap(buf)) < f.length() {
		buf = make([]byte, f.length())
	}
	buf = buf[:f.length()]
	if err := readAt(r, buf, off, size); err != nil {
		return Record{}, buf, err
	}
	rec, err := DecodeRecord(buf)
	return rec, buf, err
}

// checkOrder enforces the file structure: one init record first, then
// fragments of its run with increasing numbers.
func checkOrder(res *ScanResult, rec *Record) error {
	switch {
	case rec.Type == TypeInit && res.Init.Length != 0:
		return fmt.Errorf("second init record: %w", ErrCorrupt)
	case rec.Type == TypeInit:
		return nil
	case res.Init.Length == 0:
		return fmt.Errorf("fragment before init record: %w", ErrCorrupt)
	case rec.Fragment.Run != res.Init.Init.Run:
		return fmt.Errorf("fragment of run %d in a file of run %d: %w", rec.Fragment.Run, res.Init.Init.Run, ErrCorrupt)
	}
	if n := len(res.Fragments); n > 0 && rec.Fragment.Number <= res.Fragments[n-1].Fragment.Number {
		return fmt.Errorf("fragment number %d after %d: %w", rec.Fragment.Number, res.Fragments[n-1].Fragment.Number, ErrCorrupt)
	}
	return nil
}

// readAt fills b from r at off, where the file is size bytes long.
func readAt(r io.ReaderAt, b []byte, off, size int64) error {
	if off+int64(len(b)) > size {
		return ErrShort
	}
	return readFull(r, b, off)
}
