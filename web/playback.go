package web

import (
	"errors"
	"net/http"

	"vigil/playback"
)

// Playback serves recorded and live media. Each method checks its own
// parameters and returns an error (wrapping a playback sentinel) before it
// writes anything; web checks the stream and maps the error.
type Playback interface {
	ServePlaylist(w http.ResponseWriter, r *http.Request, stream string) error
	ServeInit(w http.ResponseWriter, r *http.Request, stream, file string) error
	ServeSegment(w http.ResponseWriter, r *http.Request, stream, file string) error
	ServeClip(w http.ResponseWriter, r *http.Request, stream string) error
	ServeTimeline(w http.ResponseWriter, r *http.Request, stream string) error
	ServeImage(w http.ResponseWriter, r *http.Request, stream string) error
}

func (s *Server) routePlayback(mux *http.ServeMux) {
	if s.cfg.Playback == nil {
		return
	}
	p := s.cfg.Playback
	stream := func(serve func(w http.ResponseWriter, r *http.Request, stream string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if st, ok := s.stream(w, r); ok {
				s.playbackErr(w, r, serve(w, r, st.Name))
			}
		}
	}
	file := func(serve func(w http.ResponseWriter, r *http.Request, stream, file string) error) http.HandlerFunc {
		return stream(func(w http.ResponseWriter, r *http.Request, name string) error {
			return serve(w, r, name, r.PathValue("file"))
		})
	}
	mux.HandleFunc("GET /hls/{name}/index.m3u8", stream(p.ServePlaylist))
	mux.HandleFunc("GET /hls/{name}/init/{file}", file(p.ServeInit))
	mux.HandleFunc("GET /hls/{name}/seg/{file}", file(p.ServeSegment))
	mux.HandleFunc("GET /api/v1/streams/{name}/clip.mp4", stream(p.ServeClip))
	mux.HandleFunc("GET /api/v1/streams/{name}/timeline", stream(p.ServeTimeline))
	mux.HandleFunc("GET /api/v1/streams/{name}/image.jpg", stream(p.ServeImage))
	mux.HandleFunc("/hls/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such HLS route: "+r.Method+" "+r.URL.Path)
	})
}

// playbackErrors maps playback's sentinels to a status and code.
var playbackErrors = []errorCode{
	{playback.ErrBadRequest, http.StatusBadRequest, "bad_request"},
	{playback.ErrBadTime, http.StatusBadRequest, "bad_time"},
	{playback.ErrBadRange, http.StatusBadRequest, "bad_range"},
	{playback.ErrNotFound, http.StatusNotFound, "not_found"},
	{playback.ErrNoMedia, http.StatusNotFound, "no_media"},
	{playback.ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{playback.ErrUnsatisfied, http.StatusRequestedRangeNotSatisfiable, "bad_range"},
	{playback.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
}

// playbackErr answers a playback handler's error. A response that had
// started is past saving: net/http closes the connection, as the body is
// shorter than announced.
func (s *Server) playbackErr(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, playback.ErrAborted) {
		s.log.Debug("playback response aborted", "path", r.URL.Path, "err", err)
		return
	}
	if writeMapped(w, err, playbackErrors) {
		return
	}
	s.log.Warn("playback failed", "path", r.URL.Path, "err", err)
	writeErr(w, err)
}
