// Package chunk is vigil's on-disk fragment contract: the layout of chunk
// files (a file header, one init record, then fragment records) and of the
// bbolt index entries that point into them. The fragment writer and the
// playback reader both import it; neither imports the other.
//
// Every integer in a chunk file and in an index value is little endian.
// Index keys are big endian so that bbolt's byte order is numeric order.
// docs/format.md describes the format byte by byte.
package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// Format limits. Decoders refuse anything larger, which bounds what they
// allocate on hostile input.
const (
	// Version is the chunk file format version written by this package.
	Version = 1
	// FileHeaderSize is the size of the file header; the init record starts
	// at this offset.
	FileHeaderSize = 16
	// MaxHeaderLen bounds a record header (fixed part plus type fields).
	MaxHeaderLen = 1024
	// MaxPayload bounds a record payload.
	MaxPayload = 256 << 20
	// Ext is the chunk file name extension.
	Ext = ".vch"
)

// fileMagic opens every chunk file.
var fileMagic = [8]byte{'V', 'I', 'G', 'I', 'L', 'C', 'H', 'K'}

// castagnoli is the CRC32C table used for every checksum in the format.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors callers may branch on.
var (
	// ErrShort means the input ends before the structure does: a torn tail
	// when it happens at the end of a file.
	ErrShort = errors.New("chunk: short input")
	// ErrCorrupt means the bytes are not a valid structure (bad magic,
	// version, length or checksum).
	ErrCorrupt = errors.New("chunk: corrupt")
)

// Checksum is the CRC32C (Castagnoli) of b, the checksum used throughout the
// format and reported as a fragment's checksum.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// FileName is the name of the chunk file whose first fragment is number id:
// twenty zero-padded decimal digits and Ext, so that lexical order is
// creation order.
func FileName(id uint64) string { return fmt.Sprintf("%020d%s", id, Ext) }

// ParseFileName returns the id of a chunk file name made by FileName.
func ParseFileName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, Ext)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return id, true
}

// FileHeader is the decoded file header.
type FileHeader struct {
	Version int
}

// AppendFileHeader appends the file header of a new chunk file to dst.
func AppendFileHeader(dst []byte) []byte {
	var b [FileHeaderSize]byte
	copy(b[0:8], fileMagic[:])
	binary.LittleEndian.PutUint16(b[8:], Version)
	binary.LittleEndian.PutUint16(b[10:], FileHeaderSize)
	binary.LittleEndian.PutUint32(b[12:], Checksum(b[:12]))
	return append(dst, b[:]...)
}

// DecodeFileHeader decodes the file header at the start of b.
func DecodeFileHeader(b []byte) (FileHeader, error) {
	if len(b) < FileHeaderSize {
		return FileHeader{}, fmt.Errorf("file header: %w", ErrShort)
	}
	if [8]byte(b[0:8]) != fileMagic {
		return FileHeader{}, fmt.Errorf("file header: bad magic: %w", ErrCorrupt)
	}
	if Checksum(b[:12]) != binary.LittleEndian.Uint32(b[12:]) {
		return FileHeader{}, fmt.Errorf("file header: bad checksum: %w", ErrCorrupt)
	}
	v := binary.LittleEndian.Uint16(b[8:])
	if v != Version {
		return FileHeader{}, fmt.Errorf("file header: unsupported version %d: %w", v, ErrCorrupt)
	}
	if n := binary.LittleEndian.Uint16(b[10:]); n != FileHeaderSize {
		return FileHeader{}, fmt.Errorf("file header: bad size %d: %w", n, ErrCorrupt)
	}
	return FileHeader{Version: int(v)}, nil
}
