package playback

import (
	"encoding/binary"
	"fmt"
	"time"
)

// timesLen is the length of a full box's version, flags, creation and
// modification times: 12 bytes in version 0, 20 in version 1.
func timesLen(b []byte, bx box) (int, error) {
	if err := need(bx, 4); err != nil {
		return 0, err
	}
	if b[bx.payload()] == 1 {
		return 20, nil
	}
	return 12, nil
}

// initInfo is what a clip needs from an init segment.
type initInfo struct {
	movieScale uint32
	tracks     map[uint32]*trackInfo
}

type trackInfo struct {
	scale      uint32 // mdhd timescale
	defaultDur uint32 // trex default sample duration
}

// patchInit returns a copy of an init segment (ftyp+moov) that declares
// duration: in mvhd, every tkhd and an mehd box in mvex (inserted when
// missing), so that players show a fragmented file's length. It also
// returns the tracks' timescales and trex defaults.
func patchInit(init []byte, duration time.Duration) ([]byte, initInfo, error) {
	info := initInfo{tracks: map[uint32]*trackInfo{}}
	out := append([]byte(nil), init...)
	var moov, mvex, mehd *box
	var durs []box // mvhd and tkhd boxes
	err := walk(out, 0, len(out), func(top box) error {
		if top.typ != "moov" {
			return nil
		}
		moov = &top
		return walk(out, top.payload(), top.end, func(bx box) error {
			switch bx.typ {
			case "mvhd":
				off, err := timesLen(out, bx)
				if err != nil {
					return err
				}
				if err := need(bx, off+8); err != nil {
					return err
				}
				info.movieScale = binary.BigEndian.Uint32(out[bx.payload()+off:])
				durs = append(durs, bx)
			case "trak":
				return walkTrak(out, bx, &info, &durs)
			case "mvex":
				mvex = &bx
				return walk(out, bx.payload(), bx.end, func(c box) error {
					switch c.typ {
					case "mehd":
						mehd = &c
					case "trex":
						if err := need(c, 16); err != nil {
							return err
						}
						id := binary.BigEndian.Uint32(out[c.payload()+4:])
						if t := info.tracks[id]; t != nil {
							t.defaultDur = binary.BigEndian.Uint32(out[c.payload()+12:])
						}
					}
					return nil
				})
			}
			return nil
		})
	})
	if err != nil {
		return nil, info, err
	}
	if moov == nil || mvex == nil || info.movieScale == 0 || len(info.tracks) == 0 {
		return nil, info, fmt.Errorf("%w: init segment without moov, mvhd, trak or mvex", errBox)
	}
	d := durationTicks(duration, info.movieScale)
	for _, bx := range durs {
		setDuration(out, bx, d)
	}
	if mehd != nil {
		setDuration(out, *mehd, d)
		return out, info, nil
	}
	// Insert a version 1 mehd as mvex's first child and grow its parents.
	m := make([]byte, 20)
	binary.BigEndian.PutUint32(m, 20)
	copy(m[4:], "mehd")
	m[8] = 1
	binary.BigEndian.PutUint64(m[12:], d)
	at := mvex.payload()
	out = append(out[:at], append(m, out[at:]...)...)
	grow(out, *moov, len(m))
	grow(out, *mvex, len(m))
	return out, info, nil
}

// walkTrak reads a trak's track ID (tkhd) and timescale (mdhd).
func walkTrak(b []byte, trak box, info *initInfo, durs *[]box) error {
	var id, scale uint32
	err := walk(b, trak.payload(), trak.end, func(bx box) error {
		switch bx.typ {
		case "tkhd":
			off, err := timesLen(b, bx)
			if err != nil {
				return err
			}
			if err := need(bx, off+4+4+8); err != nil {
				return err
			}
			id = binary.BigEndian.Uint32(b[bx.payload()+off:])
			*durs = append(*durs, bx)
		case "mdia":
			return walk(b, bx.payload(), bx.end, func(c box) error {
				if c.typ != "mdhd" {
					return nil
				}
				off, err := timesLen(b, c)
				if err != nil {
					return err
				}
				if err := need(c, off+4); err != nil {
					return err
				}
				scale = binary.BigEndian.Uint32(b[c.payload()+off:])
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if id == 0 || scale == 0 {
		return fmt.Errorf("%w: trak without track ID or timescale", errBox)
	}
	info.tracks[id] = &trackInfo{scale: scale}
	return nil
}

// setDuration writes d into the duration field of an mvhd, tkhd or mehd
// box (checked long enough by the walk), saturating a version 0 field.
func setDuration(b []byte, bx box, d uint64) {
	p := bx.payload()
	if p >= bx.end {
		return
	}
	v1 := b[p] == 1
	var off int
	switch bx.typ {
	case "mvhd":
		off = 16 // fullbox, times, timescale
		if v1 {
			off = 28
		}
	case "tkhd":
		off = 20 // fullbox, times, track ID, reserved
		if v1 {
			off = 32
		}
	case "mehd":
		off = 4
	}
	if v1 {
		if p+off+8 <= bx.end {
			binary.BigEndian.PutUint64(b[p+off:], d)
		}
		return
	}
	if p+off+4 <= bx.end {
		binary.BigEndian.PutUint32(b[p+off:], uint32(min(d, 0xffffffff)))
	}
}

// grow adds n to the size of the box bx in b.
func grow(b []byte, bx box, n int) {
	if bx.hdr == 16 {
		binary.BigEndian.PutUint64(b[bx.start+8:], binary.BigEndian.Uint64(b[bx.start+8:])+uint64(n))
		return
	}
	binary.BigEndian.PutUint32(b[bx.start:], binary.BigEndian.Uint32(b[bx.start:])+uint32(n))
}
