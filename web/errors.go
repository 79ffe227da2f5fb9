package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"vigil/fragments"
	"vigil/streams"
)

// apiError is the body of every error response.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// errorCode maps a sentinel error of another package to a status and code.
type errorCode struct {
	err    error
	status int
	code   string
}

// writeMapped answers err with the first entry of table it matches, and
// reports whether there was one.
func writeMapped(w http.ResponseWriter, err error, table []errorCode) bool {
	for _, m := range table {
		if errors.Is(err, m.err) {
			writeError(w, m.status, m.code, err.Error())
			return true
		}
	}
	return false
}

// writeErr maps an error from another package to a status and code.
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, streams.ErrInvalidName):
		writeError(w, http.StatusBadRequest, "invalid_name", err.Error())
	case errors.Is(err, streams.ErrNotFound):
		writeError(w, http.StatusNotFound, "stream_not_found", err.Error())
	case errors.Is(err, fragments.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

// guardPath refuses any request whose path has a "." or ".." segment, raw or
// percent-encoded, or an encoded slash or NUL, before routing: stream names
// become directory names, so nothing that could climb out reaches a handler.
func guardPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, seg := range strings.Split(r.URL.EscapedPath(), "/") {
			low := strings.ToLower(seg)
			if strings.Contains(low, "%2f") || strings.Contains(low, "%5c") || strings.Contains(low, "%00") {
				writeError(w, http.StatusBadRequest, "invalid_path", "path segments may not contain encoded slashes, backslashes or NUL")
				return
			}
			dec := strings.ReplaceAll(strings.ReplaceAll(low, "%2e", "."), "%252e", ".")
			if dec == "." || dec == ".." {
				writeError(w, http.StatusBadRequest, "invalid_path", "path segments may not be . or ..")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
