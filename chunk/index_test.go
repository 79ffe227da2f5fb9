package chunk

import (
	"bytes"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"
)

var indexCases = []IndexValue{
	{File: 100, Offset: 1000, Length: 5000, HeaderLen: FragmentHeaderLen, InitLength: 700, Fragment: FragmentHeader{
		Number: 104, Run: 100, ProducerTime: t0, ServerTime: t0.Add(time.Millisecond), Duration: 2 * time.Second,
		Keyframe: true, Checksum: 0xdeadbeef}},
	{File: 1, Offset: FileHeaderSize + InitHeaderLen, Length: FragmentHeaderLen, HeaderLen: FragmentHeaderLen, InitLength: InitHeaderLen,
		Fragment: FragmentHeader{Number: 1, Run: 1, ServerTime: t0}},
}

var fileCases = []FileValue{
	{Run: 100, Count: 30, End: 64 << 20, First: 100, Last: 129, Oldest: t0, Newest: t0.Add(time.Minute), InitLength: 700},
	{Run: 1, Count: 1, End: FileHeaderSize + 100, First: 1, Last: 1, Oldest: t0, Newest: t0, InitLength: 40},
}

func TestIndexValueRoundTrip(t *testing.T) {
	for _, v := range indexCases {
		b := AppendIndexValue(nil, v)
		if len(b) != IndexValueSize {
			t.Fatalf("size %d", len(b))
		}
		got, err := DecodeIndexValue(b)
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("got %+v %v, want %+v", got, err, v)
		}
		if got.PayloadOffset() != v.Offset+FragmentHeaderLen || got.PayloadSize() != v.Length-FragmentHeaderLen {
			t.Fatal("payload position")
		}
	}
}

func TestIndexValueRejects(t *testing.T) {
	good := AppendIndexValue(nil, indexCases[0])
	tests := []struct {
		name string
		edit func(IndexValue) IndexValue
	}{
		{"short header", func(v IndexValue) IndexValue { v.HeaderLen = 10; return v }},
		{"length below header", func(v IndexValue) IndexValue { v.Length = 10; return v }},
		{"tiny init", func(v IndexValue) IndexValue { v.InitLength = 1; return v }},
		{"offset inside init", func(v IndexValue) IndexValue { v.Offset = 20; return v }},
	}
	for _, tt := range tests {
		if _, err := DecodeIndexValue(AppendIndexValue(nil, tt.edit(indexCases[0]))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if _, err := DecodeIndexValue(good[:IndexValueSize-1]); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
	bad := bytes.Clone(good)
	bad[0] = 2
	if _, err := DecodeIndexValue(bad); !errors.Is(err, ErrCorrupt) {
		t.Error(err)
	}
}

func TestFileValueRoundTrip(t *testing.T) {
	for _, v := range fileCases {
		got, err := DecodeFileValue(AppendFileValue(nil, v))
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("got %+v %v, want %+v", got, err, v)
		}
	}
	bad := fileCases[0]
	bad.Last = bad.First - 1
	if _, err := DecodeFileValue(AppendFileValue(nil, bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatal(err)
	}
}

func TestTimeKeyOrder(t *testing.T) {
	type entry struct {
		at time.Time
		n  uint64
	}
	want := []entry{
		{time.Unix(-100, 0).UTC(), 9},
		{time.Unix(0, -1).UTC(), 1},
		{time.Unix(0, 1).UTC(), 0},
		{t0, 3},
		{t0, 4},
		{t0.Add(time.Nanosecond), 1},
		{time.Unix(1<<33, 0).UTC(), 2},
	}
	keys := make([][]byte, len(want))
	for i, e := range want {
		keys[len(want)-1-i] = TimeKey(e.at, e.n)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	for i, k := range keys {
		at, n, err := DecodeTimeKey(k)
		if err != nil || !at.Equal(want[i].at) || n != want[i].n {
			t.Fatalf("key %d: %v %d %v, want %v", i, at, n, err, want[i])
		}
	}
}

func TestFileName(t *testing.T) {
	tests := []struct {
		name string
		id   uint64
		ok   bool
	}{
		{FileName(0), 0, true},
		{FileName(42), 42, true},
		{FileName(1<<64 - 1), 1<<64 - 1, true},
		{"00000000000000000042.tmp", 0, false},
		{"0000000000000000042.vch", 0, false},
		{"+0000000000000000042.vch", 0, false},
		{"99999999999999999999.vch", 0, false}, // overflows uint64
		{"index.db", 0, false},
	}
	for _, tt := range tests {
		id, ok := ParseFileName(tt.name)
		if id != tt.id || ok != tt.ok {
			t.Errorf("%q: %d %v", tt.name, id, ok)
		}
	}
	if FileName(2) >= FileName(10) {
		t.Error("lexical order is not numeric order")
	}
}

func TestNumberKey(t *testing.T) {
	for _, n := range []uint64{0, 1, 255, 256, 1<<64 - 1} {
		if got, err := DecodeNumberKey(NumberKey(n)); err != nil || got != n {
			t.Fatalf("%d: %d %v", n, got, err)
		}
	}
	if bytes.Compare(NumberKey(255), NumberKey(256)) >= 0 {
		t.Fatal("keys do not sort numerically")
	}
	if _, err := DecodeNumberKey([]byte{1}); !errors.Is(err, ErrCorrupt) {
		t.Fatal(err)
	}
}
