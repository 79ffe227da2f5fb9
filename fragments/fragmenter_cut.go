package fragments

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"vigil/chunk"
)

// cut closes the buffered fragment and stores it. endRel is the run-relative
// DTS (primary track ticks) of the unit that ends it and boundaryNS the
// run media time where the next fragment begins; when final, the fragment
// ends after its last sample instead.
func (r *recorder) cut(endRel, boundaryNS int64, final bool) {
	closed := time.Now()
	ru, p := r.run, r.run.primary
	last := &p.samples[len(p.samples)-1]
	if final {
		if last.dur < 0 {
			last.dur = p.defaultDur()
		}
		endRel = last.dts + last.dur
	} else {
		last.dur = endRel - last.dts
		p.lastDur = last.dur
	}
	endNS := boundaryNS
	if final {
		endNS = p.presentationEndNS(r.run.frag.startNS)
	}

	number := r.st.allocNumber()
	if ru.id == 0 {
		ru.id = number
	}
	part := fmp4.Part{SequenceNumber: uint32(number)}
	remaining := 0
	for _, t := range ru.tracks {
		if t == nil || len(t.samples) == 0 {
			continue
		}
		n := len(t.samples)
		if t != p && !final {
			// Other tracks contribute what starts before the cut.
			n = 0
			for n < len(t.samples) && ticksToNS(t.samples[n].dts, t.clock) < endNS {
				n++
			}
		}
		if n > 0 {
			pt := &fmp4.PartTrack{ID: t.id, BaseTime: uint64(t.samples[0].dts)}
			for _, s := range t.samples[:n] {
				d := s.dur
				if d < 0 {
					d = t.defaultDur()
				}
				pt.Samples = append(pt.Samples, &fmp4.Sample{
					Duration: clampDur(d), PTSOffset: s.ptsOff, IsNonSyncSample: !s.key, Payload: s.payload,
				})
			}
			part.Tracks = append(part.Tracks, pt)
		}
		t.samples = append([]pending(nil), t.samples[n:]...)
		for _, s := range t.samples {
			remaining += len(s.payload)
		}
	}
	frag := ru.frag
	// Dated at the cut, not when it opened: by now the anchor has seen the
	// fragment's units and corrected a late start.
	frag.serverTime = ru.serverTime(frag.startNS)
	ru.frag = fragState{bytes: remaining}

	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		r.st.writeErrors.Add(1)
		r.log.Warn("marshal fragment", "number", number, "err", err)
		return
	}
	f, err := r.w.append(&built{
		hdr: chunk.FragmentHeader{
			Number: number, Run: ru.id, ProducerTime: frag.ntp, ServerTime: frag.serverTime,
			Duration: time.Duration(endNS - frag.startNS), Keyframe: frag.key,
		},
		payload:   buf.Bytes(),
		init:      ru.init,
		mediaTime: time.Duration(frag.startNS),
	})
	if err != nil {
		r.st.writeErrors.Add(1)
		r.log.Warn("fragment lost", "number", number, "err", err)
		return
	}
	ru.prevEnd = f.ServerTime.Add(f.Duration)
	if obs := r.s.cfg.ObserveIndexLatency; obs != nil {
		obs(time.Since(closed))
	}
	if cb := r.s.cfg.OnFragment; cb != nil {
		cb(r.st.name, f)
	}
}

// allocNumber takes the stream's next fragment number.
func (st *stream) allocNumber() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := max(st.next, 1)
	st.next = n + 1
	return n
}

// presentationEndNS is the run media time at which the track's buffered
// samples stop being shown: the latest presentation time plus that sample's
// duration, and never before from.
func (t *track) presentationEndNS(from int64) int64 {
	end := from
	for _, s := range t.samples {
		d := s.dur
		if d < 0 {
			d = t.defaultDur()
		}
		end = max(end, ticksToNS(s.dts+int64(s.ptsOff)+d, t.clock))
	}
	return end
}
