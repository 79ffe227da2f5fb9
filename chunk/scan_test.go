package chunk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testFile builds a chunk file of run 9 with n fragments numbered from 100
// and returns it with the offsets at which each record ends.
func testFile(n int) ([]byte, []int64) {
	b := AppendFileHeader(nil)
	ends := []int64{int64(len(b))}
	b = AppendInit(b, InitHeader{Run: 9, Created: t0}, []byte("init segment"))
	ends = append(ends, int64(len(b)))
	for i := 0; i < n; i++ {
		b = AppendFragment(b, FragmentHeader{
			Number: 100 + uint64(i), Run: 9, ServerTime: t0.Add(time.Duration(i) * 2 * time.Second),
			Duration: 2 * time.Second, Keyframe: true,
		}, bytes.Repeat([]byte{byte(i)}, 10+i*7))
		ends = append(ends, int64(len(b)))
	}
	return b, ends
}

func TestScanWholeFile(t *testing.T) {
	b, ends := testFile(5)
	// Scan a real file, as recovery does.
	path := filepath.Join(t.TempDir(), FileName(100))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := Scan(f, int64(len(b)))
	if res.Err != nil || res.End != int64(len(b)) {
		t.Fatalf("end %d of %d: %v", res.End, len(b), res.Err)
	}
	if res.Init.Init.Run != 9 || string(res.Init.Payload) != "init segment" || res.Init.Offset != FileHeaderSize {
		t.Fatalf("init %+v", res.Init)
	}
	if len(res.Fragments) != 5 {
		t.Fatalf("%d fragments", len(res.Fragments))
	}
	for i, r := range res.Fragments {
		if r.Offset != ends[i+1] || r.Offset+r.Length != ends[i+2] || r.Fragment.Number != 100+uint64(i) || r.Payload != nil {
			t.Fatalf("fragment %d: %+v", i, r)
		}
		got, err := ReadRecord(f, r.Offset, r.Length)
		if err != nil || got.Fragment.Checksum != Checksum(got.Payload) {
			t.Fatalf("fragment %d: %v", i, err)
		}
	}
}

// TestScanTornTail cuts the file at every byte offset: Scan must return the
// end of the last whole record before the cut.
func TestScanTornTail(t *testing.T) {
	b, ends := testFile(3)
	for cut := 0; cut <= len(b); cut++ {
		want := int64(0)
		nfrag := -1
		for _, e := range ends {
			if e <= int64(cut) {
				want = e
				nfrag++
			}
		}
		res := Scan(bytes.NewReader(b[:cut]), int64(cut))
		if res.End != want {
			t.Fatalf("cut at %d: end %d, want %d (%v)", cut, res.End, want, res.Err)
		}
		if nfrag > 0 && len(res.Fragments) != nfrag-1 {
			t.Fatalf("cut at %d: %d fragments, want %d", cut, len(res.Fragments), nfrag-1)
		}
		if cut > 0 && (res.Err == nil) != (want == int64(cut)) {
			t.Fatalf("cut at %d: err %v", cut, res.Err)
		}
	}
}

func TestScanStructure(t *testing.T) {
	hdr := AppendFileHeader(nil)
	initRec := AppendInit(nil, InitHeader{Run: 1}, []byte("i"))
	frag := func(n, run uint64) []byte {
		return AppendFragment(nil, FragmentHeader{Number: n, Run: run, ServerTime: t0}, []byte("f"))
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name  string
		file  []byte
		nfrag int
		end   int64
	}{
		{"header only", hdr, 0, FileHeaderSize},
		{"init only", cat(hdr, initRec), 0, int64(len(hdr) + len(initRec))},
		{"fragment before init", cat(hdr, frag(1, 1)), 0, FileHeaderSize},
		{"second init", cat(hdr, initRec, frag(1, 1), initRec), 1, int64(len(hdr)+len(initRec)) + int64(len(frag(1, 1)))},
		{"wrong run", cat(hdr, initRec, frag(1, 1), frag(2, 2)), 1, int64(len(hdr)+len(initRec)) + int64(len(frag(1, 1)))},
		{"number not increasing", cat(hdr, initRec, frag(5, 1), frag(5, 1)), 1, int64(len(hdr)+len(initRec)) + int64(len(frag(1, 1)))},
		{"garbage after", cat(hdr, initRec, frag(1, 1), []byte("garbage garbage garbage")), 1, int64(len(hdr)+len(initRec)) + int64(len(frag(1, 1)))},
		{"zeroed tail", cat(hdr, initRec, frag(1, 1), make([]byte, 4096)), 1, int64(len(hdr)+len(initRec)) + int64(len(frag(1, 1)))},
		{"bad header", cat([]byte("NOTACHNK........"), initRec), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Scan(bytes.NewReader(tt.file), int64(len(tt.file)))
			if len(res.Fragments) != tt.nfrag || res.End != tt.end {
				t.Fatalf("%d fragments, end %d; want %d, %d (%v)", len(res.Fragments), res.End, tt.nfrag, tt.end, res.Err)
			}
			if res.End < int64(len(tt.file)) && !errors.Is(res.Err, ErrCorrupt) && !errors.Is(res.Err, ErrShort) {
				t.Fatalf("err %v", res.Err)
			}
		})
	}
}

// TestScanCorruptMiddle damages a byte inside the second fragment: Scan
// stops before it.
func TestScanCorruptMiddle(t *testing.T) {
	b, ends := testFile(4)
	for _, at := range []int64{ends[3] + 3, ends[3] + 20, ends[4] - 1} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			d := bytes.Clone(b)
			d[at] ^= 0xff
			res := Scan(bytes.NewReader(d), int64(len(d)))
			if res.End != ends[3] || len(res.Fragments) != 2 {
				t.Fatalf("end %d want %d, %d fragments", res.End, ends[3], len(res.Fragments))
			}
		})
	}
}
