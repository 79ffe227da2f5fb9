package test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// attFace returns an AT&T face (92×112 PGM) from the gocv module: s1 has
// images 1–4, s2 1–5, s3 1–10.
func attFace(t *testing.T, subject string, n int) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "gocv.io/x/gocv").Output()
	if err != nil {
		t.Fatalf("go list gocv: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "contrib", "att_faces", subject, fmt.Sprintf("%d.pgm", n)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postImage POSTs a multipart form with an image field (left out if nil)
// and the given name, value pairs; chunked hides the body's length. It
// returns the status and the body.
func (v *vigil) postImage(path string, img []byte, chunked bool, fields ...string) (int, []byte) {
	v.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	if img != nil {
		fw, _ := mw.CreateFormFile("image", "upload")
		fw.Write(img)
	}
	mw.Close()
	var body io.Reader = bytes.NewReader(b.Bytes())
	if chunked {
		body = io.MultiReader(body)
	}
	req, err := http.NewRequest("POST", v.url(path), body)
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

type apiFace struct {
	FaceID     string `json:"face_id"`
	ExternalID string `json:"external_id"`
	Box        struct {
		Left, Top, Width, Height float64
	} `json:"bbox"`
	Confidence float64 `json:"confidence"`
}

type searchFace struct {
	Confidence float64     `json:"confidence"`
	Matches    []faceMatch `json:"matches"`
}

// faceMatch is one match of a face, in search results and in events.
type faceMatch struct {
	Collection string  `json:"collection"`
	FaceID     string  `json:"face_id"`
	ExternalID string  `json:"external_id"`
	Similarity float64 `json:"similarity"`
}

// searchOne searches the people collection with an image that holds one face
// and returns that face's matches.
func (v *vigil) searchOne(img []byte) searchFace {
	v.t.Helper()
	code, b := v.postImage("/api/v1/collections/people/search", img, false)
	var res struct{ Faces []searchFace }
	if code != http.StatusOK || json.Unmarshal(b, &res) != nil || len(res.Faces) != 1 || res.Faces[0].Matches == nil {
		v.t.Fatalf("search: %d %s, want one face", code, b)
	}
	return res.Faces[0]
}

// TestFaceCollections is acceptance 5 of the face collections issue: enrol
// a person, find them, forget them; bad uploads are refused with the
// right status and vigil keeps running.
func TestFaceCollections(t *testing.T) {
	v := startVigil(t, t.TempDir())

	var coll struct {
		ID        string  `json:"id"`
		Threshold float64 `json:"threshold"`
		Faces     int     `json:"faces"`
	}
	if code := v.doJSON("PUT", "/api/v1/collections/people", "{}", &coll); code != http.StatusCreated || coll.ID != "people" || coll.Threshold != 0.8 {
		t.Fatalf("create: %d %+v", code, coll)
	}

	code, b := v.postImage("/api/v1/collections/people/faces", attFace(t, "s1", 1), false, "external_id", "s1")
	var enrolled struct {
		Faces     []apiFace
		Unindexed []json.RawMessage
	}
	if code != http.StatusCreated || json.Unmarshal(b, &enrolled) != nil || len(enrolled.Faces) != 1 || enrolled.Unindexed == nil {
		t.Fatalf("enrol s1/1: %d %s", code, b)
	}
	s1 := enrolled.Faces[0]
	if !strings.HasPrefix(s1.FaceID, "f_") || s1.ExternalID != "s1" || s1.Box.Width <= 0 || s1.Confidence <= 0 {
		t.Fatalf("enrolled %+v", s1)
	}

	var list struct{ Faces []apiFace }
	if code := v.getJSON("/api/v1/collections/people/faces", &list); code != http.StatusOK || len(list.Faces) != 1 || list.Faces[0].FaceID != s1.FaceID || list.Faces[0].ExternalID != "s1" {
		t.Fatalf("faces: %d %+v", code, list)
	}
	if code := v.getJSON("/api/v1/collections/people", &coll); code != http.StatusOK || coll.Faces != 1 {
		t.Fatalf("collection: %d %+v", code, coll)
	}

	// Probes of s1 other than 2: with LBPH, s1/2 is s1/1's only at
	// similarity 0.71 (under 0.8, and under s1/2 with s3/3 at 0.73), while
	// s1/3 and s1/4 are at 0.89 and 0.85, and every s3 image at most 0.75.
	for _, n := range []int{3, 4} {
		m := v.searchOne(attFace(t, "s1", n))
		if len(m.Matches) != 1 || m.Matches[0].ExternalID != "s1" || m.Matches[0].FaceID != s1.FaceID || m.Matches[0].Collection != "people" || m.Matches[0].Similarity < 0.8 {
			t.Errorf("search s1/%d: %+v, want a match with s1", n, m)
		}
	}
	for n := 1; n <= 10; n++ {
		if m := v.searchOne(attFace(t, "s3", n)); len(m.Matches) != 0 {
			t.Errorf("search s3/%d: %+v, want no match", n, m)
		}
	}

	t.Run("bad input", func(t *testing.T) {
		noise := make([]byte, 64<<10)
		rand.Read(noise)
		var flat bytes.Buffer
		png.Encode(&flat, image.NewGray(image.Rect(0, 0, 320, 240)))
		big := make([]byte, 11<<20)
		rand.Read(big)
		cases := []struct {
			name, path string
			img        []byte
			chunked    bool
			status     int
			code       string
		}{
			{"not an image", "/api/v1/collections/people/faces", noise, false, 400, "not_an_image"},
			{"not an image, search", "/api/v1/collections/people/search", noise, false, 400, "not_an_image"},
			{"no face", "/api/v1/collections/people/faces", flat.Bytes(), false, 422, "no_face"},
			{"no face, search", "/api/v1/collections/people/search", flat.Bytes(), false, 422, "no_face"},
			{"11 MB", "/api/v1/collections/people/faces", big, false, 413, "too_large"},
			{"11 MB chunked", "/api/v1/collections/people/faces", big, true, 413, "too_large"},
			{"11 MB chunked, search", "/api/v1/collections/people/search", big, true, 413, "too_large"},
			{"no image field", "/api/v1/collections/people/faces", nil, false, 400, "missing_image"},
			{"unknown collection", "/api/v1/collections/nosuch/faces", attFace(t, "s1", 3), false, 404, "collection_not_found"},
			{"unknown collection, search", "/api/v1/collections/nosuch/search", attFace(t, "s1", 3), false, 404, "collection_not_found"},
		}
		for _, c := range cases {
			code, b := v.postImage(c.path, c.img, c.chunked)
			var e struct{ Error, Code string }
			if code != c.status || json.Unmarshal(b, &e) != nil || e.Code != c.code || e.Error == "" {
				t.Errorf("%s: %d %s, want %d %s", c.name, code, b, c.status, c.code)
			}
			if c.code == "no_face" && !strings.Contains(e.Error, "no face") {
				t.Errorf("%s: message %q does not say no face was found", c.name, e.Error)
			}
		}
		for _, target := range []string{
			"/api/v1/collections/..", "/api/v1/collections/%2e%2e", "/api/v1/collections/%2E%2e/faces",
			"/api/v1/collections/" + strings.Repeat("x", 129), "/api/v1/collections/..%2fpeople",
		} {
			for _, m := range []string{"GET", "PUT", "DELETE", "POST"} {
				code, body := rawRequest(t, v.HTTP, m, target)
				var e struct{ Error, Code string }
				if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
					t.Errorf("%s %s: %d %s, want 400 with a JSON error", m, target, code, body)
				}
			}
		}
		if code := v.doJSON("PUT", "/api/v1/collections/people", `{"threshold":1.2}`, nil); code != http.StatusBadRequest {
			t.Errorf("threshold 1.2: %d, want 400", code)
		}
		if code := v.getJSON("/api/v1/collections/nosuch/faces", nil); code != http.StatusNotFound {
			t.Errorf("faces of an unknown collection: %d, want 404", code)
		}
	})

	if code := v.doJSON("DELETE", "/api/v1/collections/people/faces/"+s1.FaceID, "", nil); code != http.StatusNoContent {
		t.Fatalf("delete face: %d", code)
	}
	if m := v.searchOne(attFace(t, "s1", 3)); len(m.Matches) != 0 {
		t.Errorf("search s1/3 after the delete: %+v, want no match", m)
	}
	if code := v.getJSON("/api/v1/collections/people/faces", &list); code != http.StatusOK || len(list.Faces) != 0 {
		t.Errorf("faces after the delete: %d %+v", code, list)
	}

	// Still running and answering.
	var health struct{ Status string }
	if code := v.getJSON("/healthz", &health); code != http.StatusOK || health.Status != "ok" {
		t.Fatalf("healthz: %d %+v", code, health)
	}
	select {
	case <-v.exited:
		t.Fatalf("vigil exited: %v", v.exitErr)
	default:
	}
	if code := v.doJSON("DELETE", "/api/v1/collections/people", "", nil); code != http.StatusNoContent {
		t.Errorf("delete collection: %d", code)
	}
	if err := v.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}
