package chunk

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Index layout in bbolt (see docs/format.md). Keys are big endian.
var (
	// BucketMeta is a top-level bucket holding KeyVersion.
	BucketMeta = []byte("meta")
	// BucketStreams is a top-level bucket with one nested bucket per stream,
	// named by the stream.
	BucketStreams = []byte("streams")

	// Nested buckets of a stream bucket.
	BucketFrags = []byte("frags") // NumberKey -> IndexValue
	BucketTimes = []byte("times") // TimeKey -> empty
	BucketFiles = []byte("files") // NumberKey(file id) -> FileValue
	BucketGone  = []byte("gone")  // NumberKey(file id) -> empty: file being deleted

	// Keys of a stream bucket.
	KeyNext   = []byte("next")   // uint64 BE: the next fragment number to assign
	KeyMaxDur = []byte("maxdur") // uint64 BE: longest fragment duration indexed, ns

	// KeyVersion in BucketMeta is the index version, uint64 BE.
	KeyVersion = []byte("version")
)

// IndexVersion is the index layout version.
const IndexVersion = 1

// Index value sizes.
const (
	IndexValueSize = 72
	FileValueSize  = 64
	TimeKeySize    = 16
)

// NumberKey is the 8-byte big-endian key of a fragment number or file id.
func NumberKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// DecodeNumberKey decodes NumberKey.
func DecodeNumberKey(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("number key of %d bytes: %w", len(k), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(k), nil
}

// TimeKey orders fragments by server time, then number: the server time in
// Unix nanoseconds with the sign bit flipped (so negative times sort first),
// then the number, both big endian.
func TimeKey(server time.Time, number uint64) []byte {
	k := make([]byte, TimeKeySize)
	binary.BigEndian.PutUint64(k, uint64(timeNS(server))^(1<<63))
	binary.BigEndian.PutUint64(k[8:], number)
	return k
}

// DecodeTimeKey decodes TimeKey.
func DecodeTimeKey(k []byte) (time.Time, uint64, error) {
	if len(k) != TimeKeySize {
		return time.Time{}, 0, fmt.Errorf("time key of %d bytes: %w", len(k), ErrCorrupt)
	}
	ns := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
	return nsTime(ns), binary.BigEndian.Uint64(k[8:]), nil
}

// IndexValue locates one fragment record and repeats its metadata, so that
// listing fragments never touches chunk files.
type IndexValue struct {
	File       uint64 // chunk file id (FileName)
	Offset     int64  // where the fragment record starts
	Length     int64  // whole fragment record, header and payload
	HeaderLen  int    // fragment record header length; the payload follows it
	InitLength int64  // whole init record, which starts at FileHeaderSize
	Fragment   FragmentHeader
}

// PayloadOffset is where the fragment's moof+mdat starts in the file.
func (v *IndexValue) PayloadOffset() int64 { return v.Offset + int64(v.HeaderLen) }

// PayloadSize is the size of the fragment's moof+mdat.
func (v *IndexValue) PayloadSize() int64 { return v.Length - int64(v.HeaderLen) }

// AppendIndexValue appends the encoding of v to dst.
func AppendIndexValue(dst []byte, v IndexValue) []byte {
	var b [IndexValueSize]byte
	b[0] = IndexVersion
	if v.Fragment.Keyframe {
		b[1] |= flagKeyframe
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(v.HeaderLen))
	binary.LittleEndian.PutUint32(b[4:], v.Fragment.Checksum)
	binary.LittleEndian.PutUint64(b[8:], v.File)
	binary.LittleEndian.PutUint64(b[16:], uint64(v.Offset))
	binary.LittleEndian.PutUint32(b[24:], uint32(v.Length))
	binary.LittleEndian.PutUint32(b[28:], uint32(v.InitLength))
	binary.LittleEndian.PutUint64(b[32:], v.Fragment.Number)
	binary.LittleEndian.PutUint64(b[40:], v.Fragment.Run)
	binary.LittleEndian.PutUint64(b[48:], uint64(timeNS(v.Fragment.ProducerTime)))
	binary.LittleEndian.PutUint64(b[56:], uint64(timeNS(v.Fragment.ServerTime)))
	binary.LittleEndian.PutUint64(b[64:], uint64(v.Fragment.Duration))
	return append(dst, b[:]...)
}

// DecodeIndexValue decodes an index value and checks that its lengths are
// plausible.
func DecodeIndexValue(b []byte) (IndexValue, error) {
	if len(b) < IndexValueSize {
		return IndexValue{}, fmt.Errorf("index value of %d bytes: %w", len(b), ErrShort)
	}
	if b[0] != IndexVersion {
		return IndexValue{}, fmt.Errorf("index value version %d: %w", b[0], ErrCorrupt)
	}
	v := IndexValue{
		HeaderLen:  int(binary.LittleEndian.Uint16(b[2:])),
		File:       binary.LittleEndian.Uint64(b[8:]),
		Offset:     int64(binary.LittleEndian.Uint64(b[16:])),
		Length:     int64(binary.LittleEndian.Uint32(b[24:])),
		InitLength: int64(binary.LittleEndian.Uint32(b[28:])),
		Fragment: FragmentHeader{
			Keyframe:     b[1]&flagKeyframe != 0,
			Checksum:     binary.LittleEndian.Uint32(b[4:]),
			Number:       binary.LittleEndian.Uint64(b[32:]),
			Run:          binary.LittleEndian.Uint64(b[40:]),
			ProducerTime: nsTime(int64(binary.LittleEndian.Uint64(b[48:]))),
			ServerTime:   nsTime(int64(binary.LittleEndian.Uint64(b[56:]))),
			Duration:     time.Duration(binary.LittleEndian.Uint64(b[64:])),
		},
	}
	switch {
	case v.HeaderLen < FragmentHeaderLen || v.HeaderLen > MaxHeaderLen:
		return IndexValue{}, fmt.Errorf("index value: header length %d: %w", v.HeaderLen, ErrCorrupt)
	case v.Length < int64(v.HeaderLen) || v.Length > int64(v.HeaderLen)+MaxPayload:
		return IndexValue{}, fmt.Errorf("index value: record length %d: %w", v.Length, ErrCorrupt)
	case v.InitLength < InitHeaderLen || v.InitLength > MaxHeaderLen+MaxPayload:
		return IndexValue{}, fmt.Errorf("index value: init length %d: %w", v.InitLength, ErrCorrupt)
	case v.Offset < FileHeaderSize+v.InitLength:
		return IndexValue{}, fmt.Errorf("index value: offset %d: %w", v.Offset, ErrCorrupt)
	}
	return v, nil
}

// FileValue summarises one chunk file in the index: enough for retention
// and usage without touching the file.
type FileValue struct {
	Run        uint64
	Count      int       // fragments indexed in the file
	End        int64     // offset just past the last indexed record: the file's size
	First      uint64    // first fragment number (equals the file id)
	Last       uint64    // last fragment number
	Oldest     time.Time // server time of the first fragment
	Newest     time.Time // end (server time + duration) of the newest fragment
	InitLength int64     // whole init record, at FileHeaderSize
}

// AppendFileValue appends the encoding of v to dst.
func AppendFileValue(dst []byte, v FileValue) []byte {
	var b [FileValueSize]byte
	b[0] = IndexVersion
	binary.LittleEndian.PutUint32(b[4:], uint32(v.Count))
	binary.LittleEndian.PutUint64(b[8:], uint64(v.End))
	binary.LittleEndian.PutUint64(b[16:], v.First)
	binary.LittleEndian.PutUint64(b[24:], v.Last)
	binary.LittleEndian.PutUint64(b[32:], uint64(timeNS(v.Oldest)))
	binary.LittleEndian.PutUint64(b[40:], uint64(timeNS(v.Newest)))
	binary.LittleEndian.PutUint64(b[48:], v.Run)
	binary.LittleEndian.PutUint32(b[56:], uint32(v.InitLength))
	return append(dst, b[:]...)
}

// DecodeFileValue decodes a file value.
func DecodeFileValue(b []byte) (FileValue, error) {
	if len(b) < FileValueSize {
		return FileValue{}, fmt.Errorf("file value of %d bytes: %w", len(b), ErrShort)
	}
	if b[0] != IndexVersion {
		return FileValue{}, fmt.Errorf("file value version %d: %w", b[0], ErrCorrupt)
	}
	v := FileValue{
		Count:      int(binary.LittleEndian.Uint32(b[4:])),
		End:        int64(binary.LittleEndian.Uint64(b[8:])),
		First:      binary.LittleEndian.Uint64(b[16:]),
		Last:       binary.LittleEndian.Uint64(b[24:]),
		Oldest:     nsTime(int64(binary.LittleEndian.Uint64(b[32:]))),
		Newest:     nsTime(int64(binary.LittleEndian.Uint64(b[40:]))),
		Run:        binary.LittleEndian.Uint64(b[48:]),
		InitLength: int64(binary.LittleEndian.Uint32(b[56:])),
	}
	if v.End < FileHeaderSize || v.Last < v.First {
		return FileValue{}, fmt.Errorf("file value: end %d, numbers %d..%d: %w", v.End, v.First, v.Last, ErrCorrupt)
	}
	return v, nil
}
