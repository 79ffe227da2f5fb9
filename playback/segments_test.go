package playback

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// segmentServer serves one fragment (number 1, 100 000 bytes at offset 10
// of a file, after a 10-byte init segment) over real HTTP on loopback and
// records every file opened.
func segmentServer(t *testing.T) (base string, file []byte, opened func() []string) {
	t.Helper()
	file = make([]byte, 10+100_000+7)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range file {
		file[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "chunk.vch")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	fs := &fakeStore{file: path}
	fs.add(frags(1, 1, 1, t0, 2*time.Second)...)
	fs.frags[0].Size = 100_000
	var mu sync.Mutex
	var paths []string
	s := New(Config{Store: fs, Logger: testLogger(), Open: func(name string) (*os.File, error) {
		mu.Lock()
		paths = append(paths, name)
		mu.Unlock()
		return os.Open(name)
	}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hls/cam/init/{file}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ServeInit(w, r, "cam", r.PathValue("file")); err != nil {
			http.Error(w, err.Error(), statusOf(err))
		}
	})
	mux.HandleFunc("GET /hls/cam/seg/{file}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ServeSegment(w, r, "cam", r.PathValue("file")); err != nil {
			http.Error(w, err.Error(), statusOf(err))
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, file, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// statusOf is a minimal stand-in for web's error mapping.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrUnsatisfied):
		return http.StatusRequestedRangeNotSatisfiable
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoMedia):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func TestSegmentRanges(t *testing.T) {
	base, file, opened := segmentServer(t)
	seg := file[10 : 10+100_000]
	cases := []struct {
		name, rng    string
		status       int
		body         []byte
		contentRange string
	}{
		{"whole", "", 200, seg, ""},
		{"first bytes", "bytes=0-99", 206, seg[:100], "bytes 0-99/100000"},
		{"middle", "bytes=50000-50999", 206, seg[50000:51000], "bytes 50000-50999/100000"},
		{"open ended", "bytes=99990-", 206, seg[99990:], "bytes 99990-99999/100000"},
		{"suffix", "bytes=-100", 206, seg[len(seg)-100:], "bytes 99900-99999/100000"},
		{"suffix longer than the segment", "bytes=-200000", 206, seg, "bytes 0-99999/100000"},
		{"end past the size", "bytes=99000-200000", 206, seg[99000:], "bytes 99000-99999/100000"},
		{"several ranges: the whole", "bytes=0-1,5-6", 200, seg, ""},
		{"unparseable: the whole", "bytes=x-y", 200, seg, ""},
		{"unsatisfiable", "bytes=100000-", 416, nil, "bytes */100000"},
		{"empty suffix", "bytes=-0", 416, nil, "bytes */100000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/hls/cam/seg/1.m4s", nil)
			if c.rng != "" {
				req.Header.Set("Range", c.rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Range") != c.contentRange {
				t.Fatalf("status %d, Content-Range %q; want %d %q", resp.StatusCode, resp.Header.Get("Content-Range"), c.status, c.contentRange)
			}
			if c.status == 416 {
				return
			}
			if !bytes.Equal(body, c.body) {
				t.Fatalf("body of %d bytes differs from the %d expected", len(body), len(c.body))
			}
			h := resp.Header
			if h.Get("Content-Type") != "video/iso.segment" || h.Get("Cache-Control") != immutable ||
				h.Get("ETag") == "" || h.Get("Last-Modified") == "" || h.Get("Accept-Ranges") != "bytes" {
				t.Errorf("headers %v", h)
			}
		})
	}

	// Conditional requests.
	resp, err := http.Get(base + "/hls/cam/seg/1.m4s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	for _, c := range []struct {
		hdr, val string
		status   int
	}{
		{"If-None-Match", etag, 304},
		{"If-None-Match", `"other", ` + etag, 304},
		{"If-None-Match", `W/` + etag, 304},
		{"If-None-Match", `"other"`, 200},
		{"If-Modified-Since", t0.Add(time.Hour).Format(http.TimeFormat), 304},
		{"If-Modified-Since", t0.Add(-time.Hour).Format(http.TimeFormat), 200},
	} {
		req, _ := http.NewRequest("GET", base+"/hls/cam/seg/1.m4s", nil)
		req.Header.Set(c.hdr, c.val)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s: %d, want %d", c.hdr, c.val, resp.StatusCode, c.status)
		}
	}
	// If-Range with another validator: the whole segment.
	req, _ := http.NewRequest("GET", base+"/hls/cam/seg/1.m4s", nil)
	req.Header.Set("Range", "bytes=0-9")
	req.Header.Set("If-Range", `"stale"`)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("If-Range stale: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	// The init segment.
	resp, err = http.Get(base + "/hls/cam/init/1.mp4")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, file[:10]) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("init: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}

	// Bad names and numbers.
	for target, status := range map[string]int{
		"/hls/cam/seg/2.m4s": 404, "/hls/cam/seg/1.mp4": 404, "/hls/cam/seg/x.m4s": 400, "/hls/cam/seg/.m4s": 400,
		"/hls/cam/seg/-1.m4s": 400, "/hls/cam/seg/99999999999999999999999.m4s": 400, "/hls/cam/init/1.m4s": 404,
	} {
		resp, err := http.Get(base + target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", target, resp.StatusCode, status)
		}
	}
	for _, p := range opened() {
		if !strings.HasSuffix(p, "chunk.vch") {
			t.Errorf("opened %s", p)
		}
	}
}

// A chunk file deleted by retention after the lookup is a 404, not a 500.
func TestSegmentFileGone(t *testing.T) {
	fs := &fakeStore{file: filepath.Join(t.TempDir(), "gone.vch")}
	fs.add(frags(1, 1, 1, t0, 2*time.Second)...)
	s := New(Config{Store: fs, Logger: testLogger()})
	_, err := get(t, func(w http.ResponseWriter, r *http.Request) error { return s.ServeSegment(w, r, "cam", "1.m4s") }, "/hls/cam/seg/1.m4s")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%v, want ErrNotFound", err)
	}
}
