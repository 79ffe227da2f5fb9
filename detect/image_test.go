package detect

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Every accepted format, written by ffmpeg from face-detect.jpg (400×320):
// its size is read from the header, and OpenCV decodes it.
func TestDecodeImageFormats(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jpg"), gocvFile(t, "images/face-detect.jpg"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file   string
		args   []string
		format string
	}{
		{"a.jpg", nil, "JPEG"},
		{"a.png", nil, "PNG"},
		{"a.bmp", nil, "BMP"},
		{"a.pgm", nil, "PNM"},
		{"a.ppm", nil, "PNM"},
		{"a.pbm", nil, "PNM"},
		{"a.pfm", []string{"-pix_fmt", "gbrpf32le"}, "PNM"},
		{"a.pam", nil, "PAM"},
		{"a.ras", []string{"-rle", "0"}, "Sun raster"},
		{"a.tif", nil, "TIFF"},
		{"deflate.tif", []string{"-compression_algo", "deflate"}, "TIFF"},
		{"lossy.webp", []string{"-c:v", "libwebp"}, "WebP"},
		{"lossless.webp", []string{"-c:v", "libwebp", "-lossless", "1"}, "WebP"},
		{"alpha.webp", []string{"-c:v", "libwebp", "-pix_fmt", "yuva420p"}, "WebP"},
		{"a.j2k", []string{"-c:v", "jpeg2000"}, "JPEG 2000"},
		{"a.jp2", []string{"-c:v", "jpeg2000", "-format", "jp2"}, "JPEG 2000"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			args := append([]string{"-i", "in.jpg"}, tc.args...)
			ffmpeg(t, dir, append(args, "-frames:v", "1", "-update", "1", tc.file)...)
			b, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			format, w, h, err := imageSize(b)
			if err != nil || format != tc.format || w != 400 || h != 320 {
				t.Fatalf("header: %s %dx%d %v, want %s 400x320", format, w, h, err, tc.format)
			}
			m, err := DecodeImage(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Cols() != 400 || m.Rows() != 320 || m.Channels() != 3 {
				t.Errorf("decoded %dx%d, %d channels", m.Cols(), m.Rows(), m.Channels())
			}
		})
	}
	// ffmpeg writes no Radiance HDR: an uncompressed 3×2 one by hand.
	hdr := append([]byte("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 3\n"), make([]byte, 3*2*4)...)
	m, err := DecodeImage(hdr, 0)
	if err != nil {
		t.Fatalf("HDR: %v", err)
	}
	if m.Cols() != 3 || m.Rows() != 2 {
		t.Errorf("HDR %dx%d", m.Cols(), m.Rows())
	}
	m.Close()
}

// Headers that claim huge images are refused before decoding; formats
// without a size reader here are refused outright.
func TestDecodeImageRefusals(t *testing.T) {
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	tiff := func(w, h uint32) []byte {
		b := []byte("II*\x00\x08\x00\x00\x00\x02\x00")
		for _, e := range [][2]uint32{{256, w}, {257, h}} {
			b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
			b = binary.LittleEndian.AppendUint16(b, 4)
			b = binary.LittleEndian.AppendUint32(b, 1)
			b = binary.LittleEndian.AppendUint32(b, e[1])
		}
		return append(b, 0, 0, 0, 0)
	}
	webpX := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\xff\x3f\x00\xff\x3f\x00")
	j2k := append([]byte("\xff\x4f\xff\x51\x00\x29\x00\x00"), append(be32(40000), append(be32(40000), make([]byte, 12)...)...)...)
	jp2 := append([]byte("\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 \x00\x00\x00\x00jp2 \x00\x00\x00\x1ejp2h\x00\x00\x00\x16ihdr"),
		append(be32(40000), append(be32(40000), 0, 3, 7, 7, 0, 0)...)...)
	dicom := append(make([]byte, 128), []byte("DICM\x02\x00\x00\x00")...)
	cases := []struct {
		name string
		b    []byte
		err  error
	}{
		{"TIFF 30000x30000", tiff(30000, 30000), ErrImageTooLarge},
		{"TIFF 2x2", tiff(2, 2), ErrNotImage}, // no pixel data: OpenCV fails
		{"TIFF without a size", []byte("II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotImage},
		{"TIFF directory past the end", []byte("II*\x00\xff\x00\x00\x00"), ErrNotImage},
		{"WebP 16384x16384", webpX, ErrImageTooLarge},
		{"WebP truncated", webpX[:20], ErrNotImage},
		{"Sun raster 30000x30000", append([]byte("\x59\xa6\x6a\x95"), append(be32(30000), append(be32(30000), make([]byte, 20)...)...)...), ErrImageTooLarge},
		{"HDR 30000x30000", []byte("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 30000 +X 30000\n\x02\x02"), ErrImageTooLarge},
		{"HDR without a size", []byte("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\nnonsense\n"), ErrNotImage},
		{"PAM 30000x30000", []byte("P7\nWIDTH 30000\nHEIGHT 30000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"), ErrImageTooLarge},
		{"PAM without ENDHDR", []byte("P7\nWIDTH 3\nHEIGHT 3\n"), ErrNotImage},
		{"PPM 30000x30000", []byte("P6 30000 30000 255\n"), ErrImageTooLarge},
		{"PGM 0x5", []byte("P5 0 5 255\n"), ErrNotImage},
		{"BMP 30000x-30000", append([]byte("BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00"), binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 30000), uint32(0x100000000-30000))...), ErrImageTooLarge},
		{"JPEG 2000 40000x40000", j2k, ErrImageTooLarge},
		{"JP2 40000x40000", jp2, ErrImageTooLarge},
		{"JP2 without ihdr", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x08jp2c"), ErrNotImage},
		{"DICOM", dicom, ErrNotImage},
		{"OpenEXR", []byte("\x76\x2f\x31\x01\x02\x00\x00\x00"), ErrNotImage},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrNotImage},
		{"text", []byte("P is for Picture"), ErrNotImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeImage(tc.b, 0)
			if err == nil {
				m.Close()
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("%v, want %v", err, tc.err)
			}
			t.Log(err)
		})
	}
}
