package playback

import (
	"encoding/binary"
	"fmt"
)

// traf is what a clip needs from one track fragment of a moof.
type traf struct {
	track uint32
	base  uint64 // tfdt baseMediaDecodeTime
	dur   uint64 // the samples' total duration
	tfdt  int    // offset of the tfdt payload (version, flags, time) in the moof
}

// moofInfo is a parsed moof: where its sequence number is, and its track
// fragments.
type moofInfo struct {
	seqAt int
	trafs []traf
}

// parseMoof walks a moof box (the whole of b) for its mfhd sequence number
// and each traf's track, tfdt and sample durations (from trun, else tfhd's
// default, else trex's in info).
func parseMoof(b []byte, info initInfo) (moofInfo, error) {
	m := moofInfo{seqAt: -1}
	err := walk(b, 0, len(b), func(top box) error {
		if top.typ != "moof" || top.start != 0 || top.end != len(b) {
			return fmt.Errorf("%w: want one moof, found %s", errBox, top.typ)
		}
		return walk(b, top.payload(), top.end, func(bx box) error {
			switch bx.typ {
			case "mfhd":
				if err := need(bx, 8); err != nil {
					return err
				}
				m.seqAt = bx.payload() + 4
			case "traf":
				t, err := parseTraf(b, bx, info)
				if err != nil {
					return err
				}
				m.trafs = append(m.trafs, t)
			}
			return nil
		})
	})
	if err != nil {
		return m, err
	}
	if m.seqAt < 0 || len(m.trafs) == 0 {
		return m, fmt.Errorf("%w: moof without mfhd or traf", errBox)
	}
	return m, nil
}

func parseTraf(b []byte, bx box, info initInfo) (traf, error) {
	t := traf{tfdt: -1}
	var defaultDur uint32
	haveTfhd := false
	var truns []box
	err := walk(b, bx.payload(), bx.end, func(c box) error {
		p := c.payload()
		switch c.typ {
		case "tfhd":
			if err := need(c, 8); err != nil {
				return err
			}
			flags := binary.BigEndian.Uint32(b[p:]) & 0xffffff
			t.track = binary.BigEndian.Uint32(b[p+4:])
			tr := info.tracks[t.track]
			if tr == nil {
				return fmt.Errorf("%w: traf of track %d, not in the init segment", errBox, t.track)
			}
			defaultDur = tr.defaultDur
			if flags&0x08 != 0 {
				off := 8
				if flags&0x01 != 0 {
					off += 8
				}
				if flags&0x02 != 0 {
					off += 4
				}
				if err := need(c, off+4); err != nil {
					return err
				}
				defaultDur = binary.BigEndian.Uint32(b[p+off:])
			}
			haveTfhd = true
		case "tfdt":
			if err := need(c, 8); err != nil {
				return err
			}
			t.tfdt = p
			if b[p] == 1 {
				if err := need(c, 12); err != nil {
					return err
				}
				t.base = binary.BigEndian.Uint64(b[p+4:])
			} else {
				t.base = uint64(binary.BigEndian.Uint32(b[p+4:]))
			}
		case "trun":
			truns = append(truns, c)
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	if !haveTfhd || t.tfdt < 0 {
		return t, fmt.Errorf("%w: traf without tfhd or tfdt", errBox)
	}
	for _, c := range truns {
		d, err := trunDuration(b, c, defaultDur)
		if err != nil {
			return t, err
		}
		t.dur += d
	}
	return t, nil
}

// trunDuration sums a trun's sample durations.
func trunDuration(b []byte, c box, defaultDur uint32) (uint64, error) {
	if err := need(c, 8); err != nil {
		return 0, err
	}
	p := c.payload()
	flags := binary.BigEndian.Uint32(b[p:]) & 0xffffff
	count := uint64(binary.BigEndian.Uint32(b[p+4:]))
	off := 8
	if flags&0x01 != 0 { // data offset
		off += 4
	}
	if flags&0x04 != 0 { // first sample flags
		off += 4
	}
	per := 0
	for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&f != 0 {
			per += 4
		}
	}
	if flags&0x100 == 0 {
		return count * uint64(defaultDur), need(c, off)
	}
	if uint64(c.end-p-off) < count*uint64(per) {
		return 0, fmt.Errorf("%w: trun of %d samples in %d bytes", errBox, count, c.end-p-off)
	}
	var sum uint64
	for i := uint64(0); i < count; i++ {
		sum += uint64(binary.BigEndian.Uint32(b[p+off+int(i)*per:]))
	}
	return sum, nil
}

// setSequence writes the mfhd sequence number.
func (m *moofInfo) setSequence(b []byte, seq uint32) {
	binary.BigEndian.PutUint32(b[m.seqAt:], seq)
}

// setBase writes a traf's new baseMediaDecodeTime; a version 0 tfdt must
// still hold it.
func setBase(b []byte, t traf, base uint64) error {
	p := t.tfdt
	if b[p] == 1 {
		binary.BigEndian.PutUint64(b[p+4:], base)
		return nil
	}
	if base > 0xffffffff {
		return fmt.Errorf("%w: decode time %d does not fit a version 0 tfdt", errBox, base)
	}
	binary.BigEndian.PutUint32(b[p+4:], uint32(base))
	return nil
}
