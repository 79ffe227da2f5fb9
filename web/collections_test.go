package web

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"vigil/detect"
	"vigil/streams"
)

// checkedFaces is a real collections store that fails the test if it is
// ever handed an id that is not a valid collection id.
type checkedFaces struct {
	*detect.Collections
	t testing.TB
}

func (c checkedFaces) check(id string) {
	if err := detect.ValidateID(id); err != nil {
		c.t.Errorf("collections reached with invalid id %q", id)
	}
}

func (c checkedFaces) Create(id string, th float64) (detect.Collection, error) {
	c.check(id)
	return c.Collections.Create(id, th)
}

func (c checkedFaces) SetThreshold(id string, th float64) (detect.Collection, error) {
	c.check(id)
	return c.Collections.SetThreshold(id, th)
}

func (c checkedFaces) Get(id string) (detect.Collection, error) {
	c.check(id)
	return c.Collections.Get(id)
}

func (c checkedFaces) Delete(id string) error {
	c.check(id)
	return c.Collections.Delete(id)
}

func (c checkedFaces) IndexFaces(id string, img []byte, o detect.IndexOptions) ([]detect.IndexedFace, []detect.Unindexed, error) {
	c.check(id)
	return c.Collections.IndexFaces(id, img, o)
}

func (c checkedFaces) Faces(id string) ([]detect.IndexedFace, error) {
	c.check(id)
	return c.Collections.Faces(id)
}

func (c checkedFaces) DeleteFace(id, faceID string) error {
	c.check(id)
	return c.Collections.DeleteFace(id, faceID)
}

func (c checkedFaces) FaceCrop(id, faceID string) ([]byte, error) {
	c.check(id)
	return c.Collections.FaceCrop(id, faceID)
}

func (c checkedFaces) Search(id string, img []byte, max int) ([]detect.SearchResult, error) {
	c.check(id)
	return c.Collections.Search(id, img, max)
}

// openFaces opens a real collections file in a temporary directory with
// the default detector and rec (LBPH if nil).
func openFaces(t testing.TB, path string, rec detect.Recognizer) *detect.Collections {
	t.Helper()
	det, err := detect.NewDetector(detect.DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil {
		rec = detect.NewLBPH()
	}
	c, err := detect.OpenCollections(path, det, rec)
	if err != nil {
		det.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		det.Close()
	})
	return c
}

func newFacesServer(t testing.TB, c *detect.Collections) http.Handler {
	reg := &fakeRegistry{t: t, m: map[string]streams.Stream{}}
	return New(Config{Registry: reg, Store: fakeStore{t}, Ingest: fakeIngest{}, Faces: checkedFaces{c, t}}).Handler()
}

var gocvDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "gocv.io/x/gocv").Output()
	return strings.TrimSpace(string(out)), err
})

// gocvFile returns a file of the gocv module: its AT&T faces and photos.
func gocvFile(t testing.TB, rel string) []byte {
	t.Helper()
	dir, err := gocvDir()
	if err != nil {
		t.Fatalf("go list gocv: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flatPNG is a grey w×h PNG: an image without a face.
func flatPNG(t testing.TB, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a PNG header claiming w×h pixels, and no pixels.
func hugePNG(w, h uint32) []byte {
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	copy(ihdr[12:], []byte{8, 2, 0, 0, 0})
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// upload is a multipart/form-data body: an image field (as a file, unless
// nil) and plain fields, given as name, value pairs.
type upload struct {
	image  []byte
	fields []string
}

func (u upload) encode(t testing.TB) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(u.fields); i += 2 {
		mw.WriteField(u.fields[i], u.fields[i+1])
	}
	if u.image != nil {
		fw, err := mw.CreateFormFile("image", "upload")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(u.image)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// doBody sends a request as a server reads it; chunked hides the body's
// length, as a client streaming an upload does.
func doBody(h http.Handler, method, target string, body []byte, ctype string, chunked bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/", bytes.NewReader(body))
	req.Method = method
	req.RequestURI = target
	if u, err := url.ParseRequestURI(target); err == nil {
		req.URL = u
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if chunked {
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body)))
		req.ContentLength = -1
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// checkError checks a response's status and, for an error, its JSON body.
func checkError(t *testing.T, what string, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("%s: status %d, want %d: %s", what, w.Code, status, w.Body)
		return
	}
	if status >= 400 {
		var e apiError
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != code || e.Error == "" {
			t.Errorf("%s: body %s, want code %q", what, w.Body, code)
		}
	}
}

type collectionsCase struct {
	method, target string
	// body is sent as is unless form is set.
	body    string
	form    *upload
	chunked bool
	status  int
	code    string
	check   func(t *testing.T, body []byte)
}

// collectionsCases walk the API in order against one store: "{face}" in
// a target is the face id of the last face enrolled.
func collectionsCases(t testing.TB) []collectionsCase {
	face := gocvFile(t, "images/face.jpg")
	noFace := flatPNG(t, 320, 240)
	noise := randomBytes(4096)
	return []collectionsCase{
		{method: "GET", target: "/api/v1/collections", status: 200, check: wantCollections()},
		{method: "PUT", target: "/api/v1/collections/staff", body: "", status: 201, check: wantCollection("staff", detect.DefaultThreshold, 0)},
		{method: "PUT", target: "/api/v1/collections/staff", body: `{"threshold":0.7}`, status: 200, check: wantCollection("staff", 0.7, 0)},
		{method: "PUT", target: "/api/v1/collections/staff", body: `{}`, status: 200, check: wantCollection("staff", detect.DefaultThreshold, 0)},
		{method: "PUT", target: "/api/v1/collections/other", body: `{"threshold":1}`, status: 201, check: wantCollection("other", 1, 0)},
		{method: "PUT", target: "/api/v1/collections/bad", body: `{"threshold":0}`, status: 400, code: "invalid_threshold"},
		{method: "PUT", target: "/api/v1/collections/bad", body: `{"threshold":1.5}`, status: 400, code: "invalid_threshold"},
		{method: "PUT", target: "/api/v1/collections/bad", body: `{"threshold":-0.2}`, status: 400, code: "invalid_threshold"},
		{method: "PUT", target: "/api/v1/collections/bad", body: `{"threshold":"high"}`, status: 400, code: "bad_request"},
		{method: "PUT", target: "/api/v1/collections/bad", body: `{"thresh":0.5}`, status: 400, code: "bad_request"},
		{method: "GET", target: "/api/v1/collections/bad", status: 404, code: "collection_not_found"},
		{method: "GET", target: "/api/v1/collections/staff", status: 200, check: wantCollection("staff", detect.DefaultThreshold, 0)},
		{method: "GET", target: "/api/v1/collections/..", status: 400, code: "invalid_path"},
		{method: "PUT", target: "/api/v1/collections/%2e%2E", body: "{}", status: 400, code: "invalid_path"},
		{method: "GET", target: "/api/v1/collections/..%2fstaff/faces", status: 400, code: "invalid_path"},
		{method: "PUT", target: "/api/v1/collections/" + strings.Repeat("x", 129), body: "{}", status: 400, code: "invalid_id"},
		{method: "PUT", target: "/api/v1/collections/bad%20id", body: "{}", status: 400, code: "invalid_id"},
		{method: "POST", target: "/api/v1/collections/caf%C3%A9/faces", form: &upload{image: face}, status: 400, code: "invalid_id"},
		{method: "POST", target: "/api/v1/collections/staff", status: 404, code: "not_found"},
		{method: "POST", target: "/api/v1/collections/bad%3F", status: 400, code: "invalid_id"},
		{method: "GET", target: "/api/v1/collections/staff/nothing", status: 404, code: "not_found"},
		{method: "GET", target: "/api/v1/collections/staff/faces", status: 200, check: wantFaces(0, "")},

		// Enrolment and its bad input.
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: face, fields: []string{"external_id", "author", "keep_crop", "true", "largest", "true"}},
			status: 201, check: wantFaces(1, "author")},
		{method: "GET", target: "/api/v1/collections/staff/faces", status: 200, check: wantFaces(1, "author")},
		{method: "GET", target: "/api/v1/collections/staff", status: 200, check: wantCollection("staff", detect.DefaultThreshold, 1)},
		{method: "GET", target: "/api/v1/collections/staff/faces/{face}/crop.jpg", status: 200, check: wantJPEG},
		{method: "GET", target: "/api/v1/collections/staff/faces/f_nosuch/crop.jpg", status: 404, code: "face_not_found"},
		{method: "GET", target: "/api/v1/collections/nosuch/faces/{face}/crop.jpg", status: 404, code: "collection_not_found"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: noise}, status: 400, code: "not_an_image"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: []byte{}}, status: 400, code: "not_an_image"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: noFace}, status: 422, code: "no_face",
			check: func(t *testing.T, b []byte) {
				if !strings.Contains(string(b), "no face found") {
					t.Errorf("no-face message %s does not say so", b)
				}
			}},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: hugePNG(20000, 20000)}, status: 413, code: "too_large"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: randomBytes(11 << 20)}, status: 413, code: "too_large"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: randomBytes(11 << 20)}, chunked: true, status: 413, code: "too_large"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: randomBytes(maxImage + 1)}, status: 413, code: "too_large"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{fields: []string{"external_id", "x"}}, status: 400, code: "missing_image"},
		{method: "POST", target: "/api/v1/collections/staff/faces", body: "image=abc", status: 400, code: "bad_request"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: face, fields: []string{"largest", "maybe"}}, status: 400, code: "bad_request"},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: face, fields: []string{"external_id", "a\x00b"}}, status: 400, code: "invalid_external_id"},
		{method: "POST", target: "/api/v1/collections/nosuch/faces", form: &upload{image: face}, status: 404, code: "collection_not_found"},
		{method: "GET", target: "/api/v1/collections/nosuch/faces", status: 404, code: "collection_not_found"},

		// Search.
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{image: face, fields: []string{"max", "3"}}, status: 200, check: wantMatch("staff", "author")},
		{method: "POST", target: "/api/v1/collections/other/search", form: &upload{image: face}, status: 200, check: wantMatch("", "")},
		{method: "POST", target: "/api/v1/collections/staff/search?max=0", form: &upload{image: face}, status: 400, code: "bad_request"},
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{image: face, fields: []string{"max", "x"}}, status: 400, code: "bad_request"},
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{image: noFace}, status: 422, code: "no_face"},
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{image: noise}, status: 400, code: "not_an_image"},
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{image: randomBytes(11 << 20)}, chunked: true, status: 413, code: "too_large"},
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{}, status: 400, code: "missing_image"},
		{method: "POST", target: "/api/v1/collections/nosuch/search", form: &upload{image: face}, status: 404, code: "collection_not_found"},

		// Deleting.
		{method: "DELETE", target: "/api/v1/collections/staff/faces/f_nosuch", status: 404, code: "face_not_found"},
		{method: "DELETE", target: "/api/v1/collections/nosuch/faces/{face}", status: 404, code: "collection_not_found"},
		{method: "DELETE", target: "/api/v1/collections/staff/faces/{face}", status: 204},
		{method: "GET", target: "/api/v1/collections/staff/faces/{face}/crop.jpg", status: 404, code: "face_not_found"},
		{method: "POST", target: "/api/v1/collections/staff/search", form: &upload{image: face}, status: 200, check: wantMatch("", "")},
		{method: "POST", target: "/api/v1/collections/staff/faces", form: &upload{image: face}, status: 201, check: wantFaces(1, "")},
		{method: "GET", target: "/api/v1/collections/staff/faces/{face}/crop.jpg", status: 404, code: "no_crop"},
		{method: "DELETE", target: "/api/v1/collections/staff", status: 204},
		{method: "DELETE", target: "/api/v1/collections/staff", status: 404, code: "collection_not_found"},
		{method: "GET", target: "/api/v1/collections/staff/faces", status: 404, code: "collection_not_found"},
		{method: "GET", target: "/api/v1/collections", status: 200, check: wantCollections("other")},
	}
}

func wantCollections(ids ...string) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		var body struct{ Collections []collectionJSON }
		if err := json.Unmarshal(b, &body); err != nil || body.Collections == nil || len(body.Collections) != len(ids) {
			t.Fatalf("collections %s, want %v", b, ids)
		}
		for i, c := range body.Collections {
			if c.ID != ids[i] {
				t.Errorf("collections %s, want %v", b, ids)
			}
		}
	}
}

func wantCollection(id string, threshold float64, faces int) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		var c collectionJSON
		if err := json.Unmarshal(b, &c); err != nil || c.ID != id || c.Threshold != threshold || c.Faces != faces || c.Created.IsZero() || c.Recognizer == "" {
			t.Errorf("collection %s, want %s with threshold %v and %d faces", b, id, threshold, faces)
		}
	}
}

// wantFaces checks a list of faces (and no unindexed faces, when listed).
func wantFaces(n int, external string) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		var body struct {
			Faces     []faceJSON
			Unindexed []detect.Unindexed
		}
		if err := json.Unmarshal(b, &body); err != nil || len(body.Faces) != n || body.Faces == nil {
			t.Fatalf("faces %s, want %d", b, n)
		}
		if !strings.Contains(string(b), `"external_id":`) && n > 0 {
			t.Errorf("faces %s without external_id", b)
		}
		for _, f := range body.Faces {
			if !strings.HasPrefix(f.FaceID, "f_") || f.ExternalID != external || f.Box.Width <= 0 || f.Confidence <= 0 {
				t.Errorf("face %+v, want external id %q", f, external)
			}
		}
		if len(body.Unindexed) != 0 {
			t.Errorf("unindexed %+v", body.Unindexed)
		}
	}
}

// wantMatch checks a search of one face: matched with external, or
// unknown if external is "".
func wantMatch(collection, external string) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		var body struct{ Faces []searchFaceJSON }
		if err := json.Unmarshal(b, &body); err != nil || len(body.Faces) != 1 || body.Faces[0].Matches == nil {
			t.Fatalf("search %s, want one face", b)
		}
		f := body.Faces[0]
		if f.Box.Width <= 0 || f.Confidence <= 0 {
			t.Errorf("searched face %+v", f)
		}
		switch {
		case external == "" && len(f.Matches) != 0:
			t.Errorf("search %s, want no match", b)
		case external != "" && (len(f.Matches) != 1 || f.Matches[0].ExternalID != external || f.Matches[0].Collection != collection ||
			f.Matches[0].Similarity < detect.DefaultThreshold || !strings.HasPrefix(f.Matches[0].FaceID, "f_")):
			t.Errorf("search %s, want one match with %q in %q", b, external, collection)
		}
	}
}

func wantJPEG(t *testing.T, b []byte) {
	if !bytes.HasPrefix(b, []byte("\xff\xd8\xff")) {
		t.Errorf("crop is not a JPEG: % x", b[:min(len(b), 8)])
	}
}

// lastFace takes the id of the first face of an enrolment response.
func lastFace(b []byte, face string) string {
	var body struct{ Faces []faceJSON }
	if json.Unmarshal(b, &body) == nil && len(body.Faces) > 0 && body.Faces[0].FaceID != "" {
		return body.Faces[0].FaceID
	}
	return face
}

func TestCollectionsRoutes(t *testing.T) {
	c := openFaces(t, filepath.Join(t.TempDir(), "faces.db"), nil)
	h := newFacesServer(t, c)
	face := "f_none"
	for _, tc := range collectionsCases(t) {
		target := strings.ReplaceAll(tc.target, "{face}", face)
		what := tc.method + " " + target
		body, ctype := []byte(tc.body), ""
		if tc.form != nil {
			body, ctype = tc.form.encode(t)
			what += " (form)"
		}
		w := doBody(h, tc.method, target, body, ctype, tc.chunked)
		checkError(t, what, w, tc.status, tc.code)
		if w.Code == tc.status && tc.check != nil {
			t.Run(what, func(t *testing.T) { tc.check(t, w.Body.Bytes()) })
		}
		if w.Code == http.StatusCreated && strings.HasSuffix(target, "/faces") {
			face = lastFace(w.Body.Bytes(), face)
		}
	}
}

// renamed is LBPH under another name: collections it made are another
// recognizer's.
type renamed struct{ detect.Recognizer }

func (renamed) Name() string { return "renamed" }

// A collection enrolled by one recognizer cannot be searched or added to
// with another: 409.
func TestCollectionsRecognizerMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faces.db")
	c := openFaces(t, path, nil)
	if _, err := c.Create("staff", 0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	h := newFacesServer(t, openFaces(t, path, renamed{detect.NewLBPH()}))
	body, ctype := upload{image: gocvFile(t, "images/face.jpg")}.encode(t)
	for _, target := range []string{"/api/v1/collections/staff/faces", "/api/v1/collections/staff/search"} {
		checkError(t, "POST "+target, doBody(h, "POST", target, body, ctype, false), 409, "recognizer_mismatch")
	}
	checkError(t, "GET", doBody(h, "GET", "/api/v1/collections/staff/faces", nil, "", false), 200, "")
}

// FuzzCollectionsRoutes sends arbitrary ids, face ids, query strings and
// small bodies through the collections routes: nothing panics, nothing is
// a 5xx, every error is JSON, and the store is never handed an invalid
// id (checkedFaces fails the test if it is). Bodies stay small, so no
// image the fuzzer makes costs much to decode.
func FuzzCollectionsRoutes(f *testing.F) {
	for _, tc := range collectionsCases(f) {
		if tc.form != nil && len(tc.form.image) > 1<<16 {
			continue
		}
		body := tc.body
		if tc.form != nil {
			b, _ := upload{fields: tc.form.fields}.encode(f)
			body = string(b)
		}
		path, query, _ := strings.Cut(strings.TrimPrefix(tc.target, "/api/v1/collections/"), "?")
		id, rest, _ := strings.Cut(path, "/")
		faceID := ""
		if after, ok := strings.CutPrefix(rest, "faces/"); ok {
			faceID, _, _ = strings.Cut(after, "/")
		}
		f.Add(tc.method, id, faceID, query, body)
	}
	c := openFaces(f, filepath.Join(f.TempDir(), "faces.db"), nil)
	if _, err := c.Create("staff", 0); err != nil {
		f.Fatal(err)
	}
	h := newFacesServer(f, c)
	f.Fuzz(func(t *testing.T, method, id, faceID, query, body string) {
		if len(body) > 4096 || method == "" || strings.ContainsAny(method, " \r\n/:") {
			return
		}
		base := "/api/v1/collections/" + id
		targets := []string{base, base + "/faces", base + "/search", base + "/faces/" + faceID, base + "/faces/" + faceID + "/crop.jpg"}
		for _, target := range targets {
			if query != "" {
				target += "?" + query
			}
			if strings.ContainsAny(target, " \r\n\t#") {
				return
			}
			if _, err := http.NewRequest(method, "http://x"+target, nil); err != nil {
				return
			}
			w := doBody(h, method, target, []byte(body), "multipart/form-data; boundary="+formBoundary(body), false)
			if w.Code >= 500 {
				t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
			}
			if w.Code >= 400 {
				var e apiError
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil && !errors.Is(err, io.EOF) && w.Code != 405 {
					t.Fatalf("%s %s: %d with a non-JSON body %q", method, target, w.Code, w.Body)
				}
			}
		}
	})
}

// formBoundary finds the boundary of a multipart body, so that seeds made
// by multipart.Writer parse; any other body gets one that does not.
func formBoundary(body string) string {
	if line, _, ok := strings.Cut(body, "\r\n"); ok && strings.HasPrefix(line, "--") && len(line) > 2 {
		return line[2:]
	}
	return "none"
}
