package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vigil/fragments"
)

type fragmentJSON struct {
	Number       uint64     `json:"number"`
	Run          uint64     `json:"run"`
	ProducerTime *time.Time `json:"producer_time"`
	ServerTime   time.Time  `json:"server_time"`
	DurationMS   float64    `json:"duration_ms"`
	SizeBytes    int64      `json:"size_bytes"`
	Keyframe     bool       `json:"keyframe"`
}

func toFragmentJSON(f fragments.Fragment) fragmentJSON {
	j := fragmentJSON{
		Number: f.Number, Run: f.Run, ServerTime: f.ServerTime.UTC(),
		DurationMS: float64(f.Duration) / float64(time.Millisecond), SizeBytes: f.Size, Keyframe: f.Keyframe,
	}
	if !f.ProducerTime.IsZero() {
		t := f.ProducerTime.UTC()
		j.ProducerTime = &t
	}
	return j
}

func (s *Server) routeFragments(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/streams/{name}/fragments", s.listFragments)
	mux.HandleFunc("GET /api/v1/streams/{name}/fragments/{number}", s.getFragment)
}

// parseTime parses an RFC 3339 time query parameter; empty is the zero time.
func parseTime(r *http.Request, key string) (time.Time, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time (e.g. 2026-11-26T10:00:00.000Z)", key, v)
	}
	return t, nil
}

func (s *Server) listFragments(w http.ResponseWriter, r *http.Request) {
	st, ok := s.stream(w, r)
	if !ok {
		return
	}
	var q fragments.Query
	var err error
	if q.Start, err = parseTime(r, "start"); err == nil {
		q.End, err = parseTime(r, "end")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_time", err.Error())
		return
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		writeError(w, http.StatusBadRequest, "bad_range", "end is before start")
		return
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit: want a whole number from 1 to 10000")
			return
		}
		q.Limit = n
	}
	q.Cursor = r.URL.Query().Get("cursor")
	list, next, err := s.cfg.Store.Fragments(st.Name, q)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_cursor", err.Error())
		return
	}
	out := make([]fragmentJSON, 0, len(list))
	for _, f := range list {
		out = append(out, toFragmentJSON(f))
	}
	writeJSON(w, http.StatusOK, map[string]any{"fragments": out, "next_cursor": next})
}

func (s *Server) getFragment(w http.ResponseWriter, r *http.Request) {
	st, ok := s.stream(w, r)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(r.PathValue("number"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_number", "fragment number: want a whole number")
		return
	}
	f, err := s.cfg.Store.Fragment(st.Name, n)
	if err != nil {
		writeErr(w, fmt.Errorf("fragment %d of %s: %w", n, st.Name, err))
		return
	}
	rd, _, err := s.cfg.Store.OpenMP4(st.Name, n)
	if err != nil {
		writeErr(w, fmt.Errorf("fragment %d of %s: %w", n, st.Name, err))
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	w.Header().Set("ETag", fmt.Sprintf(`"%s-%d-%08x"`, st.Name, n, f.Checksum))
	http.ServeContent(w, r, fmt.Sprintf("%s-%d.mp4", st.Name, n), f.ServerTime, rd)
}
