package detect

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// Fuzz targets for the decoders this package owns: go test -fuzz=FuzzX.

func FuzzUnmarshalTemplate(f *testing.F) {
	for _, tpl := range []Template{{}, {1, -1}, make(Template, 59)} {
		b, _ := tpl.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{'T', 1, 0x80, 0x00})
	f.Add([]byte{'T', 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl, err := UnmarshalTemplate(b)
		if err != nil {
			if !errors.Is(err, ErrBadTemplate) {
				t.Fatalf("error %v is not ErrBadTemplate", err)
			}
			return
		}
		again, _ := tpl.MarshalBinary()
		back, err := UnmarshalTemplate(again)
		if err != nil || len(back) != len(tpl) {
			t.Fatalf("round trip: %v, %d values of %d", err, len(back), len(tpl))
		}
		for i := range back {
			if math.Float32bits(back[i]) != math.Float32bits(tpl[i]) {
				t.Fatalf("value %d changed", i)
			}
		}
	})
}

func FuzzDecodeFace(f *testing.F) {
	for _, face := range []memFace{
		{},
		{IndexedFace: IndexedFace{ExternalID: "alice", Box: Box{0.1, 0.2, 0.3, 0.4}, Confidence: 0.9, Created: time.Unix(1790000000, 5).UTC()}, template: Template{1, 2, 3}},
		{IndexedFace: IndexedFace{ExternalID: "名前"}, template: make(Template, lbphLen)},
	} {
		b, err := encodeFace(face)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		face, err := decodeFace(b)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		again, err := encodeFace(face)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeFace(again)
		if err != nil {
			t.Fatalf("re-encoded record: %v", err)
		}
		if !sameFace(back, face) {
			t.Fatalf("round trip: %+v, want %+v", back, face)
		}
	})
}

// sameFace compares bit for bit (NaN boxes included).
func sameFace(a, b memFace) bool {
	ea, _ := encodeFace(a)
	eb, _ := encodeFace(b)
	return reflect.DeepEqual(ea, eb) && a.ExternalID == b.ExternalID && a.Created.Equal(b.Created)
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(attFile(f, "s1", 1))
	f.Add(gocvFile(f, "images/face-detect.jpg")[:2000])
	f.Add(pngHeader(3, 3))
	f.Add(pngHeader(1<<20, 1<<20))
	f.Add([]byte("P5\n# comment\n2 2\n255\n\x00\x01\x02\x03"))
	f.Add([]byte("P2 2 1 255 7 9"))
	f.Add([]byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x18\x00\x00\x00\x00\x00\x04\x00\x00\x00\x13\x0b\x00\x00\x13\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\x00"))
	f.Add([]byte("P7\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n\x00\xff"))
	f.Add([]byte("Pf\n2 1\n-1.0\n\x00\x00\x80\x3f\x00\x00\x00\x00"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x02\x00\x00\x01\x04\x00\x01\x00\x00\x00\x02\x00\x00\x00\x01\x01\x04\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x01\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f\x01\x40\x00\x00\x00"))
	f.Add([]byte("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\x80\x80\x80\x81"))
	f.Add([]byte("\x59\xa6\x6a\x95\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x18\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x00"))
	f.Add([]byte("\xff\x4f\xff\x51\x00\x29\x00\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"))
	const maxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeImage(b, maxPixels)
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrImageTooLarge) {
				t.Fatalf("error %v is neither ErrNotImage nor ErrImageTooLarge", err)
			}
			return
		}
		defer m.Close()
		if m.Empty() || m.Channels() != 3 || m.Cols()*m.Rows() > maxPixels {
			t.Fatalf("decoded %dx%d with %d channels", m.Cols(), m.Rows(), m.Channels())
		}
	})
}
