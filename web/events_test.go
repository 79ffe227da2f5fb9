package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vigil/events"
	"vigil/streams"
)

// newEventsServer serves the API over a real HTTP server on loopback, with
// events from an embedded NATS server.
func newEventsServer(t *testing.T) (*httptest.Server, *events.Bus) {
	t.Helper()
	bus, err := events.Start(events.Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	reg := &fakeRegistry{t: t, m: map[string]streams.Stream{}}
	s := New(Config{Registry: reg, Store: fakeStore{t}, Ingest: fakeIngest{}, Events: bus})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, bus
}

// matched is a face.matched event on stream with one face per person.
func matched(stream string, people ...string) *events.Event {
	e := &events.Event{Type: events.FaceMatched, Stream: stream, Time: time.Now()}
	for _, p := range people {
		e.Faces = append(e.Faces, events.FaceResult{Confidence: 0.9,
			Matches: []events.Match{{Collection: "staff", FaceID: "f_" + p, ExternalID: p, Similarity: 0.9}}})
	}
	return e
}

// external_id selects the events in which some face matched that person,
// listed and live; a value over 255 bytes is refused.
func TestEventsExternalIDFilter(t *testing.T) {
	srv, bus := newEventsServer(t)
	ctx := context.Background()

	// Live first, so it sees what is published below.
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events/live?external_id=alice", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if l := <-lines; !strings.HasPrefix(l, ":") {
		t.Fatalf("first live line %q", l)
	}

	published := []*events.Event{
		matched("door", "alice"), matched("door", "bob"), matched("yard", "bob", "alice"),
		matched("yard", "alice-2"), {Type: events.FaceUnknown, Stream: "door", Time: time.Now(), Faces: []events.FaceResult{{}}},
	}
	for _, e := range published {
		if err := bus.PublishEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	alice := []string{published[0].ID, published[2].ID}

	list := func(query string) (int, []string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/api/v1/events" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Events []events.Event `json:"events"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		var ids []string
		for _, e := range body.Events {
			ids = append(ids, e.ID)
		}
		return resp.StatusCode, ids
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?external_id=alice", []string{alice[1], alice[0]}},
		{"?external_id=alice&stream=yard", []string{alice[1]}},
		{"?external_id=alice&type=face.unknown", nil},
		{"?external_id=bob&stream=door&limit=1", []string{published[1].ID}},
		{"?external_id=alice-2", []string{published[3].ID}},
		{"?external_id=" + strings.Repeat("x", 255), nil},
	} {
		status, ids := list(c.query)
		if status != 200 || strings.Join(ids, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: status %d, %v, want %v", c.query, status, ids, c.want)
		}
	}
	for _, route := range []string{"/api/v1/events", "/api/v1/events/live"} {
		resp, err := http.Get(srv.URL + route + "?external_id=" + strings.Repeat("x", 256))
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || e.Code != "bad_external_id" {
			t.Errorf("%s with a 256-byte external_id: %d %+v", route, resp.StatusCode, e)
		}
	}

	// The live stream carried alice's events only, as id: and data: lines.
	var live []string
	timeout := time.After(5 * time.Second)
	for len(live) < len(alice) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("live stream ended after %v", live)
			}
			if id, ok := strings.CutPrefix(l, "id: "); ok {
				live = append(live, id)
				var e events.Event
				if d := <-lines; !strings.HasPrefix(d, "data: ") || json.Unmarshal([]byte(d[len("data: "):]), &e) != nil || e.ID != id {
					t.Fatalf("after id %s: %q", id, d)
				}
			}
		case <-timeout:
			t.Fatalf("live: %v, want %v", live, alice)
		}
	}
	if strings.Join(live, ",") != strings.Join(alice, ",") {
		t.Errorf("live: %v, want %v", live, alice)
	}
	// Nothing else follows: a last event for alice is the next one seen.
	last := matched("door", "alice")
	bus.PublishEvent(ctx, last)
	for {
		select {
		case l := <-lines:
			if id, ok := strings.CutPrefix(l, "id: "); ok {
				if id != last.ID {
					t.Errorf("live delivered %s, not for alice", id)
				}
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("live: the last event did not arrive")
		}
	}
}

// Without an event bus both event routes answer 503 with the error body,
// before looking at their filters.
func TestEventsUnavailable(t *testing.T) {
	s, _ := newTestServer(t)
	for _, target := range []string{"/api/v1/events", "/api/v1/events/live", "/api/v1/events?stream=..%2F"} {
		w := do(s.Handler(), "GET", target, "")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"unavailable"`) {
			t.Errorf("GET %s: %d %s, want 503 unavailable", target, w.Code, w.Body)
		}
	}
}
