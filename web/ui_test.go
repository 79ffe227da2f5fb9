package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
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
		{"/ui/", 200, "text/html; charset=utf-8"},
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
	if a, b := do(h, "GET", "/ui/", ""), do(h, "GET", "/ui/index.html", ""); a.Body.String() != b.Body.String() || a.Header().Get("ETag") != b.Header().Get("ETag") {
		t.Error("/ui/ is not index.html")
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

// acceptCases are Accept-Encoding headers and whether they allow gzip;
// they seed FuzzAcceptsGzip too.
var acceptCases = []struct {
	header string
	want   bool
}{
	{"", false},
	{"gzip", true},
	{"GZip", true},
	{"x-gzip", true},
	{"gzip, deflate, br, zstd", true},
	{"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
	{"gzip;q=0", false},
	{"gzip; q=0.000", false},
	{"gzip;Q=0", false},
	{"gzip;q=0.001", true},
	{"gzip;q=bogus", false},
	{"gzip;q=2", false},
	{"*", true},
	{"*;q=0", false},
	{"*, gzip;q=0", false},
	{"gzip;q=0, *", false},
	{"identity", false},
	{"deflate, br", false},
	{"gzipped", false},
	{" gzip ; q=0.5 ", true},
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range acceptCases {
		if got := acceptsGzip([]string{c.header}); got != c.want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", c.header, got, c.want)
		}
	}
	// Several header lines are one list.
	if !acceptsGzip([]string{"br", "gzip"}) || acceptsGzip([]string{"*", "gzip;q=0"}) {
		t.Error("multiple Accept-Encoding lines")
	}
}

// get requests target from h with the given headers (name, value pairs).
func get(h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Text assets go out gzipped to clients that accept gzip, as a variant with
// its own ETag that decodes to the embedded bytes; others get the bytes as
// they are. Both variants revalidate with 304 and serve ranges.
func TestUIGzip(t *testing.T) {
	s, _ := newTestServer(t)
	h := s.Handler()
	assets, err := newUIAssets(uiFS, "ui")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"index.html", "player.js", "player.css", "vendor/hls.min.js"} {
		target := "/ui/" + name
		raw := assets[name].data

		w := get(h, "GET", target, "Accept-Encoding", "gzip, deflate, br")
		hd := w.Header()
		if w.Code != 200 || hd.Get("Content-Encoding") != "gzip" || hd.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("%s with gzip: status %d, headers %v", target, w.Code, hd)
		}
		gzTag := hd.Get("ETag")
		if !strings.HasSuffix(gzTag, `-gz"`) || hd.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
			t.Errorf("%s gzip: ETag %s, Content-Length %s for %d bytes", target, gzTag, hd.Get("Content-Length"), w.Body.Len())
		}
		zr, err := gzip.NewReader(bytes.NewReader(w.Body.Bytes()))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		dec, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(dec, raw) {
			t.Fatalf("%s: gzip body decodes to %d bytes (%v), want the %d embedded", target, len(dec), err, len(raw))
		}
		if w.Body.Len() >= len(raw) {
			t.Errorf("%s: gzip %d bytes, raw %d", target, w.Body.Len(), len(raw))
		}
		t.Logf("%s: %d bytes, %d gzipped", name, len(raw), w.Body.Len())

		for _, ae := range []string{"", "identity", "gzip;q=0", "br, *;q=0"} {
			w := get(h, "GET", target, "Accept-Encoding", ae)
			hd := w.Header()
			if w.Code != 200 || hd.Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), raw) || hd.Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s, Accept-Encoding %q: status %d, %d bytes, headers %v", target, ae, w.Code, w.Body.Len(), hd)
			}
			if tag := hd.Get("ETag"); tag == gzTag || tag != assets[name].etag {
				t.Errorf("%s, Accept-Encoding %q: ETag %s (gzip's is %s)", target, ae, tag, gzTag)
			}
		}

		// Revalidation: each variant's own ETag is 304; the other's is not.
		if w := get(h, "GET", target, "Accept-Encoding", "gzip", "If-None-Match", gzTag); w.Code != 304 || w.Body.Len() != 0 {
			t.Errorf("%s gzip If-None-Match: status %d", target, w.Code)
		}
		if w := get(h, "GET", target, "If-None-Match", assets[name].etag); w.Code != 304 {
			t.Errorf("%s If-None-Match: status %d", target, w.Code)
		}
		if w := get(h, "GET", target, "Accept-Encoding", "gzip", "If-None-Match", assets[name].etag); w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s gzip with the identity ETag: status %d, want the gzip variant", target, w.Code)
		}
		if w := get(h, "GET", target, "If-None-Match", gzTag); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), raw) {
			t.Errorf("%s identity with the gzip ETag: status %d, want the raw bytes", target, w.Code)
		}

		// Ranges address the bytes of the variant sent.
		gz := assets[name].gz
		if w := get(h, "GET", target, "Accept-Encoding", "gzip", "Range", "bytes=3-12"); w.Code != 206 || !bytes.Equal(w.Body.Bytes(), gz[3:13]) {
			t.Errorf("%s gzip range: status %d, %q", target, w.Code, w.Body.Bytes())
		}
		if w := get(h, "GET", target, "Range", "bytes=3-12"); w.Code != 206 || !bytes.Equal(w.Body.Bytes(), raw[3:13]) {
			t.Errorf("%s range: status %d, %q", target, w.Code, w.Body.Bytes())
		}
		if w := get(h, "GET", target, "Accept-Encoding", "gzip", "Range", "bytes=99999999-"); w.Code != 416 || w.Header().Get("Content-Encoding") != "" ||
			w.Header().Get("Content-Length") != "" && w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
			t.Errorf("%s gzip, unsatisfiable range: status %d, headers %v", target, w.Code, w.Header())
		}
		if w := get(h, "HEAD", target, "Accept-Encoding", "gzip"); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(gz)) {
			t.Errorf("%s HEAD gzip: status %d, Content-Length %s, want %d", target, w.Code, w.Header().Get("Content-Length"), len(gz))
		}
	}
}

// Only text types are compressed, and only when that makes them smaller:
// otherwise the response does not vary with Accept-Encoding.
func TestUIGzipOnlyWhenSmaller(t *testing.T) {
	fsys := fstest.MapFS{
		"ui/big.txt":   {Data: bytes.Repeat([]byte("vigil "), 1000)},
		"ui/tiny.css":  {Data: []byte("a{}")},
		"ui/photo.png": {Data: bytes.Repeat([]byte{0}, 1000)},
		"ui/data.json": {Data: []byte(`{"streams":["` + strings.Repeat("door", 100) + `"]}`)},
	}
	assets, err := newUIAssets(fsys, "ui")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"big.txt": true, "tiny.css": false, "photo.png": false, "data.json": true} {
		w := get(assets, "GET", "/ui/"+name, "Accept-Encoding", "gzip")
		gzipped := w.Header().Get("Content-Encoding") == "gzip"
		varies := w.Header().Get("Vary") == "Accept-Encoding"
		if w.Code != 200 || gzipped != want || varies != want {
			t.Errorf("%s: status %d, gzipped %v, Vary %v; want gzip %v", name, w.Code, gzipped, varies, want)
		}
		if !want && !bytes.Equal(w.Body.Bytes(), fsys["ui/"+name].Data) {
			t.Errorf("%s: body changed", name)
		}
	}
}

// /ui/ is index.html when there is one, else a redirect to the player.
func TestUIIndex(t *testing.T) {
	with, err := newUIAssets(fstest.MapFS{"ui/index.html": {Data: []byte("<!doctype html><title>vigil</title>")}, "ui/player.html": {Data: []byte("p")}}, "ui")
	if err != nil {
		t.Fatal(err)
	}
	w := get(with, "GET", "/ui/")
	if w.Code != 200 || w.Body.String() != "<!doctype html><title>vigil</title>" ||
		w.Header().Get("Content-Type") != "text/html; charset=utf-8" || w.Header().Get("Content-Security-Policy") != uiCSP {
		t.Errorf("/ui/ with index.html: status %d, headers %v, body %q", w.Code, w.Header(), w.Body)
	}
	without, err := newUIAssets(fstest.MapFS{"ui/player.html": {Data: []byte("p")}}, "ui")
	if err != nil {
		t.Fatal(err)
	}
	if w := get(without, "GET", "/ui/"); w.Code != 302 || w.Header().Get("Location") != "/ui/player.html" {
		t.Errorf("/ui/ without index.html: status %d, Location %q", w.Code, w.Header().Get("Location"))
	}
}

// / sends a browser to the UI; other unknown paths are a JSON 404.
func TestRootRedirectsToUI(t *testing.T) {
	s, _ := newTestServer(t)
	h := s.Handler()
	for _, m := range []string{"GET", "HEAD"} {
		if w := do(h, m, "/", ""); w.Code != 302 || w.Header().Get("Location") != "/ui/" {
			t.Errorf("%s /: status %d, Location %q", m, w.Code, w.Header().Get("Location"))
		}
	}
	if w := do(h, "GET", "/ui", ""); w.Code/100 != 3 || w.Header().Get("Location") != "/ui/" { // the mux adds the slash
		t.Errorf("GET /ui: status %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	for _, target := range []string{"/nosuch", "/index.html", "/favicon.ico", "/hls"} {
		w := do(h, "GET", target, "")
		var e apiError
		if w.Code != 404 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != "not_found" {
			t.Errorf("GET %s: status %d, body %q", target, w.Code, w.Body)
		}
	}
}

// FuzzAcceptsGzip: any Accept-Encoding header parses without panicking, and
// an explicit gzip;q=0 always wins.
func FuzzAcceptsGzip(f *testing.F) {
	for _, c := range acceptCases {
		f.Add(c.header)
	}
	f.Fuzz(func(t *testing.T, header string) {
		acceptsGzip([]string{header})
		if acceptsGzip([]string{header, "gzip;q=0"}) && !strings.Contains(strings.ToLower(header), "gzip") {
			t.Fatalf("%q with gzip;q=0 accepts gzip", header)
		}
	})
}
