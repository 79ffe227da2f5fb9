package detect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// imageFormat is an image format DecodeImage accepts: how to recognise it
// and how to read its width and height from the header.
type imageFormat struct {
	name  string
	magic func(b []byte) bool
	size  func(b []byte) (w, h int, ok bool)
}

func prefix(p string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(p)) }
}

// imageFormats are the formats DecodeImage reads, in the order they are
// tried. Each magic matches the signature OpenCV's decoder for the format
// checks, so the format read here is the format OpenCV decodes.
var imageFormats = []imageFormat{
	{"JPEG", prefix("\xff\xd8\xff"), jpegSize},
	{"PNG", prefix("\x89PNG\r\n\x1a\n"), pngSize},
	{"WebP", isWebP, webpSize},
	{"TIFF", anyPrefix("II*\x00", "MM\x00*"), tiffSize},
	{"BMP", prefix("BM"), bmpSize},
	{"PNM", anyPrefix("P1", "P2", "P3", "P4", "P5", "P6", "Pf", "PF"), pnmSize},
	{"PAM", prefix("P7"), pamSize},
	{"Sun raster", prefix("\x59\xa6\x6a\x95"), sunSize},
	{"Radiance HDR", anyPrefix("#?RADIANCE", "#?RGBE"), hdrSize},
	{"JPEG 2000", prefix("\xff\x4f\xff\x51"), j2kSize},
	{"JPEG 2000", prefix("\x00\x00\x00\x0cjP  \r\n\x87\n"), jp2Size},
}

func anyPrefix(ps ...string) func([]byte) bool {
	return func(b []byte) bool {
		for _, p := range ps {
			if bytes.HasPrefix(b, []byte(p)) {
				return true
			}
		}
		return false
	}
}

func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}

// imageSize finds b's format and reads its size.
func imageSize(b []byte) (format string, w, h int, err error) {
	for _, f := range imageFormats {
		if f.magic(b) {
			w, h, ok := f.size(b)
			if !ok {
				return f.name, 0, 0, fmt.Errorf("%s with a bad header", f.name)
			}
			return f.name, w, h, nil
		}
	}
	return "", 0, 0, errors.New("unknown or unsupported format (JPEG, PNG, WebP, TIFF, BMP, PNM, PAM, Sun raster, Radiance HDR, JPEG 2000)")
}

// jpegSize walks a JPEG's marker segments to its start of frame (any
// SOFn: baseline, progressive, arithmetic, lossless).
func jpegSize(b []byte) (w, h int, ok bool) {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return 0, 0, false
		}
		m := b[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // markers without a length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 {
			return 0, 0, false
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			if i+9 > len(b) {
				return 0, 0, false
			}
			return int(binary.BigEndian.Uint16(b[i+7:])), int(binary.BigEndian.Uint16(b[i+5:])), true
		}
		i += 2 + n
	}
	return 0, 0, false
}

// pngSize reads the IHDR chunk, which must come first.
func pngSize(b []byte) (int, int, bool) {
	if len(b) < 24 || string(b[12:16]) != "IHDR" {
		return 0, 0, false
	}
	w, h := binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint32(b[20:])
	if w > maxSide || h > maxSide {
		return maxSide + 1, maxSide + 1, true
	}
	return int(w), int(h), true
}

// bmpSize reads a BMP's BITMAPINFOHEADER (or the older 16-bit core header).
func bmpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 26 {
		return 0, 0, false
	}
	if binary.LittleEndian.Uint32(b[14:]) == 12 {
		return int(binary.LittleEndian.Uint16(b[18:])), int(binary.LittleEndian.Uint16(b[20:])), true
	}
	w = int(int32(binary.LittleEndian.Uint32(b[18:])))
	h = int(int32(binary.LittleEndian.Uint32(b[22:])))
	if h < 0 {
		h = -h // top-down bitmap
	}
	return w, h, true
}

// pnmTokens reads the whitespace-separated decimal numbers of a PNM or PFM
// header after its two-byte magic, skipping comments.
func pnmTokens(b []byte, n int) ([]int, bool) {
	i := 2
	var out []int
	for len(out) < n {
		for i < len(b) && (b[i] == '#' || isSpace(b[i])) {
			if b[i] == '#' {
				for i < len(b) && b[i] != '\n' && b[i] != '\r' {
					i++
				}
			} else {
				i++
			}
		}
		v, digits := 0, 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if v > 1<<30 {
				return nil, false
			}
			v = v*10 + int(b[i]-'0')
			i++
			digits++
		}
		if digits == 0 {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func pnmSize(b []byte) (int, int, bool) {
	v, ok := pnmTokens(b, 2)
	if !ok {
		return 0, 0, false
	}
	return v[0], v[1], true
}

// pamSize reads the WIDTH and HEIGHT lines of a PAM header.
func pamSize(b []byte) (w, h int, ok bool) {
	end := bytes.Index(b, []byte("ENDHDR"))
	if end < 0 {
		return 0, 0, false
	}
	w, h = -1, -1
	for _, line := range bytes.Split(b[2:end], []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) != 2 || string(f[0]) != "WIDTH" && string(f[0]) != "HEIGHT" {
			continue
		}
		v, ok := pnmTokens(append([]byte("P7 "), f[1]...), 1)
		if !ok {
			return 0, 0, false
		}
		if string(f[0]) == "WIDTH" {
			w = v[0]
		} else {
			h = v[0]
		}
	}
	return w, h, w >= 0 && h >= 0
}

// webpSize reads the canvas size of a lossy (VP8), lossless (VP8L) or
// extended (VP8X) WebP.
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 {
		return 0, 0, false
	}
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	switch string(b[12:16]) {
	case "VP8X":
		return le24(b[24:]) + 1, le24(b[27:]) + 1, true
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(b[26:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:]) & 0x3fff), true
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, false
		}
		v := binary.LittleEndian.Uint32(b[21:])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, true
	}
	return 0, 0, false
}

// tiffSize reads ImageWidth and ImageLength from a TIFF's first directory
// (the page imdecode reads).
func tiffSize(b []byte) (w, h int, ok bool) {
	if len(b) < 8 {
		return 0, 0, false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return 0, 0, false
	}
	n := int64(bo.Uint16(b[off:]))
	if off+2+12*n > int64(len(b)) {
		return 0, 0, false
	}
	w, h = -1, -1
	for i := int64(0); i < n; i++ {
		e := b[off+2+12*i:]
		var v int
		switch bo.Uint16(e[2:]) { // type
		case 3: // SHORT
			v = int(bo.Uint16(e[8:]))
		case 4: // LONG
			v = int(bo.Uint32(e[8:]))
		default:
			continue
		}
		switch bo.Uint16(e) { // tag
		case 256:
			w = v
		case 257:
			h = v
		}
	}
	return w, h, w >= 0 && h >= 0
}

// sunSize reads a Sun raster header: big-endian width and height.
func sunSize(b []byte) (int, int, bool) {
	if len(b) < 12 {
		return 0, 0, false
	}
	w, h := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	if w > maxSide || h > maxSide {
		return maxSide + 1, maxSide + 1, true
	}
	return int(w), int(h), true
}

// hdrSize reads the resolution line ("-Y 480 +X 640") after the header of
// a Radiance HDR file.
func hdrSize(b []byte) (w, h int, ok bool) {
	end := bytes.Index(b, []byte("\n\n"))
	if end < 0 {
		return 0, 0, false
	}
	line := b[end+2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	f := bytes.Fields(line)
	if len(f) != 4 {
		return 0, 0, false
	}
	num := func(s []byte) (int, bool) {
		v, ok := pnmTokens(append([]byte("P0 "), s...), 1)
		if !ok {
			return 0, false
		}
		return v[0], true
	}
	a, ok1 := num(f[1])
	c, ok2 := num(f[3])
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	if len(f[0]) == 2 && f[0][1] == 'Y' { // rows first: "-Y h +X w"
		return c, a, true
	}
	return a, c, true
}

// j2kSize reads the SIZ segment of a JPEG 2000 codestream.
func j2kSize(b []byte) (int, int, bool) {
	if len(b) < 24 {
		return 0, 0, false
	}
	x, y := binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:])
	x0, y0 := binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint32(b[20:])
	if x0 > x || y0 > y {
		return 0, 0, false
	}
	w, h := x-x0, y-y0
	if w > maxSide || h > maxSide {
		return maxSide + 1, maxSide + 1, true
	}
	return int(w), int(h), true
}

// jp2Size finds the image header box (jp2h/ihdr) of a JP2 file.
func jp2Size(b []byte) (int, int, bool) {
	for box := b; len(box) >= 8; {
		n := uint64(binary.BigEndian.Uint32(box))
		typ := string(box[4:8])
		head := uint64(8)
		switch n {
		case 0:
			n = uint64(len(box))
		case 1:
			if len(box) < 16 {
				return 0, 0, false
			}
			n, head = binary.BigEndian.Uint64(box[8:]), 16
		}
		if n < head || n > uint64(len(box)) {
			return 0, 0, false
		}
		if typ == "jp2h" {
			inner := box[head:n]
			if len(inner) >= 16 && string(inner[4:8]) == "ihdr" {
				h, w := binary.BigEndian.Uint32(inner[8:]), binary.BigEndian.Uint32(inner[12:])
				if w > maxSide || h > maxSide {
					return maxSide + 1, maxSide + 1, true
				}
				return int(w), int(h), true
			}
			return 0, 0, false
		}
		box = box[n:]
	}
	return 0, 0, false
}
