package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"vigil/streams"
)

// streamJSON is a stream as the API shows it: its definition and live status.
type streamJSON struct {
	streams.Stream
	Status statusJSON `json:"status"`
}

type statusJSON struct {
	Online        bool          `json:"online"`
	Since         *time.Time    `json:"since,omitempty"`
	Codec         string        `json:"codec,omitempty"`
	Width         int           `json:"width,omitempty"`
	Height        int           `json:"height,omitempty"`
	FPS           float64       `json:"fps,omitempty"`
	Bitrate       int64         `json:"bitrate"`
	LastFragment  *fragmentJSON `json:"last_fragment"`
	Error         string        `json:"error,omitempty"`
	Reconnects    int64         `json:"reconnects"`
	FramesDropped int64         `json:"frames_dropped"`
	BytesUsed     int64         `json:"bytes_used"`
}

// streamBody is what PUT accepts. Absent fields take defaults.
type streamBody struct {
	Source    string             `json:"source"`
	Retention *streams.Retention `json:"retention"`
	Detect    *streams.Detect    `json:"detect"`
}

func (s *Server) routeStreams(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/streams", s.listStreams)
	mux.HandleFunc("GET /api/v1/streams/{name}", s.getStream)
	mux.HandleFunc("PUT /api/v1/streams/{name}", s.putStream)
	mux.HandleFunc("DELETE /api/v1/streams/{name}", s.deleteStream)
	// A name with a slash in it lands here: it is a bad name, not a missing route.
	mux.HandleFunc("/api/v1/streams/{name}/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadRequest, "invalid_name", fmt.Sprintf("no route %s %s: stream names may not contain '/'", r.Method, r.URL.Path))
	})
}

func (s *Server) streamView(st streams.Stream) streamJSON {
	v := streamJSON{Stream: st}
	if st.Detect.Collections == nil {
		v.Detect.Collections = []string{}
	}
	if s.cfg.Ingest != nil {
		is := s.cfg.Ingest.Status(st.Name)
		v.Status = statusJSON{
			Online: is.Online, Codec: is.Codec, Width: is.Width, Height: is.Height, FPS: is.FPS,
			Bitrate: is.Bitrate, Error: is.LastError, Reconnects: is.Reconnects, FramesDropped: is.FramesDropped,
		}
		if !is.Since.IsZero() {
			t := is.Since.UTC()
			v.Status.Since = &t
		}
	}
	if s.cfg.Store != nil {
		v.Status.BytesUsed = s.cfg.Store.Usage(st.Name)
		if f, ok := s.cfg.Store.Last(st.Name); ok {
			fj := toFragmentJSON(f)
			v.Status.LastFragment = &fj
		}
	}
	return v
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) {
	list := s.cfg.Registry.List()
	out := make([]streamJSON, 0, len(list))
	for _, st := range list {
		out = append(out, s.streamView(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": out})
}

// stream validates the {name} path value and looks the stream up; it writes
// the error response and returns false when that fails.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) (streams.Stream, bool) {
	name := r.PathValue("name")
	if err := streams.ValidateName(name); err != nil {
		writeErr(w, err)
		return streams.Stream{}, false
	}
	st, err := s.cfg.Registry.Get(name)
	if err != nil {
		writeErr(w, fmt.Errorf("%w: %s", err, name))
		return streams.Stream{}, false
	}
	return st, true
}

func (s *Server) getStream(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.stream(w, r); ok {
		writeJSON(w, http.StatusOK, s.streamView(st))
	}
}

// maxBody bounds JSON request bodies.
const maxBody = 1 << 20

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body over 1 MiB")
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) putStream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := streams.ValidateName(name); err != nil {
		writeErr(w, err)
		return
	}
	var body streamBody
	if !decodeBody(w, r, &body) {
		return
	}
	st := streams.Stream{Name: name, Source: body.Source, Retention: s.cfg.DefaultRetention, Detect: streams.Detect{FPS: 2}}
	if body.Retention != nil {
		st.Retention = *body.Retention
	}
	if body.Detect != nil {
		st.Detect = *body.Detect
	}
	if err := st.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_stream", err.Error())
		return
	}
	created, err := s.cfg.Registry.Put(st)
	if err != nil {
		writeErr(w, err)
		return
	}
	st, _ = s.cfg.Registry.Get(name)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.streamView(st))
}

func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request) {
	st, ok := s.stream(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Registry.Delete(st.Name); err != nil {
		writeErr(w, err)
		return
	}
	if s.cfg.Purge != nil && r.URL.Query().Get("keep_recordings") != "true" {
		if err := s.cfg.Purge(st.Name); err != nil {
			writeErr(w, fmt.Errorf("stream deleted, but purging its recordings failed: %w", err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
