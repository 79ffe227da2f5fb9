package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// uiFS holds the browser UI: static files only, no build step. The hls.js
// under ui/vendor is vendored by scripts/vendor-ui.sh.
//
//go:embed ui
var uiFS embed.FS

// uiCSP keeps the UI's pages to vigil's own origin: hls.js runs its worker
// from a blob: URL and feeds the video element through a MediaSource (blob:).
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

// uiTypes fixes the types the UI depends on (scripts are refused under
// nosniff unless typed as JavaScript), whatever the host's mime.types says.
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// uiCompressible are the extensions worth gzipping; images and media are
// compressed already.
var uiCompressible = map[string]bool{".html": true, ".js": true, ".css": true, ".json": true, ".svg": true, ".txt": true}

// uiIndex is the page /ui/ serves; without it, /ui/ redirects to uiFallback.
const (
	uiIndex    = "index.html"
	uiFallback = "/ui/player.html"
)

// uiFile is one embedded asset with its precomputed headers.
type uiFile struct {
	data        []byte
	etag        string
	contentType string
	// gz is data gzipped, with its own ETag; nil when gzip does not make
	// the file smaller or the type does not compress.
	gz     []byte
	gzETag string
}

// uiAssets serves the embedded UI under /ui/: named files only (no
// directory listings), each with a strong ETag from its content and
// Cache-Control no-cache, so browsers revalidate cheaply and an upgraded
// vigil serves its own UI at once. Text assets are gzipped once, at load,
// and sent compressed to clients that accept gzip.
type uiAssets map[string]uiFile

// newUIAssets loads every file under root in fsys, named relative to root.
func newUIAssets(fsys fs.FS, root string) (uiAssets, error) {
	assets := uiAssets{}
	err := fs.WalkDir(fsys, root, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ext := path.Ext(name)
		ctype := uiTypes[ext]
		if ctype == "" {
			ctype = mime.TypeByExtension(ext)
		}
		if ctype == "" {
			ctype = "text/plain; charset=utf-8"
		}
		sum := sha256.Sum256(data)
		tag := hex.EncodeToString(sum[:16])
		f := uiFile{data: data, etag: `"` + tag + `"`, contentType: ctype}
		if uiCompressible[ext] {
			if f.gz, err = gzipBest(data); err != nil {
				return err
			}
			if len(f.gz) < len(data) {
				f.gzETag = `"` + tag + `-gz"`
			} else {
				f.gz = nil
			}
		}
		assets[strings.TrimPrefix(name, root+"/")] = f
		return nil
	})
	return assets, err
}

// gzipBest compresses data at gzip's best compression.
func gzipBest(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (a uiAssets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/")
	if name == "" {
		if _, ok := a[uiIndex]; !ok {
			http.Redirect(w, r, uiFallback, http.StatusFound)
			return
		}
		name = uiIndex
	}
	f, ok := a[name]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such UI file: "+r.URL.Path)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.contentType, "text/html") {
		h.Set("Content-Security-Policy", uiCSP)
	}
	body, etag := f.data, f.etag
	if f.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = f.gz, f.gzETag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	// ServeContent leaves Content-Length out of a full response with a
	// Content-Encoding (it allows for writers that compress on the fly);
	// these bytes are final. It sets its own for ranges and drops it from
	// 304s and errors.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding header values (RFC 9110
// §12.5.3) allow a gzip response: gzip (or x-gzip), else "*", listed with a
// q-value above 0. An unparsable q-value counts as 0.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			q := qValue(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// qValue is the weight in a coding's parameters ("q=0.5"): 1 when absent,
// 0 when malformed.
func qValue(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// routeUI mounts the browser UI at /ui/, and sends / there.
func (s *Server) routeUI(mux *http.ServeMux) {
	assets, err := newUIAssets(uiFS, "ui")
	if err != nil {
		// Reading an embedded file system only fails if the binary is broken.
		panic("web: embedded UI: " + err.Error())
	}
	mux.Handle("GET /ui/", assets)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
}
