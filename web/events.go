package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"vigil/events"
	"vigil/streams"
)

// EventLog is the stored and live event stream as the API uses it.
type EventLog interface {
	Events(ctx context.Context, q events.Query) ([]events.Event, string, error)
	Live(f events.Filter, fn func(events.Event)) (stop func(), err error)
}

func (s *Server) routeEvents(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/events", s.listEvents)
	mux.HandleFunc("GET /api/v1/events/live", s.liveEvents)
}

// maxExternalID is the longest person filter: an enrolled face's
// external_id is at most 255 bytes.
const maxExternalID = 255

// eventFilter reads the stream, type and external_id filters shared by both
// routes. It answers 503 itself when vigil runs without events, and 400 on
// a bad filter; ok is false when it has answered.
func (s *Server) eventFilter(w http.ResponseWriter, r *http.Request) (q events.Query, ok bool) {
	if s.cfg.Events == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "events are not configured")
		return q, false
	}
	v := r.URL.Query()
	q = events.Query{Stream: v.Get("stream"), Type: v.Get("type"), ExternalID: v.Get("external_id")}
	if q.Stream != "" {
		if err := streams.ValidateName(q.Stream); err != nil {
			writeErr(w, err)
			return q, false
		}
	}
	if len(q.Type) > 64 {
		writeError(w, http.StatusBadRequest, "bad_type", "type: too long")
		return q, false
	}
	if len(q.ExternalID) > maxExternalID {
		writeError(w, http.StatusBadRequest, "bad_external_id", "external_id: longer than 255 bytes")
		return q, false
	}
	return q, true
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q, ok := s.eventFilter(w, r)
	if !ok {
		return
	}
	q.Cursor = r.URL.Query().Get("cursor")
	var err error
	if q.Since, err = parseTime(r, "since"); err == nil {
		q.Until, err = parseTime(r, "until")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_time", err.Error())
		return
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		writeError(w, http.StatusBadRequest, "bad_range", "until is before since")
		return
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit: want a whole number from 1 to 1000")
			return
		}
		q.Limit = n
	}
	list, next, err := s.cfg.Events.Events(r.Context(), q)
	if errors.Is(err, events.ErrInvalidCursor) {
		writeError(w, http.StatusBadRequest, "bad_cursor", err.Error())
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if list == nil {
		list = []events.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": list, "next_cursor": next})
}

// liveQueue bounds the events waiting for a slow live client; past it,
// events are dropped (the client can catch up with GET /api/v1/events).
const liveQueue = 256

// liveEvents streams new events as server-sent events: one event per
// `data:` line, with the event id as the SSE id, and a comment every 15 s
// to keep proxies from closing the connection.
func (s *Server) liveEvents(w http.ResponseWriter, r *http.Request) {
	q, ok := s.eventFilter(w, r)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	queue := make(chan events.Event, liveQueue)
	stop, err := s.cfg.Events.Live(q.Filter(), func(e events.Event) {
		select {
		case queue <- e:
		default: // slow client: drop rather than stall the subscription
		}
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(": connected\n\n"))
	flusher.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			w.Write([]byte(": keepalive\n\n"))
		case e := <-queue:
			b, _ := json.Marshal(e)
			w.Write([]byte("id: " + e.ID + "\ndata: "))
			w.Write(b)
			w.Write([]byte("\n\n"))
		}
		flusher.Flush()
	}
}
