package playback

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// DefaultTimeline is the span a timeline request covers without start or
// end: the last 24 hours.
const DefaultTimeline = 24 * time.Hour

type spanJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ServeTimeline serves GET /api/v1/streams/{stream}/timeline?start=&end=:
// the continuous recorded spans within [start, end), as
// {"spans":[{"start","end"}]}. end defaults to now and start to 24 hours
// before end.
func (s *Server) ServeTimeline(w http.ResponseWriter, r *http.Request, stream string) error {
	q := r.URL.Query()
	start, err := parseTime(q, "start")
	if err != nil {
		return err
	}
	end, err := parseTime(q, "end")
	if err != nil {
		return err
	}
	if end.IsZero() {
		end = s.cfg.Now()
		if !start.IsZero() && !start.Before(end) {
			end = start.Add(DefaultTimeline)
		}
	}
	if start.IsZero() {
		start = end.Add(-DefaultTimeline)
	}
	if !start.Before(end) {
		return fmt.Errorf("%w: start must be before end", ErrBadRange)
	}
	spans, err := s.cfg.Store.Timeline(stream, start, end)
	if err != nil {
		return fmt.Errorf("timeline of %s: %w", stream, err)
	}
	out := struct {
		Spans []spanJSON `json:"spans"`
	}{Spans: make([]spanJSON, 0, len(spans))}
	for _, sp := range spans {
		out.Spans = append(out.Spans, spanJSON{sp.Start.UTC(), sp.End.UTC()})
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
	return nil
}
