package detect

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"sync"

	"gocv.io/x/gocv"
)

// DefaultCascade is where Debian's opencv-data package puts the frontal face
// Haar cascade.
const DefaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

// Box is a bounding box as ratios of the frame's width and height, as in the
// events schema (docs/events.md).
type Box struct {
	Left   float64 `json:"left"`
	Top    float64 `json:"top"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Face is one detected face.
type Face struct {
	// Rect is the face in pixels of the image given to Detect.
	Rect image.Rectangle
	// Box is Rect as ratios of the image's width and height.
	Box Box
	// Confidence in [0,1] is a heuristic: the Haar cascade gives no score,
	// so it is 1 - exp(-n/10), where n is the number of raw cascade hits
	// (the "neighbours") merged into this face. A detection that barely
	// passes MinNeighbors 5 (n = 6) scores 0.45; clear frontal faces collect
	// 20 to 60 hits at the default settings and score 0.86 to 1.
	Confidence float64
	// Neighbors is n above.
	Neighbors int
}

// DetectorConfig configures a Detector. Zero values take the defaults.
type DetectorConfig struct {
	// Cascade is the path of an OpenCV cascade classifier XML file.
	// Default DefaultCascade.
	Cascade string
	// ScaleFactor is the step between the scales the cascade scans.
	// Default 1.2.
	ScaleFactor float64
	// MinNeighbors is how many raw hits a face needs. Default 5.
	MinNeighbors int
	// MinSize is the smallest face side in pixels of the working image
	// (after the MaxWidth downscale). Default 60.
	MinSize int
	// MaxWidth: images wider than this are downscaled to this width before
	// detection, and the boxes mapped back. Default 640; negative disables
	// the downscale.
	MaxWidth int
	// NoEqualize skips histogram equalisation of the working image (on by
	// default, as in OpenCV's face detection sample).
	NoEqualize bool
}

func (c *DetectorConfig) setDefaults() {
	if c.Cascade == "" {
		c.Cascade = DefaultCascade
	}
	if c.ScaleFactor == 0 {
		c.ScaleFactor = 1.2
	}
	if c.MinNeighbors == 0 {
		c.MinNeighbors = 5
	}
	if c.MinSize == 0 {
		c.MinSize = 60
	}
	if c.MaxWidth == 0 {
		c.MaxWidth = 640
	}
}

// Detector finds faces with an OpenCV cascade classifier. It is safe for
// concurrent use: each concurrent Detect uses its own classifier from a
// small pool (a cv::CascadeClassifier must not be shared across threads).
type Detector struct {
	cfg DetectorConfig

	mu     sync.Mutex
	idle   []*gocv.CascadeClassifier
	busy   int
	closed bool
	done   chan struct{} // closed when Close has released every classifier
}

// NewDetector loads the cascade once to check it, and keeps it for the pool.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	cfg.setDefaults()
	if cfg.ScaleFactor <= 1 || math.IsNaN(cfg.ScaleFactor) || math.IsInf(cfg.ScaleFactor, 0) {
		return nil, fmt.Errorf("detector: scale factor %v must be greater than 1", cfg.ScaleFactor)
	}
	if cfg.MinNeighbors < 1 {
		return nil, fmt.Errorf("detector: min neighbours %d must be at least 1", cfg.MinNeighbors)
	}
	if cfg.MinSize < 1 {
		return nil, fmt.Errorf("detector: min size %d must be at least 1", cfg.MinSize)
	}
	// OpenCV only reports failure as false, so check the file first for a
	// useful error.
	if _, err := os.Stat(cfg.Cascade); err != nil {
		return nil, fmt.Errorf("detector: cascade: %w (install opencv-data or set the cascade path)", err)
	}
	d := &Detector{cfg: cfg, done: make(chan struct{})}
	cc, err := d.load()
	if err != nil {
		return nil, err
	}
	d.idle = append(d.idle, cc)
	return d, nil
}

// Config returns the configuration with defaults applied.
func (d *Detector) Config() DetectorConfig { return d.cfg }

func (d *Detector) load() (*gocv.CascadeClassifier, error) {
	if err := checkCascade(d.cfg.Cascade); err != nil {
		return nil, fmt.Errorf("detector: %s: %w", d.cfg.Cascade, err)
	}
	cc := gocv.NewCascadeClassifier()
	if !cc.Load(d.cfg.Cascade) {
		cc.Close()
		return nil, fmt.Errorf("detector: %s is not a cascade classifier OpenCV can load", d.cfg.Cascade)
	}
	return &cc, nil
}

var errDetectorClosed = errors.New("detector closed")

func (d *Detector) get() (*gocv.CascadeClassifier, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errDetectorClosed
	}
	d.busy++
	if n := len(d.idle); n > 0 {
		cc := d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		return cc, nil
	}
	d.mu.Unlock()
	cc, err := d.load()
	if err != nil {
		d.put(nil)
		return nil, err
	}
	return cc, nil
}

func (d *Detector) put(cc *gocv.CascadeClassifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.busy--
	if d.closed {
		if cc != nil {
			cc.Close()
		}
		if d.busy == 0 {
			close(d.done)
		}
		return
	}
	if cc != nil {
		d.idle = append(d.idle, cc)
	}
}

// Close releases the classifiers. It waits for Detect calls in flight; a
// Detect after Close finds no faces.
func (d *Detector) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.done
		return
	}
	d.closed = true
	for _, cc := range d.idle {
		cc.Close()
	}
	d.idle = nil
	if d.busy == 0 {
		close(d.done)
	}
	d.mu.Unlock()
	<-d.done
}

// Detect finds faces in img (BGR, BGRA or 8-bit grayscale), largest first.
// An empty image, or a Detector that is closed, yields no faces.
func (d *Detector) Detect(img gocv.Mat) []Face {
	faces, _ := d.detect(img)
	return faces
}

func (d *Detector) detect(img gocv.Mat) ([]Face, error) {
	if img.Empty() {
		return nil, nil
	}
	gray, scale, err := d.working(img)
	if err != nil {
		return nil, err
	}
	defer gray.Close()
	cc, err := d.get()
	if err != nil {
		return nil, err
	}
	// Ask for the raw hits (min neighbours 0 turns OpenCV's grouping off)
	// and group them here, which gives each face its neighbour count.
	raw := cc.DetectMultiScaleWithParams(gray, d.cfg.ScaleFactor, 0, 0,
		image.Pt(d.cfg.MinSize, d.cfg.MinSize), image.Point{})
	d.put(cc)
	groups := groupRectangles(raw, d.cfg.MinNeighbors, groupEps)
	faces := make([]Face, 0, len(groups))
	w, h := img.Cols(), img.Rows()
	for _, g := range groups {
		r := scaleRect(g.Rect, scale).Intersect(image.Rect(0, 0, w, h))
		if r.Empty() {
			continue
		}
		faces = append(faces, Face{
			Rect:       r,
			Box:        boxOf(r, w, h),
			Confidence: neighborConfidence(g.Neighbors),
			Neighbors:  g.Neighbors,
		})
	}
	sortLargestFirst(faces)
	return faces, nil
}

// working converts img to the grayscale, downscaled and equalised image the
// cascade runs on. scale maps working pixels back to img's pixels.
func (d *Detector) working(img gocv.Mat) (gocv.Mat, float64, error) {
	gray, err := toGray(img)
	if err != nil {
		return gocv.Mat{}, 0, err
	}
	scale := 1.0
	if d.cfg.MaxWidth > 0 && gray.Cols() > d.cfg.MaxWidth {
		scale = float64(gray.Cols()) / float64(d.cfg.MaxWidth)
		h := int(math.Round(float64(gray.Rows()) / scale))
		if h < 1 {
			h = 1
		}
		small := gocv.NewMat()
		gocv.Resize(gray, &small, image.Pt(d.cfg.MaxWidth, h), 0, 0, gocv.InterpolationArea)
		gray.Close()
		gray = small
	}
	if !d.cfg.NoEqualize {
		gocv.EqualizeHist(gray, &gray)
	}
	return gray, scale, nil
}

// toGray returns a new 8-bit single-channel copy of img.
func toGray(img gocv.Mat) (gocv.Mat, error) {
	if img.Type()&7 != gocv.MatTypeCV8U&7 {
		return gocv.Mat{}, fmt.Errorf("image depth %v: want 8-bit", img.Type())
	}
	gray := gocv.NewMat()
	switch img.Channels() {
	case 1:
		img.CopyTo(&gray)
	case 3:
		gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
	case 4:
		gocv.CvtColor(img, &gray, gocv.ColorBGRAToGray)
	default:
		gray.Close()
		return gocv.Mat{}, fmt.Errorf("image with %d channels: want 1, 3 or 4", img.Channels())
	}
	return gray, nil
}

func neighborConfidence(n int) float64 {
	return 1 - math.Exp(-float64(n)/10)
}

func scaleRect(r image.Rectangle, s float64) image.Rectangle {
	if s == 1 {
		return r
	}
	f := func(v int) int { return int(math.Round(float64(v) * s)) }
	return image.Rect(f(r.Min.X), f(r.Min.Y), f(r.Max.X), f(r.Max.Y))
}

// boxOf expresses r as ratios of a w×h frame.
func boxOf(r image.Rectangle, w, h int) Box {
	if w <= 0 || h <= 0 {
		return Box{}
	}
	fw, fh := float64(w), float64(h)
	return Box{
		Left:   float64(r.Min.X) / fw,
		Top:    float64(r.Min.Y) / fh,
		Width:  float64(r.Dx()) / fw,
		Height: float64(r.Dy()) / fh,
	}
}

// Rect converts the box back to pixels of a w×h frame.
func (b Box) Rect(w, h int) image.Rectangle {
	fw, fh := float64(w), float64(h)
	return image.Rect(
		int(math.Round(b.Left*fw)), int(math.Round(b.Top*fh)),
		int(math.Round((b.Left+b.Width)*fw)), int(math.Round((b.Top+b.Height)*fh)))
}
