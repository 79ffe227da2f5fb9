package playback

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"vigil/fragments"
)

// write sends the clip: the init segment, then each fragment's patched
// moof followed by the rest of the fragment straight from its file.
func (c *clip) write(w io.Writer) error {
	if _, err := w.Write(c.init); err != nil {
		return err
	}
	var (
		file    *os.File
		path    string
		run     uint64
		end     time.Duration // the clip's media end so far
		from    time.Duration // the current run's media time that lands on to
		to      time.Duration
		started bool
	)
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	for i, p := range c.parts {
		if p.loc.Path != path {
			if file != nil {
				file.Close()
			}
			var err error
			if file, err = c.s.open(p.loc.Path, p.loc.Offset+p.loc.Length); err != nil {
				file = nil
				return err
			}
			path = p.loc.Path
		}
		moof, err := readMoof(file, p.loc)
		if err != nil {
			return fmt.Errorf("fragment %d: %w", p.f.Number, err)
		}
		m, err := parseMoof(moof, c.info)
		if err != nil {
			return fmt.Errorf("fragment %d: %w", p.f.Number, err)
		}
		if !started || p.f.Run != run {
			// A run starts: its earliest track time lands on the clip's end.
			from = -1
			for _, t := range m.trafs {
				if at := ticksDuration(t.base, c.info.tracks[t.track].scale); from < 0 || at < from {
					from = at
				}
			}
			to, run, started = end, p.f.Run, true
		}
		for _, t := range m.trafs {
			scale := c.info.tracks[t.track].scale
			base := int64(t.base) + int64(durationTicks(to, scale)) - int64(durationTicks(from, scale))
			base = max(base, 0)
			if err := setBase(moof, t, uint64(base)); err != nil {
				return fmt.Errorf("fragment %d: %w", p.f.Number, err)
			}
			end = max(end, ticksDuration(uint64(base)+t.dur, scale))
		}
		m.setSequence(moof, uint32(i+1))
		if _, err := w.Write(moof); err != nil {
			return err
		}
		rest := p.loc.Length - int64(len(moof))
		if _, err := file.Seek(p.loc.Offset+int64(len(moof)), io.SeekStart); err != nil {
			return err
		}
		if n, err := io.Copy(w, io.LimitReader(file, rest)); err != nil || n != rest {
			return fmt.Errorf("fragment %d: sent %d of %d bytes: %v", p.f.Number, n, rest, err)
		}
	}
	return nil
}

// readMoof reads the moof box at the start of a fragment.
func readMoof(file *os.File, loc fragments.Location) ([]byte, error) {
	var hdr [16]byte
	if loc.Length < 16 {
		return nil, fmt.Errorf("%w: fragment of %d bytes", errBox, loc.Length)
	}
	if _, err := file.ReadAt(hdr[:], loc.Offset); err != nil {
		return nil, err
	}
	size := uint64(binary.BigEndian.Uint32(hdr[:]))
	if size == 1 {
		size = binary.BigEndian.Uint64(hdr[8:])
	}
	if string(hdr[4:8]) != "moof" || size < 8 || size > uint64(loc.Length) || size > maxMoof {
		return nil, fmt.Errorf("%w: fragment does not start with a moof (%q, %d bytes)", errBox, hdr[4:8], size)
	}
	moof := make([]byte, size)
	if _, err := file.ReadAt(moof, loc.Offset); err != nil {
		return nil, err
	}
	return moof, nil
}
