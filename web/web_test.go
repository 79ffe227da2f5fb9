package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/fragments"
	"vigil/ingest"
	"vigil/streams"
)

// fakeRegistry is an in-memory registry that fails the test if it is ever
// asked about a name that is not a valid stream name.
type fakeRegistry struct {
	t  testing.TB
	mu sync.Mutex
	m  map[string]streams.Stream
}

func (f *fakeRegistry) check(name string) {
	if err := streams.ValidateName(name); err != nil {
		f.t.Errorf("registry reached with invalid name %q", name)
	}
}

func (f *fakeRegistry) List() []streams.Stream {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []streams.Stream
	for _, s := range f.m {
		out = append(out, s)
	}
	return out
}

func (f *fakeRegistry) Get(name string) (streams.Stream, error) {
	f.check(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[name]
	if !ok {
		return s, streams.ErrNotFound
	}
	return s, nil
}

func (f *fakeRegistry) Put(s streams.Stream) (bool, error) {
	f.check(s.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.m[s.Name]
	f.m[s.Name] = s
	return !ok, nil
}

func (f *fakeRegistry) Delete(name string) error {
	f.check(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[name]; !ok {
		return streams.ErrNotFound
	}
	delete(f.m, name)
	return nil
}

// fakeStore holds one fragment, number 1, of every stream.
type fakeStore struct{ t testing.TB }

var frag1 = fragments.Fragment{Number: 1, Run: 1, ServerTime: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Duration: 2 * time.Second, Size: 4, Keyframe: true}

func (f fakeStore) Fragments(stream string, q fragments.Query) ([]fragments.Fragment, string, error) {
	if q.Cursor != "" && q.Cursor != "next" {
		return nil, "", fragments.ErrInvalidCursor
	}
	return []fragments.Fragment{frag1}, "", nil
}

func (f fakeStore) Fragment(stream string, n uint64) (fragments.Fragment, error) {
	if n != 1 {
		return fragments.Fragment{}, fragments.ErrNotFound
	}
	return frag1, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (f fakeStore) OpenMP4(stream string, n uint64) (io.ReadSeekCloser, int64, error) {
	if n != 1 {
		return nil, 0, fragments.ErrNotFound
	}
	return nopCloser{bytes.NewReader([]byte("mp4!"))}, 4, nil
}

func (f fakeStore) Usage(string) int64                     { return 0 }
func (f fakeStore) Last(string) (fragments.Fragment, bool) { return frag1, true }
func (fakeIngest) Status(string) ingest.Status             { return ingest.Status{} }

type fakeIngest struct{}

func newTestServer(t testing.TB) (*Server, *fakeRegistry) {
	reg := &fakeRegistry{t: t, m: map[string]streams.Stream{"cam1": {Name: "cam1"}}}
	s := New(Config{Registry: reg, Store: fakeStore{t}, Ingest: fakeIngest{}, Purge: func(string) error { return nil }})
	return s, reg
}

func do(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/", strings.NewReader(body))
	req.Method = method
	req.RequestURI = target
	// As a server reads it: the request line is not resolved or cleaned.
	if u, err := url.ParseRequestURI(target); err == nil {
		req.URL = u
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRoutes(t *testing.T) {
	s, _ := newTestServer(t)
	h := s.Handler()
	cases := []struct {
		method, target, body string
		status               int
		code                 string
	}{
		{"GET", "/healthz", "", 200, ""},
		{"GET", "/api/v1/streams", "", 200, ""},
		{"GET", "/api/v1/streams/cam1", "", 200, ""},
		{"GET", "/api/v1/streams/nosuch", "", 404, "stream_not_found"},
		{"PUT", "/api/v1/streams/cam2", "{}", 201, ""},
		{"PUT", "/api/v1/streams/cam2", `{"retention":{"max_age":"1h","max_bytes":"2GiB"}}`, 200, ""},
		{"PUT", "/api/v1/streams/cam3", `{"source":"ftp://x"}`, 400, "invalid_stream"},
		{"PUT", "/api/v1/streams/cam3", `{"bogus":1}`, 400, "bad_request"},
		{"PUT", "/api/v1/streams/index.db", `{}`, 400, "invalid_name"},
		{"GET", "/api/v1/streams/..", "", 400, "invalid_path"},
		{"GET", "/api/v1/streams/%2E%2e", "", 400, "invalid_path"},
		{"GET", "/api/v1/streams/a%2fb", "", 400, "invalid_path"},
		{"GET", "/api/v1/streams/a/b", "", 400, "invalid_name"},
		{"GET", "/api/v1/streams/cam1/fragments", "", 200, ""},
		{"GET", "/api/v1/streams/cam1/fragments?start=nope", "", 400, "bad_time"},
		{"GET", "/api/v1/streams/cam1/fragments?limit=0", "", 400, "bad_limit"},
		{"GET", "/api/v1/streams/cam1/fragments?cursor=zz", "", 400, "bad_cursor"},
		{"GET", "/api/v1/streams/cam1/fragments/1", "", 200, ""},
		{"GET", "/api/v1/streams/cam1/fragments/2", "", 404, "not_found"},
		{"GET", "/api/v1/streams/cam1/fragments/-1", "", 400, "bad_number"},
		{"DELETE", "/api/v1/streams/cam1", "", 204, ""},
		{"GET", "/api/v1/nothing", "", 404, "not_found"},
	}
	for _, c := range cases {
		w := do(h, c.method, c.target, c.body)
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.target, w.Code, c.status, w.Body)
			continue
		}
		if c.code != "" {
			var e apiError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != c.code || e.Error == "" {
				t.Errorf("%s %s: body %s, want code %q", c.method, c.target, w.Body, c.code)
			}
		}
	}
}

// FuzzRoutes sends arbitrary methods, paths and bodies through the router:
// nothing panics, nothing is a 5xx, every error is JSON, and no component
// is ever handed a name that is not a valid stream name (the fake registry
// fails the test if it is).
func FuzzRoutes(f *testing.F) {
	for _, seed := range []string{
		"/api/v1/streams/cam1", "/api/v1/streams/..", "/api/v1/streams/%2e%2e/fragments", "/api/v1/streams/cam1/fragments/1",
		"/api/v1/streams/cam1/fragments?start=2026-01-01T00:00:00Z&end=2025-01-01T00:00:00Z", "/api/v1/streams/%00",
		"/api/v1/streams/a%2F..%2Fb", "/api/v1/streams/" + strings.Repeat("x", 200), "/hls/../../etc/passwd", "//api/v1/streams",
	} {
		f.Add("GET", seed, "")
		f.Add("PUT", seed, `{"source":"rtsp://127.0.0.1/x"}`)
	}
	s, _ := newTestServer(f)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || method == "" || strings.ContainsAny(method, " \r\n/:") {
			return
		}
		if _, err := http.NewRequest(method, "http://x"+target, nil); err != nil {
			return
		}
		var w *httptest.ResponseRecorder
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s %s: panic: %v", method, target, r)
				}
			}()
			w = do(h, method, target, body)
		}()
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		if w.Code >= 400 && strings.HasPrefix(target, "/api/") {
			var e apiError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil && !errors.Is(err, io.EOF) && w.Code != 405 {
				t.Fatalf("%s %s: %d with a non-JSON body %q", method, target, w.Code, w.Body)
			}
		}
	})
}
