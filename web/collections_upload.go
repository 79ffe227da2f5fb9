package web

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"
)

const (
	// maxImage bounds an uploaded image; maxUpload the whole multipart
	// body, which adds the envelope and the small fields.
	maxImage  = 10 << 20
	maxUpload = maxImage + 64<<10
	// maxImageRequests bounds the uploads read and decoded at once (each
	// may hold its body twice and a decoded image of up to 48 megapixels);
	// others wait their turn.
	maxImageRequests = 4
	// uploadTimeout bounds reading an upload's body, so that a slow client
	// cannot keep a turn for ever.
	uploadTimeout = 2 * time.Minute
)

// upload reads a multipart/form-data body with its image field, in turn
// with at most maxImageRequests others, and hands the image to fn; the
// form's other fields are in r.FormValue. A body over maxUpload or an
// image over maxImage is 413, never read to its end.
func (f *faceRoutes) upload(w http.ResponseWriter, r *http.Request, fn func(img []byte)) {
	if r.ContentLength > maxUpload {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("upload of %d bytes: %v", r.ContentLength, errImageTooLarge))
		return
	}
	select {
	case f.turns <- struct{}{}:
		defer func() { <-f.turns }()
	case <-r.Context().Done():
		return
	}
	// Not every writer supports deadlines; a recorder in a test does not.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	err := r.ParseMultipartForm(maxImage)
	rc.SetReadDeadline(time.Time{})
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, multipart.ErrMessageTooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("upload over %d bytes: %v", maxUpload, errImageTooLarge))
			return
		}
		writeError(w, http.StatusBadRequest, "bad_request", "want a multipart/form-data body with an image field: "+err.Error())
		return
	}
	img, err := formImage(r.MultipartForm)
	if errors.Is(err, errImageTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "missing_image", err.Error())
		return
	}
	fn(img)
}

var errImageTooLarge = errors.New("images are limited to 10 MiB")

// formImage returns the form's image field, sent as a file (curl -F
// image=@face.jpg) or as a plain value.
func formImage(form *multipart.Form) ([]byte, error) {
	if files := form.File["image"]; len(files) > 0 {
		fh := files[0]
		if fh.Size > maxImage {
			return nil, fmt.Errorf("image of %d bytes: %w", fh.Size, errImageTooLarge)
		}
		file, err := fh.Open()
		if err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		defer file.Close()
		return io.ReadAll(io.LimitReader(file, maxImage))
	}
	if v := form.Value["image"]; len(v) > 0 {
		if len(v[0]) > maxImage {
			return nil, fmt.Errorf("image of %d bytes: %w", len(v[0]), errImageTooLarge)
		}
		return []byte(v[0]), nil
	}
	return nil, errors.New("the form has no image field")
}

// formBool reads an optional true/false form field.
func formBool(r *http.Request, key string) (bool, error) {
	v := r.FormValue(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", key, v)
	}
	return b, nil
}
