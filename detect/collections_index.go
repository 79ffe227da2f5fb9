package detect

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"gocv.io/x/gocv"
)

// Reasons a detected face was not indexed (Unindexed.Reasons).
const (
	ReasonTooSmall   = "too_small"   // a side is under the minimum face size
	ReasonTooBlurred = "too_blurred" // under the minimum sharpness
	ReasonTooMany    = "too_many"    // beyond IndexOptions.MaxFaces (or not the largest)
)

// maxExternalIDLen bounds IndexOptions.ExternalID, in bytes.
const maxExternalIDLen = 255

// maxIndexFaces is how many faces one IndexFaces call enrols at most.
const maxIndexFaces = 100

// IndexOptions says how IndexFaces enrols the faces of an image.
type IndexOptions struct {
	// ExternalID is the caller's name for the person (at most 255 bytes of
	// UTF-8 without control characters; may be empty).
	ExternalID string
	// Largest indexes only the largest face (as MaxFaces 1).
	Largest bool
	// MaxFaces indexes at most this many faces, largest first; 0 means
	// 100. Faces beyond it are unindexed as "too_many".
	MaxFaces int
	// KeepCrop stores the face as uploaded (a JPEG of its box) next to the
	// template; see FaceCrop. Off by default: only templates are kept.
	KeepCrop bool
}

// IndexedFace is an enrolled face, or a face found in a search image (with
// FaceID and ExternalID empty).
type IndexedFace struct {
	FaceID     string    `json:"face_id,omitempty"`
	ExternalID string    `json:"external_id,omitempty"`
	Box        Box       `json:"bbox"`
	Confidence float64   `json:"confidence"`
	Created    time.Time `json:"created,omitzero"`
}

// Unindexed is a face IndexFaces found but did not enrol, and why.
type Unindexed struct {
	Box        Box      `json:"bbox"`
	Confidence float64  `json:"confidence"`
	Reasons    []string `json:"reasons"`
}

// IndexFaces finds the faces in an uploaded image (JPEG, PNG or another
// format DecodeImage reads) and enrols them in collection id under
// o.ExternalID. Faces too small or too blurred to recognise, and faces
// beyond MaxFaces, come back as Unindexed with their reasons. If the image
// holds faces but none could be enrolled, the result is no faces, the
// unindexed list and no error.
//
// Errors: ErrNotFound (no such collection), ErrRecognizerMismatch,
// ErrInvalidExternal, ErrNotImage, ErrImageTooLarge, and ErrNoFace when
// the detector finds no face at all (the message says so with the image
// size). Images that are one tightly framed face are handled as described
// at findFaces.
func (c *Collections) IndexFaces(id string, data []byte, o IndexOptions) ([]IndexedFace, []Unindexed, error) {
	if err := validateExternalID(o.ExternalID); err != nil {
		return nil, nil, err
	}
	if _, err := c.usable(id); err != nil {
		return nil, nil, err
	}
	img, err := DecodeImage(data, c.cfg.maxPixels)
	if err != nil {
		return nil, nil, err
	}
	defer img.Close()
	src, faces, err := c.findFaces(img)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()

	limit := maxIndexFaces
	if o.MaxFaces > 0 && o.MaxFaces < limit {
		limit = o.MaxFaces
	}
	if o.Largest {
		limit = 1
	}
	now := c.cfg.now().UTC()
	var (
		enrol     []memFace
		crops     [][]byte
		unindexed = []Unindexed{}
	)
	for _, f := range faces { // largest first
		reasons := c.quality(src.Mat, f)
		if len(reasons) == 0 && len(enrol) >= limit {
			reasons = append(reasons, ReasonTooMany)
		}
		if len(reasons) > 0 {
			unindexed = append(unindexed, Unindexed{Box: f.Box, Confidence: f.Confidence, Reasons: reasons})
			continue
		}
		t, err := c.rec.Template(src.Mat, f.src)
		if err != nil {
			return nil, nil, fmt.Errorf("template: %w", err)
		}
		var crop []byte
		if o.KeepCrop {
			if crop, err = encodeCrop(img, f.Rect); err != nil {
				return nil, nil, err
			}
		}
		// Faces of one image are dated a nanosecond apart: Faces lists them
		// in this order after a restart too.
		created := now.Add(time.Duration(len(enrol)))
		enrol = append(enrol, memFace{
			IndexedFace: IndexedFace{FaceID: newFaceID(), ExternalID: o.ExternalID, Box: f.Box, Confidence: f.Confidence, Created: created},
			template:    t,
		})
		crops = append(crops, crop)
	}
	if len(enrol) == 0 {
		return []IndexedFace{}, unindexed, nil
	}

	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	mc, err := c.usable(id) // it may have gone while we looked at the image
	if err != nil {
		return nil, nil, err
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		for i, f := range enrol {
			if err := putFace(tx, id, f, crops[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("collection %q: %w", id, err)
	}
	out := make([]IndexedFace, len(enrol))
	c.mu.Lock()
	for i, f := range enrol {
		mc.index[f.FaceID] = len(mc.faces)
		mc.faces = append(mc.faces, f)
		out[i] = f.IndexedFace
	}
	c.mu.Unlock()
	return out, unindexed, nil
}

// quality lists the reasons a face cannot be enrolled.
func (c *Collections) quality(src gocv.Mat, f found) []string {
	var reasons []string
	if min(f.src.Dx(), f.src.Dy()) < c.cfg.minFaceSize {
		reasons = append(reasons, ReasonTooSmall)
	}
	if c.cfg.minSharpness >= 0 {
		if faceSharpness(src, f.src) < c.cfg.minSharpness {
			reasons = append(reasons, ReasonTooBlurred)
		}
	}
	return reasons
}

// Faces lists a collection's faces in the order they were enrolled.
func (c *Collections) Faces(id string) ([]IndexedFace, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, ErrClosed
	}
	mc, ok := c.colls[id]
	if !ok {
		return nil, fmt.Errorf("collection %q: %w", id, ErrNotFound)
	}
	out := make([]IndexedFace, len(mc.faces))
	for i, f := range mc.faces {
		out[i] = f.IndexedFace
	}
	return out, nil
}

// DeleteFace removes a face: its template (from the file and from memory)
// and its crop. ErrNotFound for an unknown collection or face. Like any
// bbolt delete it frees the pages that held the record; their bytes stay
// in the file until bbolt reuses the pages.
func (c *Collections) DeleteFace(id, faceID string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	mc, err := c.lookup(id)
	if err != nil {
		return err
	}
	c.mu.RLock()
	_, ok := mc.index[faceID]
	c.mu.RUnlock()
	if !ok {
		return fmt.Errorf("face %q in collection %q: %w", faceID, id, ErrNotFound)
	}
	if err := c.db.Update(func(tx *bolt.Tx) error { return deleteFace(tx, id, faceID) }); err != nil {
		return fmt.Errorf("collection %q: %w", id, err)
	}
	c.mu.Lock()
	i := mc.index[faceID]
	copy(mc.faces[i:], mc.faces[i+1:]) // keeps enrolment order
	mc.faces[len(mc.faces)-1] = memFace{}
	mc.faces = mc.faces[:len(mc.faces)-1]
	delete(mc.index, faceID)
	for j := i; j < len(mc.faces); j++ {
		mc.index[mc.faces[j].FaceID] = j
	}
	c.mu.Unlock()
	return nil
}

// FaceCrop returns the JPEG kept for a face enrolled with KeepCrop, or
// ErrNotFound.
func (c *Collections) FaceCrop(id, faceID string) ([]byte, error) {
	if _, err := c.lookup(id); err != nil {
		return nil, err
	}
	var out []byte
	err := c.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCrops).Bucket([]byte(id)); b != nil {
			if v := b.Get([]byte(faceID)); v != nil {
				out = append([]byte(nil), v...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("crop of face %q in collection %q: %w", faceID, id, ErrNotFound)
	}
	return out, nil
}

// found is a face found in an uploaded image: Face is in the image's
// pixels, src is the same face in the Mat it was found in (see findFaces).
type found struct {
	Face
	src image.Rectangle
}

// ownedMat is a Mat that may or may not be the caller's to close.
type ownedMat struct {
	gocv.Mat
	owned bool
}

func (m ownedMat) Close() {
	if m.owned {
		m.Mat.Close()
	}
}

// findFaces runs the detector on an uploaded image. The Haar cascade
// rarely sees a face that fills the whole image (half of the 92×112 AT&T
// crops), so an image may also be searched centred on a black canvas with
// a margin of a quarter of its longer side all round, as a video of that
// crop would show it; faces found there get their boxes clipped to the
// image. A face-sized image (its shorter side, at the detector's working
// scale, under three times the minimum face size: 180 pixels by default)
// is searched on the canvas first, then as it is; any other image as it
// is, then on the canvas if nothing was found. Templates are made from the
// Mat the face was found in (src), so a face enrolled from a tight crop is
// cut as the same face in a padded video frame. No face either way is
// ErrNoFace.
func (c *Collections) findFaces(img gocv.Mat) (ownedMat, []found, error) {
	w, h := img.Cols(), img.Rows()
	cfg := c.det.Config()
	shorter := float64(min(w, h))
	if cfg.MaxWidth > 0 && w > cfg.MaxWidth {
		shorter *= float64(cfg.MaxWidth) / float64(w)
	}
	tight := shorter < float64(3*cfg.MinSize)
	for _, pad := range []bool{tight, !tight} {
		src, faces, err := c.findFacesIn(img, pad)
		if err != nil || len(faces) > 0 {
			return src, faces, err
		}
	}
	return ownedMat{}, nil, fmt.Errorf("%w in the %dx%d image", ErrNoFace, w, h)
}

// findFacesIn looks for faces in img, or in img on a canvas if pad.
func (c *Collections) findFacesIn(img gocv.Mat, pad bool) (ownedMat, []found, error) {
	if !pad {
		faces, err := c.det.detect(img)
		if err != nil || len(faces) == 0 {
			return ownedMat{}, nil, err
		}
		out := make([]found, len(faces))
		for i, f := range faces {
			out[i] = found{Face: f, src: f.Rect}
		}
		return ownedMat{Mat: img}, out, nil
	}
	w, h := img.Cols(), img.Rows()
	p := max(w, h) / 4
	padded := gocv.NewMat()
	gocv.CopyMakeBorder(img, &padded, p, p, p, p, gocv.BorderConstant, color.RGBA{A: 255})
	faces, err := c.det.detect(padded)
	if err != nil {
		padded.Close()
		return ownedMat{}, nil, err
	}
	var out []found
	bounds := image.Rect(0, 0, w, h)
	for _, f := range faces {
		r := f.Rect.Sub(image.Pt(p, p)).Intersect(bounds)
		if r.Dx()*r.Dy()*2 < f.Rect.Dx()*f.Rect.Dy() {
			continue // mostly on the canvas, not in the image
		}
		src := f.Rect
		f.Rect, f.Box = r, boxOf(r, w, h)
		out = append(out, found{Face: f, src: src})
	}
	if len(out) == 0 {
		padded.Close()
		return ownedMat{}, nil, nil
	}
	return ownedMat{Mat: padded, owned: true}, out, nil
}

func encodeCrop(img gocv.Mat, r image.Rectangle) ([]byte, error) {
	region := img.Region(r)
	defer region.Close()
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, region, []int{gocv.IMWriteJpegQuality, 90})
	if err != nil {
		return nil, fmt.Errorf("crop: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}

func newFaceID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "f_" + hex.EncodeToString(b[:])
}

func validateExternalID(s string) error {
	if len(s) > maxExternalIDLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidExternal, maxExternalIDLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidExternal)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character %U", ErrInvalidExternal, r)
		}
	}
	return nil
}
