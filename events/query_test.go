package events

import (
	"context"
	"errors"
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
	var paged []string
	q := Query{Limit: 7}
	for {
		page, next, err := b.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
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
	stop, err := b.Live("door", FaceMatched, func(e Event) { got <- e })
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
