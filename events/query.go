package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Query selects events. Zero fields match everything.
type Query struct {
	Stream string
	Type   string
	// ExternalID keeps the events in which some face matched this person.
	ExternalID string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	// Limit bounds the events returned: default 100, at most 1000.
	Limit int
	// Cursor continues a previous query (its NextCursor).
	Cursor string
}

// Filter is the selection of q's Stream, Type and ExternalID: what Live
// takes to follow the same events as they arrive.
func (q Query) Filter() Filter {
	return Filter{Streams: one(q.Stream), Types: one(q.Type), ExternalIDs: one(q.ExternalID)}
}

// one is v as a filter list: empty (match all) for "".
func one(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// ErrInvalidCursor is returned for a cursor that no query returned.
var ErrInvalidCursor = errors.New("invalid cursor")

// scanBudget bounds how many stored messages one query reads; a sparse
// filter over a long history returns a cursor to continue from instead of
// scanning without end.
const scanBudget = 20000

// Events returns stored events matching q, newest first, and a cursor for
// the next page ("" when there is none).
func (b *Bus) Events(ctx context.Context, q Query) ([]Event, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	st, err := b.js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, "", fmt.Errorf("events: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("events: %w", err)
	}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil, "", nil
	}
	hi := last
	if q.Cursor != "" {
		c, err := strconv.ParseUint(q.Cursor, 10, 64)
		if err != nil || c == 0 {
			return nil, "", fmt.Errorf("%w: %q", ErrInvalidCursor, q.Cursor)
		}
		hi = min(hi, c-1)
	}
	if !q.Until.IsZero() {
		// The last message before Until.
		s, err := seqAtOrAfter(ctx, st, first, last, q.Until)
		if err != nil {
			return nil, "", err
		}
		hi = min(hi, s-1)
	}
	lo := first
	if !q.Since.IsZero() {
		if lo, err = seqAtOrAfter(ctx, st, first, last, q.Since); err != nil {
			return nil, "", err
		}
	}
	f := q.Filter()
	subject := subjectOf(f)
	var out []Event
	scanned := 0
	seq := hi
	for ; seq >= lo && seq >= first && seq > 0 && len(out) < limit; seq-- {
		if scanned == scanBudget {
			break
		}
		scanned++
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted or expired
		}
		if err != nil {
			return nil, "", fmt.Errorf("events: read %d: %w", seq, err)
		}
		if !subjectMatches(subject, m.Subject) {
			continue
		}
		var e Event
		if json.Unmarshal(m.Data, &e) != nil || !f.Match(&e) {
			continue
		}
		out = append(out, e)
	}
	next := ""
	if seq >= lo && seq >= first && seq > 0 {
		next = strconv.FormatUint(seq+1, 10)
	}
	return out, next, nil
}

// seqAtOrAfter finds, by binary search over stored timestamps, the first
// sequence whose message was stored at or after t (last+1 if none).
func seqAtOrAfter(ctx context.Context, st jetstream.Stream, first, last uint64, t time.Time) (uint64, error) {
	var ferr error
	n := sort.Search(int(last-first+1), func(i int) bool {
		if ferr != nil {
			return true
		}
		m, err := st.GetMsg(ctx, first+uint64(i))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false // a hole: treat as older
		}
		if err != nil {
			ferr = err
			return true
		}
		return !m.Time.Before(t)
	})
	if ferr != nil {
		return 0, fmt.Errorf("events: find time: %w", ferr)
	}
	return first + uint64(n), nil
}

// subjectMatches reports whether subject matches a filter that is either a
// full subject or a prefix ending in ">".
func subjectMatches(filter, subject string) bool {
	if p, ok := strings.CutSuffix(filter, ">"); ok {
		return strings.HasPrefix(subject, p)
	}
	return filter == subject
}

// subjectOf is the narrowest subject that carries every event f can match.
func subjectOf(f Filter) string {
	if len(f.Streams) == 1 {
		return EventsSubject + f.Streams[0]
	}
	return EventsSubject + ">"
}

// Live delivers new events that f matches to fn, from a plain subscription
// (no history), until the returned stop is called. fn runs on the
// subscription's goroutine: it must not block.
func (b *Bus) Live(f Filter, fn func(Event)) (stop func(), err error) {
	sub, err := b.nc.Subscribe(subjectOf(f), func(m *nats.Msg) {
		var e Event
		if json.Unmarshal(m.Data, &e) != nil || !f.Match(&e) {
			return
		}
		fn(e)
	})
	if err != nil {
		return nil, fmt.Errorf("events: subscribe: %w", err)
	}
	return func() { sub.Unsubscribe() }, nil
}
