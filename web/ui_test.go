package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestUIServesEmbeddedFiles(t *testing.T) {
	s, _ := newTestServer(t)
	h := s.Handler()
	cases := []struct {
		target string
		status int
		ctype  string
	}{
		{"/ui/player.html", 200, "text/html; charset=utf-8"},
		{"/ui/player.html?stream=cam1&start=2026-11-26T10:00:00Z", 200, "text/html; charset=utf-8"},
		{"/ui/player.js", 200, "text/javascript; charset=utf-8"},
		{"/ui/player.css", 200, "text/css; charset=utf-8"},
		{"/ui/vendor/hls.min.js", 200, "text/javascript; charset=utf-8"},
		{"/ui/", 302, ""},
		{"/ui/vendor/", 404, "application/json"},
		{"/ui/vendor", 404, "application/json"},
		{"/ui/nosuch.js", 404, "application/json"},
		{"/ui/../go.mod", 400, "application/json"},
	}
	for _, c := range cases {
		w := do(h, "GET", c.target, "")
		if w.Code != c.status {
			t.Errorf("GET %s: status %d, want %d", c.target, w.Code, c.status)
			continue
		}
		if got := w.Header().Get("Content-Type"); c.ctype != "" && got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.target, got, c.ctype)
		}
	}
	if loc := do(h, "GET", "/ui/", "").Header().Get("Location"); loc != "/ui/player.html" {
		t.Errorf("/ui/ redirects to %q", loc)
	}
	if w := do(h, "HEAD", "/ui/player.js", ""); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, %d body bytes", w.Code, w.Body.Len())
	}
}

func TestUIHeaders(t *testing.T) {
	s, _ := newTestServer(t)
	h := s.Handler()
	w := do(h, "GET", "/ui/player.html", "")
	hd := w.Header()
	if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("player.html CSP %q", csp)
	}
	if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Cache-Control") != "no-cache" {
		t.Errorf("headers %v", hd)
	}
	etag := hd.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	r := httptest.NewRequest("GET", "/ui/player.html", nil)
	r.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	if h.ServeHTTP(w, r); w.Code != 304 {
		t.Errorf("If-None-Match with the ETag: status %d, want 304", w.Code)
	}
}

// The player page loads only files vigil embeds: nothing external, nothing
// missing.
func TestUIPlayerReferencesEmbeddedFilesOnly(t *testing.T) {
	assets, err := newUIAssets(uiFS, "ui")
	if err != nil {
		t.Fatal(err)
	}
	html := string(assets["player.html"].data)
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 3 {
		t.Fatalf("found %d references in player.html", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," { // no favicon request
			continue
		}
		if strings.Contains(ref, ":") || strings.HasPrefix(ref, "/") {
			t.Errorf("player.html references %q: only relative, embedded files", ref)
			continue
		}
		if _, ok := assets[ref]; !ok {
			t.Errorf("player.html references %q, which is not embedded", ref)
		}
	}
}

// The vendored hls.js is the file scripts/vendor-ui.sh recorded.
func TestUIVendoredHLSMatchesVersionNote(t *testing.T) {
	assets, err := newUIAssets(uiFS, "ui")
	if err != nil {
		t.Fatal(err)
	}
	note := string(assets["vendor/VERSION"].data)
	m := regexp.MustCompile(`(?m)^sha256 hls.min.js: ([0-9a-f]{64})$`).FindStringSubmatch(note)
	if m == nil {
		t.Fatalf("vendor/VERSION has no sha256 line:\n%s", note)
	}
	sum := sha256.Sum256(assets["vendor/hls.min.js"].data)
	if got := hex.EncodeToString(sum[:]); got != m[1] {
		t.Errorf("vendor/hls.min.js sha256 %s, VERSION says %s: re-run scripts/vendor-ui.sh", got, m[1])
	}
	if !strings.HasPrefix(note, "hls.js ") || assets["vendor/hls.js.LICENSE"].data == nil {
		t.Error("vendor/VERSION names no hls.js version, or the license is missing")
	}
}
