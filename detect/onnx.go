package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"sync"

	"gocv.io/x/gocv"
)

// ONNXConfig configures a face-embedding model run by OpenCV's DNN module.
// Zero values take the defaults, which suit the common face-embedding
// models (ArcFace, MobileFaceNet and their kin).
type ONNXConfig struct {
	// Path of the .onnx file. Required.
	Path string
	// InputSize is the model's input width and height. Required.
	InputSize image.Point
	// Channels is 3 (colour) or 1 (grey). Default: 3 if the model runs on
	// a 3-channel input, else 1.
	Channels int
	// Mean is subtracted from every pixel value (0–255). Default 127.5.
	Mean float64
	// Scale multiplies the result. Default 1/128.
	Scale float64
	// BGR feeds colour channels in OpenCV's BGR order; the default is RGB.
	BGR bool
	// Output names the output layer; default the model's last one.
	Output string
}

// onnx is a Recognizer whose template is a face embedding: the model's
// output for the face crop, normalised to length 1.
type onnx struct {
	cfg  ONNXConfig
	name string
	dim  int

	mu     sync.Mutex // a cv::dnn::Net runs one forward pass at a time
	net    gocv.Net
	closed bool
}

// NewONNX loads a face-embedding model with the default preprocessing (see
// ONNXConfig). Similarity is the cosine of the two embeddings, clamped to
// [0, 1]: embeddings pointing away from each other are as unrelated as
// orthogonal ones. The returned Recognizer is also an io.Closer that
// releases the model.
func NewONNX(path string, inputSize image.Point) (Recognizer, error) {
	return NewONNXConfig(ONNXConfig{Path: path, InputSize: inputSize})
}

// NewONNXConfig is NewONNX with every setting.
func NewONNXConfig(cfg ONNXConfig) (Recognizer, error) {
	if cfg.InputSize.X < 1 || cfg.InputSize.Y < 1 || cfg.InputSize.X > 4096 || cfg.InputSize.Y > 4096 {
		return nil, fmt.Errorf("onnx: input size %v out of range", cfg.InputSize)
	}
	if cfg.Channels != 0 && cfg.Channels != 1 && cfg.Channels != 3 {
		return nil, fmt.Errorf("onnx: %d channels: want 1 or 3", cfg.Channels)
	}
	if cfg.Mean == 0 {
		cfg.Mean = 127.5
	}
	if cfg.Scale == 0 {
		cfg.Scale = 1.0 / 128
	}
	model, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	// Load and run the model once where C++ exceptions are caught: gocv
	// would let a bad file or an input of the wrong shape abort the process.
	channels := []int{3, 1}
	if cfg.Channels != 0 {
		channels = []int{cfg.Channels}
	}
	var errs []error
	dim := 0
	for _, ch := range channels {
		n, err := probeONNX(model, cfg.InputSize.X, cfg.InputSize.Y, ch, cfg.Output)
		if err != nil {
			errs = append(errs, fmt.Errorf("%d channels: %w", ch, err))
			continue
		}
		cfg.Channels, dim = ch, n
		break
	}
	if dim == 0 {
		return nil, fmt.Errorf("onnx: %s: %w", cfg.Path, errors.Join(errs...))
	}
	net, err := gocv.ReadNetFromONNXBytes(model)
	if err != nil || net.Empty() {
		return nil, fmt.Errorf("onnx: %s: gocv could not load the model", cfg.Path)
	}
	sum := sha256.Sum256(model)
	order := "rgb"
	if cfg.BGR {
		order = "bgr"
	}
	if cfg.Channels == 1 {
		order = "gray"
	}
	return &onnx{
		cfg: cfg,
		dim: dim,
		net: net,
		name: fmt.Sprintf("onnx-%s-%dx%d-%s-m%g-s%g", hex.EncodeToString(sum[:6]),
			cfg.InputSize.X, cfg.InputSize.Y, order, cfg.Mean, cfg.Scale),
	}, nil
}

func (o *onnx) Name() string { return o.name }

// Dim is the length of the embeddings.
func (o *onnx) Dim() int { return o.dim }

// Close releases the model; Template fails afterwards.
func (o *onnx) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		return o.net.Close()
	}
	return nil
}

func (o *onnx) Template(img gocv.Mat, face image.Rectangle) (Template, error) {
	crop, err := o.crop(img, face)
	if err != nil {
		return nil, err
	}
	defer crop.Close()
	mean := gocv.NewScalar(o.cfg.Mean, o.cfg.Mean, o.cfg.Mean, 0)
	blob := gocv.BlobFromImage(crop, o.cfg.Scale, o.cfg.InputSize, mean, o.cfg.Channels == 3 && !o.cfg.BGR, false)
	defer blob.Close()

	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, errors.New("onnx: recognizer closed")
	}
	o.net.SetInput(blob, "")
	out := o.net.Forward(o.cfg.Output)
	o.mu.Unlock()
	defer out.Close()

	v, err := out.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("onnx: output: %w", err)
	}
	if len(v) != o.dim {
		return nil, fmt.Errorf("onnx: output has %d values, want %d", len(v), o.dim)
	}
	t := make(Template, len(v))
	var norm float64
	for i, x := range v {
		t[i] = x
		norm += float64(x) * float64(x)
	}
	if norm == 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return nil, fmt.Errorf("onnx: embedding of length %v", math.Sqrt(norm))
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range t {
		t[i] *= inv
	}
	return t, nil
}

// crop cuts the face out as the model's input: grey or BGR, at InputSize.
func (o *onnx) crop(img gocv.Mat, face image.Rectangle) (gocv.Mat, error) {
	if o.cfg.Channels == 1 {
		px, err := grayCrop(img, face, o.cfg.InputSize)
		if err != nil {
			return gocv.Mat{}, err
		}
		return gocv.NewMatFromBytes(o.cfg.InputSize.Y, o.cfg.InputSize.X, gocv.MatTypeCV8U, px)
	}
	r := face.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if r.Dx() < minCropSide || r.Dy() < minCropSide {
		return gocv.Mat{}, fmt.Errorf("%w: %v in a %dx%d image", ErrBadFace, face, img.Cols(), img.Rows())
	}
	region := img.Region(r)
	defer region.Close()
	bgr := gocv.NewMat()
	switch region.Channels() {
	case 1:
		gocv.CvtColor(region, &bgr, gocv.ColorGrayToBGR)
	case 4:
		gocv.CvtColor(region, &bgr, gocv.ColorBGRAToBGR)
	default:
		region.CopyTo(&bgr)
	}
	out := gocv.NewMat()
	gocv.Resize(bgr, &out, o.cfg.InputSize, 0, 0, gocv.InterpolationLinear)
	bgr.Close()
	return out, nil
}

// Similarity is the cosine of the two embeddings (unit vectors), clamped
// to [0, 1].
func (o *onnx) Similarity(a, b Template) float64 {
	if len(a) != o.dim || len(b) != o.dim {
		return 0
	}
	return cosine(a, b)
}

// cosine is the dot product of two unit vectors, clamped to [0, 1].
func cosine(a, b Template) float64 {
	b = b[:len(a)]
	var dot float64
	for i, x := range a {
		dot += float64(x) * float64(b[i])
	}
	return math.Max(0, math.Min(1, dot))
}
