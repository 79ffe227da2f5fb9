package chunk

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Unix(1_780_000_000, 123_456_789).UTC()

// recordCases seed the round-trip tests and the fuzz corpora.
var recordCases = []struct {
	name    string
	typ     Type
	init    InitHeader
	frag    FragmentHeader
	payload []byte
}{
	{name: "init", typ: TypeInit, init: InitHeader{Run: 7, Created: t0}, payload: []byte("ftyp....moov....")},
	{name: "init empty payload", typ: TypeInit, init: InitHeader{Run: 1}},
	{name: "fragment", typ: TypeFragment, frag: FragmentHeader{
		Number: 42, Run: 7, ProducerTime: t0.Add(-time.Second), ServerTime: t0,
		Duration: 2 * time.Second, Keyframe: true}, payload: bytes.Repeat([]byte("moofmdat"), 100)},
	{name: "fragment no producer time", typ: TypeFragment, frag: FragmentHeader{
		Number: 1, Run: 1, ServerTime: t0, Duration: 40 * time.Millisecond, Keyframe: true}, payload: []byte{0}},
	{name: "fragment not keyframe", typ: TypeFragment, frag: FragmentHeader{
		Number: 1<<64 - 1, Run: 1<<64 - 2, ServerTime: time.Unix(0, -5).UTC(), Duration: 1}, payload: []byte("x")},
	{name: "fragment empty payload", typ: TypeFragment, frag: FragmentHeader{Number: 3, Run: 3, ServerTime: t0}},
}

// encodeCase encodes one recordCases entry.
func encodeCase(typ Type, ih InitHeader, fh FragmentHeader, payload []byte) []byte {
	if typ == TypeInit {
		return AppendInit(nil, ih, payload)
	}
	return AppendFragment(nil, fh, payload)
}

func TestRecordRoundTrip(t *testing.T) {
	for _, c := range recordCases {
		t.Run(c.name, func(t *testing.T) {
			b := encodeCase(c.typ, c.init, c.frag, c.payload)
			// Trailing bytes belong to the next record and are not consumed.
			rec, err := DecodeRecord(append(b, 0xde, 0xad))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Type != c.typ || rec.Length != int64(len(b)) || !bytes.Equal(rec.Payload, c.payload) {
				t.Fatalf("got type %v length %d payload %d bytes", rec.Type, rec.Length, len(rec.Payload))
			}
			switch c.typ {
			case TypeInit:
				if rec.HeaderLen != InitHeaderLen || !reflect.DeepEqual(rec.Init, c.init) {
					t.Fatalf("init header %+v, want %+v", rec.Init, c.init)
				}
			case TypeFragment:
				want := c.frag
				want.Checksum = Checksum(c.payload)
				if rec.HeaderLen != FragmentHeaderLen || !reflect.DeepEqual(rec.Fragment, want) {
					t.Fatalf("fragment header %+v, want %+v", rec.Fragment, want)
				}
			}
			got, err := ReadRecord(bytes.NewReader(append([]byte("pad"), b...)), 3, int64(len(b)))
			if err != nil || got.Offset != 3 || !bytes.Equal(got.Payload, c.payload) {
				t.Fatalf("ReadRecord: %v, offset %d", err, got.Offset)
			}
		})
	}
}

func TestDecodeRecordRejectsDamage(t *testing.T) {
	c := recordCases[2]
	b := encodeCase(c.typ, c.init, c.frag, c.payload)
	for i := range b {
		d := bytes.Clone(b)
		d[i] ^= 0x01
		if _, err := DecodeRecord(d); err == nil {
			t.Fatalf("flipping a bit of byte %d went unnoticed", i)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, err := DecodeRecord(b[:n]); !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

func TestReadRecordErrors(t *testing.T) {
	c := recordCases[2]
	b := encodeCase(c.typ, c.init, c.frag, c.payload)
	tests := []struct {
		name        string
		off, length int64
		want        error
	}{
		{"wrong length", 0, int64(len(b)) - 1, ErrCorrupt},
		{"negative offset", -1, int64(len(b)), ErrCorrupt},
		{"past end", int64(len(b)) - 8, int64(len(b)), ErrShort},
		{"huge length", 0, MaxPayload + MaxHeaderLen + 1, ErrCorrupt},
		{"not a record", 1, int64(len(b)) - 1, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadRecord(bytes.NewReader(b), tt.off, tt.length); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFileHeader(t *testing.T) {
	b := AppendFileHeader(nil)
	if h, err := DecodeFileHeader(b); err != nil || h.Version != Version {
		t.Fatalf("%+v %v", h, err)
	}
	for i := range b {
		d := bytes.Clone(b)
		d[i] ^= 0x80
		if _, err := DecodeFileHeader(d); err == nil {
			t.Fatalf("damaged byte %d accepted", i)
		}
	}
	if _, err := DecodeFileHeader(b[:FileHeaderSize-1]); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
}
