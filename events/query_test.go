package events

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEventsQuery(t *testing.T) {
	b := startBus(t, Config{})
	ctx := context.Background()
	t0 := time.Now().UTC()
	var ids []string
	var mid time.Time
	for i := range 30 {
		typ, stream := FaceUnknown, "door"
		if i%3 == 0 {
			typ = FaceMatched
		}
		if i%2 == 0 {
			stream = "yard"
		}
		if i == 15 {
			time.Sleep(20 * time.Millisecond)
			mid = time.Now()
			time.Sleep(20 * time.Millisecond)
		}
		e := &Event{Type: typ, Stream: stream, Time: t0.Add(time.Duration(i) * time.Second)}
		if err := b.PublishEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}

	all, next, err := b.Events(ctx, Query{})
	if err != nil || next != "" || len(all) != 30 || all[0].ID != ids[29] || all[29].ID != ids[0] {
		t.Fatalf("all: %d events, next %q, err %v", len(all), next, err)
	}
	// Paging newest first: pages of 7 cover everything once, in order.
	paged := pageIDs(t, b, Query{Limit: 7}, 100)
	if len(paged) != 30 || paged[0] != ids[29] || paged[29] != ids[0] {
		t.Fatalf("paged %d events", len(paged))
	}
	for _, c := range []struct {
		q    Query
		want int
	}{
		{Query{Stream: "door"}, 15},
		{Query{Type: FaceMatched}, 10},
		{Query{Stream: "yard", Type: FaceMatched}, 5},
		{Query{Since: mid}, 15},
		{Query{Until: mid}, 15},
		{Query{Stream: "nosuch"}, 0},
	} {
		got, _, err := b.Events(ctx, c.q)
		if err != nil || len(got) != c.want {
			t.Errorf("%+v: %d events (%v), want %d", c.q, len(got), err, c.want)
		}
		for _, e := range got {
			if c.q.Stream != "" && e.Stream != c.q.Stream || c.q.Type != "" && e.Type != c.q.Type {
				t.Errorf("%+v returned %+v", c.q, e)
			}
		}
	}
	if _, _, err := b.Events(ctx, Query{Cursor: "x"}); !errors.Is(err, ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}

	// Live: a subscriber sees new events only, filtered.
	got := make(chan Event, 4)
	stop, err := b.Live(Filter{Streams: []string{"door"}, Types: []string{FaceMatched}}, func(e Event) { got <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	b.Conn().Flush()
	b.PublishEvent(ctx, &Event{Type: FaceUnknown, Stream: "door", Time: time.Now()})
	want := &Event{Type: FaceMatched, Stream: "door", Time: time.Now()}
	b.PublishEvent(ctx, want)
	select {
	case e := <-got:
		if e.ID != want.ID {
			t.Fatalf("live got %s, want %s", e.ID, want.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event")
	}
}

// faces returns one face per person given, each matched in collection
// staff; "" is a face without matches.
func faces(people ...string) []FaceResult {
	var out []FaceResult
	for _, p := range people {
		f := FaceResult{Confidence: 0.9}
		if p != "" {
			f.Matches = []Match{{Collection: "staff", FaceID: "f_" + p, ExternalID: p, Similarity: 0.9}}
		}
		out = append(out, f)
	}
	return out
}

// ExternalID keeps the events in which some face, not only the first,
// matched that person, stored and live.
func TestEventsByExternalID(t *testing.T) {
	b := startBus(t, Config{})
	ctx := context.Background()
	got := make(chan Event, 16)
	stop, err := b.Live(Filter{ExternalIDs: []string{"alice"}}, func(e Event) { got <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	b.Conn().Flush()

	published := []struct {
		stream, typ string
		people      []string
	}{
		{"door", FaceMatched, []string{"alice"}},
		{"door", FaceMatched, []string{"bob"}},
		{"yard", FaceMatched, []string{"bob", "alice"}},
		{"door", FaceUnknown, []string{""}},
		{"door", FaceDetected, nil},
		{"yard", FaceMatched, []string{"alice2"}},
		{"door", FaceMatched, []string{"", "alice"}},
		{"yard", FaceMatched, []string{"Alice"}},
	}
	var alice []string // ids, oldest first
	for _, p := range published {
		e := &Event{Type: p.typ, Stream: p.stream, Time: time.Now(), Faces: faces(p.people...)}
		if err := b.PublishEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(p.people, "alice") {
			alice = append(alice, e.ID)
		}
	}
	if len(alice) != 3 {
		t.Fatalf("setup: %d alice events", len(alice))
	}

	for _, c := range []struct {
		q    Query
		want []string // ids, newest first
	}{
		{Query{ExternalID: "alice"}, []string{alice[2], alice[1], alice[0]}},
		{Query{ExternalID: "alice", Stream: "door"}, []string{alice[2], alice[0]}},
		{Query{ExternalID: "alice", Stream: "yard"}, []string{alice[1]}},
		{Query{ExternalID: "alice", Type: FaceUnknown}, nil},
		{Query{ExternalID: "bob", Stream: "yard", Type: FaceMatched}, []string{alice[1]}},
		{Query{ExternalID: "carol"}, nil},
	} {
		list, _, err := b.Events(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range list {
			ids = append(ids, e.ID)
		}
		if strings.Join(ids, ",") != strings.Join(c.want, ",") {
			t.Errorf("%+v: %v, want %v", c.q, ids, c.want)
		}
	}
	// Paging a filtered query: one at a time, each alice event once.
	paged := pageIDs(t, b, Query{ExternalID: "alice", Limit: 1}, 10)
	if len(paged) != 3 || paged[0] != alice[2] || paged[2] != alice[0] {
		t.Errorf("paged: %v, want %v reversed", paged, alice)
	}

	var live []string
	for len(live) < 3 {
		select {
		case e := <-got:
			live = append(live, e.ID)
		case <-time.After(5 * time.Second):
			t.Fatalf("live: %v, want %v", live, alice)
		}
	}
	if strings.Join(live, ",") != strings.Join(alice, ",") {
		t.Errorf("live: %v, want %v", live, alice)
	}
	b.Conn().Flush()
	select {
	case e := <-got:
		t.Errorf("live delivered %s, which no face of alice is in: %+v", e.ID, e.Faces)
	case <-time.After(100 * time.Millisecond):
	}
}

// pageIDs follows q's cursors for at most pages pages and returns the ids
// of every event seen, in order.
func pageIDs(t *testing.T, b *Bus, q Query, pages int) []string {
	t.Helper()
	var ids []string
	for range pages {
		page, next, err := b.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	return ids
}
