package playback

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"vigil/fragments"
)

// immutable is the Cache-Control of init segments and fragments: a URL
// names the same bytes forever (fragment numbers are never reused).
const immutable = "public, max-age=31536000, immutable"

// ServeInit serves GET /hls/{stream}/init/{number}.mp4: the init segment
// (ftyp+moov) of the run of fragment number. file is the last path
// segment.
func (s *Server) ServeInit(w http.ResponseWriter, r *http.Request, stream, file string) error {
	n, err := parseFileNumber(file, ".mp4")
	if err != nil {
		return err
	}
	f, loc, err := s.locate(stream, n)
	if err != nil {
		return err
	}
	return s.serveBytes(w, r, part{
		path: loc.Path, offset: loc.InitOffset, length: loc.InitLength, contentType: "video/mp4",
		etag:     `"i` + strconv.FormatUint(f.Run, 10) + "-" + strconv.FormatInt(loc.InitLength, 10) + `"`,
		modified: f.ServerTime.Add(f.Duration),
	})
}

// ServeSegment serves GET /hls/{stream}/seg/{number}.m4s: fragment number
// (moof+mdat). file is the last path segment.
func (s *Server) ServeSegment(w http.ResponseWriter, r *http.Request, stream, file string) error {
	n, err := parseFileNumber(file, ".m4s")
	if err != nil {
		return err
	}
	f, loc, err := s.locate(stream, n)
	if err != nil {
		return err
	}
	return s.serveBytes(w, r, part{
		path: loc.Path, offset: loc.Offset, length: loc.Length, contentType: "video/iso.segment",
		etag:     `"` + strconv.FormatUint(n, 10) + "-" + strconv.FormatUint(uint64(f.Checksum), 16) + `"`,
		modified: f.ServerTime.Add(f.Duration),
	})
}

// parseFileNumber parses "{number}{ext}".
func parseFileNumber(file, ext string) (uint64, error) {
	digits, ok := strings.CutSuffix(file, ext)
	if !ok {
		return 0, fmt.Errorf("%w: %q: want {number}%s", ErrNotFound, truncate(file), ext)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: want {number}%s", ErrBadRequest, truncate(file), ext)
	}
	return n, nil
}

func (s *Server) locate(stream string, n uint64) (fragments.Fragment, fragments.Location, error) {
	f, loc, err := s.cfg.Store.Locate(stream, n)
	if errors.Is(err, fragments.ErrNotFound) {
		return f, loc, fmt.Errorf("%w: fragment %d of %s", ErrNotFound, n, stream)
	}
	if err != nil {
		return f, loc, fmt.Errorf("fragment %d of %s: %w", n, stream, err)
	}
	return f, loc, nil
}

// part is a byte range of a chunk file served as a resource of its own.
type part struct {
	path              string
	offset, length    int64
	contentType, etag string
	modified          time.Time
}

// serveBytes serves p with conditional and single range requests. The
// body goes from the file to the socket by sendfile: io.Copy into the
// response with an *os.File inside an *io.LimitedReader.
func (s *Server) serveBytes(w http.ResponseWriter, r *http.Request, p part) error {
	h := w.Header()
	if notModified(r, p.etag, p.modified) {
		h.Set("ETag", p.etag)
		h.Set("Cache-Control", immutable)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	file, err := s.open(p.path, p.offset+p.length)
	if err != nil {
		return err
	}
	defer file.Close()
	start, length, partial, err := parseRange(r.Header.Get("Range"), p.length)
	if ir := r.Header.Get("If-Range"); ir != "" && ir != p.etag {
		start, length, partial, err = 0, p.length, false, nil // changed since: the whole resource
	}
	if err != nil {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(p.length, 10))
		return err
	}
	if _, err := file.Seek(p.offset+start, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", p.path, err)
	}
	h.Set("Content-Type", p.contentType)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", p.etag)
	h.Set("Last-Modified", p.modified.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", immutable)
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(p.length, 10))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, io.LimitReader(file, length)); err != nil {
		return fmt.Errorf("%w: sending %s: %w", ErrAborted, p.path, err)
	}
	return nil
}

// open opens a chunk file through Config.Open and checks it holds at least
// need bytes. A file retention deleted meanwhile is ErrNotFound.
func (s *Server) open(path string, need int64) (*os.File, error) {
	file, err := s.cfg.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: the recording was deleted", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open chunk: %w", err)
	}
	if fi, err := file.Stat(); err != nil || fi.Size() < need {
		file.Close()
		return nil, fmt.Errorf("%w: the recording was truncated or deleted", ErrNotFound)
	}
	return file, nil
}

// notModified evaluates If-None-Match, or without it If-Modified-Since.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !modified.Truncate(time.Second).After(t)
	}
	return false
}
