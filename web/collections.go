package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vigil/detect"
)

// Faces is the face collections store as the API uses it
// (*detect.Collections). Every id it is handed has passed
// detect.ValidateID.
type Faces interface {
	Create(id string, threshold float64) (detect.Collection, error)
	SetThreshold(id string, threshold float64) (detect.Collection, error)
	Get(id string) (detect.Collection, error)
	List() []detect.Collection
	Delete(id string) error
	IndexFaces(id string, image []byte, o detect.IndexOptions) ([]detect.IndexedFace, []detect.Unindexed, error)
	Faces(id string) ([]detect.IndexedFace, error)
	DeleteFace(id, faceID string) error
	FaceCrop(id, faceID string) ([]byte, error)
	Search(id string, image []byte, maxMatches int) ([]detect.SearchResult, error)
}

// maxSearchMatches bounds the search's max parameter.
const maxSearchMatches = 100

type collectionJSON struct {
	ID         string    `json:"id"`
	Threshold  float64   `json:"threshold"`
	Recognizer string    `json:"recognizer"`
	Faces      int       `json:"faces"`
	Created    time.Time `json:"created"`
}

func toCollectionJSON(c detect.Collection) collectionJSON {
	return collectionJSON{ID: c.ID, Threshold: c.Threshold, Recognizer: c.Recognizer, Faces: c.Faces, Created: c.Created.UTC()}
}

type faceJSON struct {
	FaceID     string     `json:"face_id"`
	ExternalID string     `json:"external_id"`
	Box        detect.Box `json:"bbox"`
	Confidence float64    `json:"confidence"`
	Created    time.Time  `json:"created"`
}

func toFacesJSON(faces []detect.IndexedFace) []faceJSON {
	out := make([]faceJSON, len(faces))
	for i, f := range faces {
		out[i] = faceJSON{FaceID: f.FaceID, ExternalID: f.ExternalID, Box: f.Box, Confidence: f.Confidence, Created: f.Created.UTC()}
	}
	return out
}

// searchFaceJSON is a face of a searched image and the enrolled faces it
// matches, as the detection events show them.
type searchFaceJSON struct {
	Box        detect.Box     `json:"bbox"`
	Confidence float64        `json:"confidence"`
	Matches    []detect.Match `json:"matches"`
}

// collectionBody is what PUT accepts; an absent threshold is the default.
type collectionBody struct {
	Threshold *float64 `json:"threshold"`
}

// faceRoutes serves the collections API. turns holds one token per
// upload being read or decoded.
type faceRoutes struct {
	faces Faces
	turns chan struct{}
}

func (s *Server) routeFaces(mux *http.ServeMux) {
	if s.cfg.Faces == nil {
		return
	}
	f := &faceRoutes{faces: s.cfg.Faces, turns: make(chan struct{}, maxImageRequests)}
	mux.HandleFunc("GET /api/v1/collections", f.list)
	mux.HandleFunc("GET /api/v1/collections/{id}", f.get)
	mux.HandleFunc("PUT /api/v1/collections/{id}", f.put)
	mux.HandleFunc("DELETE /api/v1/collections/{id}", f.delete)
	mux.HandleFunc("GET /api/v1/collections/{id}/faces", f.listFaces)
	mux.HandleFunc("POST /api/v1/collections/{id}/faces", f.index)
	mux.HandleFunc("DELETE /api/v1/collections/{id}/faces/{face_id}", f.deleteFace)
	mux.HandleFunc("GET /api/v1/collections/{id}/faces/{face_id}/crop.jpg", f.crop)
	mux.HandleFunc("POST /api/v1/collections/{id}/search", f.search)
	// Anything else under a collection: a bad id is a bad id whatever the
	// method or route, so it is refused as one; otherwise no such route.
	noRoute := func(w http.ResponseWriter, r *http.Request) {
		if _, ok := collectionID(w, r); ok {
			writeError(w, http.StatusNotFound, "not_found", "no such API route: "+r.Method+" "+r.URL.Path)
		}
	}
	mux.HandleFunc("/api/v1/collections/{id}", noRoute)
	mux.HandleFunc("/api/v1/collections/{id}/{rest...}", noRoute)
}

// facesErrors maps detect's sentinels to a status and code. ErrNotFound is
// the collection's unless a handler says otherwise (see facesErr).
var facesErrors = []errorCode{
	{detect.ErrInvalidID, http.StatusBadRequest, "invalid_id"},
	{detect.ErrInvalidThreshold, http.StatusBadRequest, "invalid_threshold"},
	{detect.ErrInvalidExternal, http.StatusBadRequest, "invalid_external_id"},
	{detect.ErrNotImage, http.StatusBadRequest, "not_an_image"},
	{detect.ErrImageTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{detect.ErrNoFace, http.StatusUnprocessableEntity, "no_face"},
	{detect.ErrNotFound, http.StatusNotFound, "collection_not_found"},
	{detect.ErrExists, http.StatusConflict, "exists"},
	{detect.ErrRecognizerMismatch, http.StatusConflict, "recognizer_mismatch"},
	{detect.ErrClosed, http.StatusServiceUnavailable, "unavailable"},
}

// facesErr answers an error from the collections; notFound, if set, is the
// code for detect.ErrNotFound (a face or crop rather than the collection).
func facesErr(w http.ResponseWriter, err error, notFound string) {
	if notFound != "" && errors.Is(err, detect.ErrNotFound) {
		writeError(w, http.StatusNotFound, notFound, err.Error())
		return
	}
	if !writeMapped(w, err, facesErrors) {
		writeErr(w, err)
	}
}

// collectionID validates the {id} path value; it writes the error response
// and returns false when that fails.
func collectionID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := detect.ValidateID(id); err != nil {
		facesErr(w, err, "")
		return "", false
	}
	return id, true
}

// collection validates {id} and checks that the collection exists.
func (f *faceRoutes) collection(w http.ResponseWriter, r *http.Request) (detect.Collection, bool) {
	id, ok := collectionID(w, r)
	if !ok {
		return detect.Collection{}, false
	}
	c, err := f.faces.Get(id)
	if err != nil {
		facesErr(w, err, "")
		return detect.Collection{}, false
	}
	return c, true
}

func (f *faceRoutes) list(w http.ResponseWriter, r *http.Request) {
	list := f.faces.List()
	out := make([]collectionJSON, len(list))
	for i, c := range list {
		out[i] = toCollectionJSON(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": out})
}

func (f *faceRoutes) get(w http.ResponseWriter, r *http.Request) {
	if c, ok := f.collection(w, r); ok {
		writeJSON(w, http.StatusOK, toCollectionJSON(c))
	}
}

// put creates a collection (201) or sets its threshold (200).
func (f *faceRoutes) put(w http.ResponseWriter, r *http.Request) {
	id, ok := collectionID(w, r)
	if !ok {
		return
	}
	var body collectionBody
	if !decodeBody(w, r, &body) {
		return
	}
	threshold := 0.0 // detect's default
	if body.Threshold != nil {
		if threshold = *body.Threshold; threshold == 0 {
			writeError(w, http.StatusBadRequest, "invalid_threshold", "invalid threshold: 0 is not in (0, 1] (leave it out for the default)")
			return
		}
	}
	c, err := f.faces.Create(id, threshold)
	status := http.StatusCreated
	if errors.Is(err, detect.ErrExists) {
		c, err = f.faces.SetThreshold(id, threshold)
		status = http.StatusOK
	}
	if err != nil {
		facesErr(w, err, "")
		return
	}
	writeJSON(w, status, toCollectionJSON(c))
}

func (f *faceRoutes) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := collectionID(w, r)
	if !ok {
		return
	}
	if err := f.faces.Delete(id); err != nil {
		facesErr(w, err, "")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *faceRoutes) listFaces(w http.ResponseWriter, r *http.Request) {
	id, ok := collectionID(w, r)
	if !ok {
		return
	}
	faces, err := f.faces.Faces(id)
	if err != nil {
		facesErr(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"faces": toFacesJSON(faces)})
}

func (f *faceRoutes) deleteFace(w http.ResponseWriter, r *http.Request) {
	c, ok := f.collection(w, r)
	if !ok {
		return
	}
	if err := f.faces.DeleteFace(c.ID, r.PathValue("face_id")); err != nil {
		facesErr(w, err, "face_not_found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// crop sends the JPEG kept for a face enrolled with keep_crop=true.
func (f *faceRoutes) crop(w http.ResponseWriter, r *http.Request) {
	c, ok := f.collection(w, r)
	if !ok {
		return
	}
	faceID := r.PathValue("face_id")
	b, err := f.faces.FaceCrop(c.ID, faceID)
	if errors.Is(err, detect.ErrNotFound) && !f.hasFace(c.ID, faceID) {
		facesErr(w, err, "face_not_found")
		return
	}
	if err != nil {
		facesErr(w, err, "no_crop")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store") // a face is personal data
	w.Write(b)
}

func (f *faceRoutes) hasFace(id, faceID string) bool {
	faces, _ := f.faces.Faces(id)
	for _, face := range faces {
		if face.FaceID == faceID {
			return true
		}
	}
	return false
}

// index enrols the faces of an uploaded image: 201 when at least one was
// enrolled, 200 when every face found was unindexed.
func (f *faceRoutes) index(w http.ResponseWriter, r *http.Request) {
	c, ok := f.collection(w, r)
	if !ok {
		return
	}
	f.upload(w, r, func(img []byte) {
		var o detect.IndexOptions
		o.ExternalID = r.FormValue("external_id")
		var err error
		if o.Largest, err = formBool(r, "largest"); err == nil {
			o.KeepCrop, err = formBool(r, "keep_crop")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		faces, unindexed, err := f.faces.IndexFaces(c.ID, img, o)
		if err != nil {
			facesErr(w, err, "")
			return
		}
		status := http.StatusCreated
		if len(faces) == 0 {
			status = http.StatusOK
		}
		writeJSON(w, status, map[string]any{"faces": toFacesJSON(faces), "unindexed": unindexed})
	})
}

// search finds the faces of an uploaded image and their matches in the
// collection, at most max (1–100, default 10) per face.
func (f *faceRoutes) search(w http.ResponseWriter, r *http.Request) {
	c, ok := f.collection(w, r)
	if !ok {
		return
	}
	f.upload(w, r, func(img []byte) {
		maxMatches := 0
		if v := r.FormValue("max"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxSearchMatches {
				writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("max: %q is not a number from 1 to %d", v, maxSearchMatches))
				return
			}
			maxMatches = n
		}
		res, err := f.faces.Search(c.ID, img, maxMatches)
		if err != nil {
			facesErr(w, err, "")
			return
		}
		out := make([]searchFaceJSON, len(res))
		for i, sr := range res {
			out[i] = searchFaceJSON{Box: sr.Face.Box, Confidence: sr.Face.Confidence, Matches: sr.Matches}
		}
		writeJSON(w, http.StatusOK, map[string]any{"faces": out})
	})
}
