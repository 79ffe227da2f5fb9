package testkit

import "bytes"

// NALUType is the type of NAL unit n for codec "h264" or "h265".
func NALUType(codec string, n []byte) uint8 {
	if codec == "h265" {
		return (n[0] >> 1) & 0x3f
	}
	return n[0] & 0x1f
}

// SplitAccessUnits splits an Annex-B stream of codec "h264" or "h265" (as
// ffmpeg writes it with access unit delimiters) into NAL units, grouped into
// access units at each delimiter.
func SplitAccessUnits(raw []byte, codec string) [][][]byte {
	var nalus [][]byte
	start := -1
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] == 0 && raw[i+1] == 0 && raw[i+2] == 1 {
			if start >= 0 {
				nalus = append(nalus, bytes.TrimRight(raw[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 {
		nalus = append(nalus, raw[start:])
	}
	aud := uint8(9)
	if codec == "h265" {
		aud = 35
	}
	var aus [][][]byte
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if NALUType(codec, n) == aud || len(aus) == 0 {
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(aus[len(aus)-1], n)
	}
	return aus
}
