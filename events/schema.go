package events

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SchemaVersion is the version of the event schema (docs/events.md).
const SchemaVersion = 1

// Event types.
const (
	FaceDetected = "face.detected"
	FaceMatched  = "face.matched"
	FaceUnknown  = "face.unknown"
)

// Event is one recognition result: the message on vigil.events.<stream>.
type Event struct {
	ID            string       `json:"id"`
	Version       int          `json:"version"`
	Type          string       `json:"type"`
	Time          time.Time    `json:"time"`
	Stream        string       `json:"stream"`
	Fragment      FragmentRef  `json:"fragment"`
	FrameOffsetMS int64        `json:"frame_offset_ms"`
	Faces         []FaceResult `json:"faces"`
	ImageURL      string       `json:"image_url"`
}

// FragmentRef names the fragment an event was found in.
type FragmentRef struct {
	Number       uint64     `json:"number"`
	ProducerTime *time.Time `json:"producer_time,omitempty"`
	ServerTime   time.Time  `json:"server_time"`
}

// FaceResult is one face in the frame.
type FaceResult struct {
	BBox       BBox    `json:"bbox"`
	Confidence float64 `json:"confidence"`
	Matches    []Match `json:"matches"`
}

// BBox is a bounding box as ratios of the frame's width and height.
type BBox struct {
	Left   float64 `json:"left"`
	Top    float64 `json:"top"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Match is an enrolled face the detected face resembles.
type Match struct {
	Collection string  `json:"collection"`
	FaceID     string  `json:"face_id"`
	ExternalID string  `json:"external_id"`
	Similarity float64 `json:"similarity"`
}

// NewID returns a unique, time-ordered event id: a ULID (48 bits of
// milliseconds, 80 random bits, in Crockford base 32), so ids sort by time.
func NewID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	rand.Read(b[6:])
	return encodeULID(b)
}

// PublishEvent publishes an event and waits for JetStream to store it. The
// event id is the message id, so a republished event is a duplicate.
func (b *Bus) PublishEvent(ctx context.Context, e *Event) error {
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	e.Version = SchemaVersion
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := b.js.Publish(ctx, EventsSubject+e.Stream, data, jetstream.WithMsgID(e.ID)); err != nil {
		return fmt.Errorf("events: publish %s: %w", e.ID, err)
	}
	return nil
}
