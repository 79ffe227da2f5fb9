package chunk

import (
	"bytes"
	"reflect"
	"testing"
)

// Every decoder has a fuzz target seeded from the round-trip tables. A
// target checks that the decoder does not panic and that whatever it
// accepts survives a second encode/decode unchanged.

func FuzzDecodeRecord(f *testing.F) {
	for _, c := range recordCases {
		f.Add(encodeCase(c.typ, c.init, c.frag, c.payload))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err != nil {
			return
		}
		again, err := DecodeRecord(encodeCase(rec.Type, rec.Init, rec.Fragment, rec.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == TypeFragment {
			// The checksum is recomputed on encoding.
			rec.Fragment.Checksum = Checksum(rec.Payload)
		}
		if !reflect.DeepEqual(again.Init, rec.Init) || !reflect.DeepEqual(again.Fragment, rec.Fragment) ||
			!bytes.Equal(again.Payload, rec.Payload) {
			t.Fatalf("round trip: %+v != %+v", again, rec)
		}
	})
}

func FuzzScan(f *testing.F) {
	for n := range 3 {
		b, _ := testFile(n)
		f.Add(b)
	}
	b, _ := testFile(2)
	f.Add(b[:len(b)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		res := Scan(bytes.NewReader(b), int64(len(b)))
		if res.End < 0 || res.End > int64(len(b)) {
			t.Fatalf("end %d of %d", res.End, len(b))
		}
		// Scanning the valid prefix again finds the same records, cleanly.
		again := Scan(bytes.NewReader(b[:res.End]), res.End)
		if again.End != res.End || len(again.Fragments) != len(res.Fragments) {
			t.Fatalf("rescan: end %d vs %d", again.End, res.End)
		}
		if res.End > 0 && again.Err != nil {
			t.Fatalf("rescan of valid prefix: %v", again.Err)
		}
		for _, r := range res.Fragments {
			if _, err := ReadRecord(bytes.NewReader(b), r.Offset, r.Length); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzDecodeFileHeader(f *testing.F) {
	f.Add(AppendFileHeader(nil))
	f.Add([]byte("VIGILCHK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := DecodeFileHeader(b); err == nil && !bytes.Equal(b[:FileHeaderSize], AppendFileHeader(nil)) {
			t.Fatalf("accepted a header that differs from the one written: %x", b[:FileHeaderSize])
		}
	})
}

func FuzzDecodeIndexValue(f *testing.F) {
	for _, v := range indexCases {
		f.Add(AppendIndexValue(nil, v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeIndexValue(b)
		if err != nil {
			return
		}
		again, err := DecodeIndexValue(AppendIndexValue(nil, v))
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("round trip: %+v %v, want %+v", again, err, v)
		}
	})
}

func FuzzDecodeFileValue(f *testing.F) {
	for _, v := range fileCases {
		f.Add(AppendFileValue(nil, v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeFileValue(b)
		if err != nil {
			return
		}
		again, err := DecodeFileValue(AppendFileValue(nil, v))
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("round trip: %+v %v, want %+v", again, err, v)
		}
	})
}

func FuzzDecodeTimeKey(f *testing.F) {
	for _, v := range indexCases {
		f.Add(TimeKey(v.Fragment.ServerTime, v.Fragment.Number))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		at, n, err := DecodeTimeKey(b)
		if err != nil {
			return
		}
		// The zero Unix time is the "unknown" encoding; every other key
		// re-encodes to itself.
		if k := TimeKey(at, n); !bytes.Equal(k, b) && !at.IsZero() {
			t.Fatalf("round trip: %x != %x", k, b)
		}
	})
}

func FuzzParseFileName(f *testing.F) {
	f.Add(FileName(7))
	f.Add("index.db")
	f.Fuzz(func(t *testing.T, name string) {
		id, ok := ParseFileName(name)
		if ok && FileName(id) != name {
			t.Fatalf("%q parsed as %d", name, id)
		}
	})
}
