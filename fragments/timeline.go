package fragments

import (
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/chunk"
)

// SpanGap is the largest gap between fragments that a span bridges.
const SpanGap = time.Second

// Span is a stretch of continuous recording: fragments no more than SpanGap
// apart.
type Span struct{ Start, End time.Time }

// spanIndex is a stream's recorded spans, oldest first. It is built from
// the index on first use (one pass over the stream's index values), then
// kept up to date as fragments are added and retention deletes the oldest
// files, so Timeline answers without reading the index again.
type spanIndex struct {
	mu    sync.Mutex
	built bool
	spans []Span
}

// add records a new fragment.
func (x *spanIndex) add(f Fragment) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.built {
		return
	}
	start, end := f.ServerTime, f.ServerTime.Add(f.Duration)
	n := len(x.spans)
	switch {
	case n > 0 && start.Before(x.spans[n-1].Start):
		x.built = false // out of order (a clock step): rebuild when asked
	case n > 0 && start.Sub(x.spans[n-1].End) <= SpanGap:
		if end.After(x.spans[n-1].End) {
			x.spans[n-1].End = end
		}
	default:
		x.spans = append(x.spans, Span{start, end})
	}
}

// trim drops what lies before oldest, the start of the oldest fragment left
// after retention; a zero oldest means none is left.
func (x *spanIndex) trim(oldest time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if oldest.IsZero() {
		x.spans, x.built = nil, true
		return
	}
	i := 0
	for i < len(x.spans) && !x.spans[i].End.After(oldest) {
		i++
	}
	x.spans = x.spans[i:]
	if len(x.spans) > 0 && x.spans[0].Start.Before(oldest) {
		x.spans[0].Start = oldest
	}
}

// Timeline returns the stream's continuous spans clipped to [start, end); a
// zero start or end is unbounded.
func (s *Store) Timeline(name string, start, end time.Time) ([]Span, error) {
	if err := checkStream(name); err != nil {
		return nil, err
	}
	x := &s.stream(name).spans
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.built {
		spans, err := s.buildSpans(name)
		if err != nil {
			return nil, err
		}
		x.spans, x.built = spans, true
	}
	// The first span that ends after start.
	i, _ := slices.BinarySearchFunc(x.spans, start, func(sp Span, t time.Time) int { return sp.End.Compare(t) })
	if start.IsZero() {
		i = 0
	}
	var out []Span
	for ; i < len(x.spans); i++ {
		sp := x.spans[i]
		if !end.IsZero() && !sp.Start.Before(end) {
			break
		}
		if !start.IsZero() && sp.Start.Before(start) {
			sp.Start = start
		}
		if !end.IsZero() && sp.End.After(end) {
			sp.End = end
		}
		if sp.End.After(sp.Start) {
			out = append(out, sp)
		}
	}
	return out, nil
}

// buildSpans computes a stream's spans from its index values.
func (s *Store) buildSpans(name string) ([]Span, error) {
	var all []Span
	err := s.db.View(func(tx *bolt.Tx) error {
		b, _ := streamBucket(tx, name, false)
		index := sub(b, chunk.BucketFrags)
		if index == nil {
			return nil
		}
		return index.ForEach(func(_, raw []byte) error {
			if v, err := chunk.DecodeIndexValue(raw); err == nil {
				t := v.Fragment.ServerTime
				all = append(all, Span{t, t.Add(v.Fragment.Duration)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("fragments: timeline %s: %w", name, err)
	}
	// Numbers are mostly in time order already.
	if !slices.IsSortedFunc(all, func(a, b Span) int { return a.Start.Compare(b.Start) }) {
		slices.SortFunc(all, func(a, b Span) int { return a.Start.Compare(b.Start) })
	}
	var spans []Span
	for _, f := range all {
		if n := len(spans); n > 0 && f.Start.Sub(spans[n-1].End) <= SpanGap {
			if f.End.After(spans[n-1].End) {
				spans[n-1].End = f.End
			}
			continue
		}
		spans = append(spans, f)
	}
	return spans, nil
}

// oldestStart is the server time of the stream's oldest indexed fragment;
// zero when it has none.
func oldestStart(b *bolt.Bucket) time.Time {
	times := sub(b, chunk.BucketTimes)
	if times == nil {
		return time.Time{}
	}
	k, _ := times.Cursor().First()
	t, _, err := chunk.DecodeTimeKey(k)
	if k == nil || err != nil {
		return time.Time{}
	}
	return t
}
