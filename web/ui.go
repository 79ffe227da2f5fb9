package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
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

// uiFile is one embedded asset with its precomputed headers.
type uiFile struct {
	data        []byte
	etag        string
	contentType string
}

// uiAssets serves the embedded UI under /ui/: named files only (no
// directory listings), each with a strong ETag from its content and
// Cache-Control no-cache, so browsers revalidate cheaply and an upgraded
// vigil serves its own UI at once.
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
		sum := sha256.Sum256(data)
		ctype := uiTypes[path.Ext(name)]
		if ctype == "" {
			ctype = mime.TypeByExtension(path.Ext(name))
		}
		if ctype == "" {
			ctype = "text/plain; charset=utf-8"
		}
		assets[strings.TrimPrefix(name, root+"/")] = uiFile{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: ctype}
		return nil
	})
	return assets, err
}

func (a uiAssets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/")
	if name == "" {
		http.Redirect(w, r, "/ui/player.html", http.StatusFound)
		return
	}
	f, ok := a[name]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such UI file: "+r.URL.Path)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.contentType, "text/html") {
		h.Set("Content-Security-Policy", uiCSP)
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// routeUI mounts the browser UI at /ui/.
func (s *Server) routeUI(mux *http.ServeMux) {
	assets, err := newUIAssets(uiFS, "ui")
	if err != nil {
		// Reading an embedded file system only fails if the binary is broken.
		panic("web: embedded UI: " + err.Error())
	}
	mux.Handle("GET /ui/", assets)
}
