package chunk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// Type is a record type.
type Type uint8

// Record types.
const (
	TypeInit     Type = 1 // fMP4 initialization segment (ftyp+moov) of the file's run
	TypeFragment Type = 2 // one fMP4 fragment (moof+mdat)
)

func (t Type) String() string {
	switch t {
	case TypeInit:
		return "init"
	case TypeFragment:
		return "fragment"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Record header sizes written by this version. Decoders accept longer
// headers (up to MaxHeaderLen) and ignore the extra bytes.
const (
	fixedHeaderLen = 16
	// InitHeaderLen is the header length of an init record.
	InitHeaderLen = 32
	// FragmentHeaderLen is the header length of a fragment record.
	FragmentHeaderLen = 64
)

const flagKeyframe = 1 << 0

var recordMagic = [4]byte{'V', 'R', 'E', 'C'}

// InitHeader is the type-specific header of an init record.
type InitHeader struct {
	Run     uint64
	Created time.Time // server time the file was created
}

// FragmentHeader is the type-specific header of a fragment record: the
// fragment's stream-independent metadata.
type FragmentHeader struct {
	Number       uint64
	Run          uint64
	ProducerTime time.Time // zero when unknown
	ServerTime   time.Time
	Duration     time.Duration
	Keyframe     bool   // the fragment starts with a keyframe
	Checksum     uint32 // CRC32C of the payload; computed by AppendFragment
}

// Record is one decoded record.
type Record struct {
	Type      Type
	Offset    int64 // where the record starts in its file (set by Scan and ReadRecord)
	HeaderLen int   // bytes before the payload
	Length    int64 // whole record: header and payload
	Init      InitHeader
	Fragment  FragmentHeader
	Payload   []byte // nil in Scan results for fragments
}

// PayloadOffset is where the payload starts in the file.
func (r *Record) PayloadOffset() int64 { return r.Offset + int64(r.HeaderLen) }

// AppendInit appends an init record holding payload (ftyp+moov) to dst.
func AppendInit(dst []byte, h InitHeader, payload []byte) []byte {
	var b [InitHeaderLen]byte
	binary.LittleEndian.PutUint64(b[16:], h.Run)
	binary.LittleEndian.PutUint64(b[24:], uint64(timeNS(h.Created)))
	return appendRecord(dst, TypeInit, 0, b[:], payload)
}

// AppendFragment appends a fragment record holding payload (moof+mdat) to
// dst. h.Checksum is ignored: the record carries Checksum(payload).
func AppendFragment(dst []byte, h FragmentHeader, payload []byte) []byte {
	var b [FragmentHeaderLen]byte
	binary.LittleEndian.PutUint64(b[16:], h.Number)
	binary.LittleEndian.PutUint64(b[24:], h.Run)
	binary.LittleEndian.PutUint64(b[32:], uint64(timeNS(h.ProducerTime)))
	binary.LittleEndian.PutUint64(b[40:], uint64(timeNS(h.ServerTime)))
	binary.LittleEndian.PutUint64(b[48:], uint64(h.Duration))
	binary.LittleEndian.PutUint32(b[56:], Checksum(payload))
	var flags uint8
	if h.Keyframe {
		flags |= flagKeyframe
	}
	return appendRecord(dst, TypeFragment, flags, b[:], payload)
}

// appendRecord fills the fixed part of hdr and appends hdr and payload.
func appendRecord(dst []byte, t Type, flags uint8, hdr, payload []byte) []byte {
	copy(hdr[0:4], recordMagic[:])
	hdr[4] = byte(t)
	hdr[5] = flags
	binary.LittleEndian.PutUint16(hdr[6:], uint16(len(hdr)))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[12:], recordCRC(hdr, payload))
	dst = append(dst, hdr...)
	return append(dst, payload...)
}

// recordCRC is the CRC32C of the header without its CRC field, then the
// payload.
func recordCRC(hdr, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[0:12])
	c = crc32.Update(c, castagnoli, hdr[16:])
	return crc32.Update(c, castagnoli, payload)
}

// fixed is the decoded fixed part of a record header.
type fixed struct {
	typ        Type
	flags      uint8
	headerLen  int
	payloadLen int
	crc        uint32
}

func (f fixed) length() int64 { return int64(f.headerLen) + int64(f.payloadLen) }

// decodeFixed checks the first 16 bytes of a record.
func decodeFixed(b []byte) (fixed, error) {
	if len(b) < fixedHeaderLen {
		return fixed{}, fmt.Errorf("record header: %w", ErrShort)
	}
	if [4]byte(b[0:4]) != recordMagic {
		return fixed{}, fmt.Errorf("record header: bad magic: %w", ErrCorrupt)
	}
	f := fixed{
		typ:        Type(b[4]),
		flags:      b[5],
		headerLen:  int(binary.LittleEndian.Uint16(b[6:])),
		payloadLen: int(binary.LittleEndian.Uint32(b[8:])),
		crc:        binary.LittleEndian.Uint32(b[12:]),
	}
	var minLen int
	switch f.typ {
	case TypeInit:
		minLen = InitHeaderLen
	case TypeFragment:
		minLen = FragmentHeaderLen
	default:
		return fixed{}, fmt.Errorf("record header: unknown type %d: %w", f.typ, ErrCorrupt)
	}
	if f.headerLen < minLen || f.headerLen > MaxHeaderLen {
		return fixed{}, fmt.Errorf("record header: bad %v header length %d: %w", f.typ, f.headerLen, ErrCorrupt)
	}
	if f.payloadLen > MaxPayload {
		return fixed{}, fmt.Errorf("record header: payload length %d over limit: %w", f.payloadLen, ErrCorrupt)
	}
	return f, nil
}

// DecodeRecord decodes the whole record at the start of b and verifies its
// checksum. The payload aliases b; b may hold more bytes after the record.
func DecodeRecord(b []byte) (Record, error) {
	f, err := decodeFixed(b)
	if err != nil {
		return Record{}, err
	}
	if int64(len(b)) < f.length() {
		return Record{}, fmt.Errorf("%v record: %w", f.typ, ErrShort)
	}
	hdr, payload := b[:f.headerLen], b[f.headerLen:f.length()]
	if recordCRC(hdr, payload) != f.crc {
		return Record{}, fmt.Errorf("%v record: bad checksum: %w", f.typ, ErrCorrupt)
	}
	r := Record{Type: f.typ, HeaderLen: f.headerLen, Length: f.length(), Payload: payload}
	switch f.typ {
	case TypeInit:
		r.Init = InitHeader{
			Run:     binary.LittleEndian.Uint64(hdr[16:]),
			Created: nsTime(int64(binary.LittleEndian.Uint64(hdr[24:]))),
		}
	case TypeFragment:
		r.Fragment = FragmentHeader{
			Number:       binary.LittleEndian.Uint64(hdr[16:]),
			Run:          binary.LittleEndian.Uint64(hdr[24:]),
			ProducerTime: nsTime(int64(binary.LittleEndian.Uint64(hdr[32:]))),
			ServerTime:   nsTime(int64(binary.LittleEndian.Uint64(hdr[40:]))),
			Duration:     time.Duration(binary.LittleEndian.Uint64(hdr[48:])),
			Checksum:     binary.LittleEndian.Uint32(hdr[56:]),
			Keyframe:     f.flags&flagKeyframe != 0,
		}
	}
	return r, nil
}

// ReadRecord reads and verifies the record of length bytes at off, as an
// index value locates it. The payload is a fresh allocation.
func ReadRecord(r io.ReaderAt, off, length int64) (Record, error) {
	if off < 0 || length < fixedHeaderLen || length > MaxHeaderLen+MaxPayload {
		return Record{}, fmt.Errorf("read record at %d: bad length %d: %w", off, length, ErrCorrupt)
	}
	// Check the fixed header before allocating what it claims.
	var fb [fixedHeaderLen]byte
	if err := readFull(r, fb[:], off); err != nil {
		return Record{}, fmt.Errorf("read record at %d: %w", off, err)
	}
	f, err := decodeFixed(fb[:])
	if err != nil {
		return Record{}, fmt.Errorf("read record at %d: %w", off, err)
	}
	if f.length() != length {
		return Record{}, fmt.Errorf("read record at %d: length %d, expected %d: %w", off, f.length(), length, ErrCorrupt)
	}
	buf := make([]byte, length)
	if err := readFull(r, buf, off); err != nil {
		return Record{}, fmt.Errorf("read record at %d: %w", off, err)
	}
	rec, err := DecodeRecord(buf)
	if err != nil {
		return Record{}, fmt.Errorf("read record at %d: %w", off, err)
	}
	rec.Offset = off
	return rec, nil
}

// readFull fills b from r at off, reporting a short read as ErrShort.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrShort
	}
	return err
}

// timeNS encodes t as Unix nanoseconds, with 0 for the zero time.
func timeNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// nsTime decodes timeNS.
func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
