package detect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"
)

// Template is what a Recognizer makes of a face and compares: a feature
// vector whose meaning belongs to the Recognizer that made it. Templates of
// different recognizers (see Recognizer.Name) are not comparable.
type Template []float32

// Recognizer turns faces into templates and compares templates.
// Implementations are safe for concurrent use.
type Recognizer interface {
	// Name identifies the recognizer and its parameters. Collections
	// remember it: templates are only compared with templates of the same
	// name.
	Name() string
	// Template describes the face at rect in img (8-bit BGR, BGRA or gray).
	Template(img gocv.Mat, face image.Rectangle) (Template, error)
	// Similarity compares two templates: 1 is the same face, 0 nothing in
	// common. Templates of different lengths have similarity 0.
	Similarity(a, b Template) float64
}

// ErrBadTemplate is returned for template bytes that do not decode.
var ErrBadTemplate = errors.New("bad template encoding")

// maxTemplateLen bounds decoded templates (LBPH has 3,776 values, face
// embeddings a few hundred).
const maxTemplateLen = 1 << 20

// templateMagic starts a template's binary form; the byte after it is the
// format version.
const templateMagic = 'T'

// MarshalBinary encodes t as 'T', version 1, a uvarint count and the values
// as little-endian IEEE 754 float32s.
func (t Template) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 2+binary.MaxVarintLen64+4*len(t))
	b = append(b, templateMagic, 1)
	b = binary.AppendUvarint(b, uint64(len(t)))
	for _, v := range t {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b, nil
}

// UnmarshalTemplate decodes MarshalBinary's encoding.
func UnmarshalTemplate(b []byte) (Template, error) {
	if len(b) < 2 || b[0] != templateMagic {
		return nil, fmt.Errorf("%w: no template header", ErrBadTemplate)
	}
	if b[1] != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadTemplate, b[1])
	}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 {
		return nil, fmt.Errorf("%w: bad length", ErrBadTemplate)
	}
	b = b[2+k:]
	if n > maxTemplateLen || uint64(len(b)) != 4*n {
		return nil, fmt.Errorf("%w: %d values in %d bytes", ErrBadTemplate, n, len(b))
	}
	t := make(Template, n)
	for i := range t {
		t[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return t, nil
}
