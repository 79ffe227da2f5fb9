package detect

import (
	"fmt"
	"net/url"
	"time"

	"vigil/events"
)

// newEvent makes the event of one analysed frame (docs/events.md), or nil
// when it has no face. matching says whether the stream has collections:
// without, the type is face.detected; with, face.matched when any face
// matched and face.unknown otherwise. The id is stable for the stream,
// fragment number and frame offset.
func newEvent(n *events.FragmentNotice, offset time.Duration, results []SearchResult, matching bool) *events.Event {
	if len(results) == 0 {
		return nil
	}
	ms := offset.Round(time.Millisecond).Milliseconds()
	at := n.ServerTime.Add(time.Duration(ms) * time.Millisecond).UTC()
	typ := events.FaceDetected
	if matching {
		typ = events.FaceUnknown
	}
	faces := make([]events.FaceResult, len(results))
	for i, r := range results {
		matches := make([]events.Match, len(r.Matches))
		for j, m := range r.Matches {
			matches[j] = events.Match(m)
		}
		if matching && len(matches) > 0 {
			typ = events.FaceMatched
		}
		faces[i] = events.FaceResult{BBox: events.BBox(r.Face.Box), Confidence: r.Face.Confidence, Matches: matches}
	}
	ref := events.FragmentRef{Number: n.Number, ServerTime: n.ServerTime.UTC()}
	if n.ProducerTime != nil {
		pt := n.ProducerTime.UTC()
		ref.ProducerTime = &pt
	}
	return &events.Event{
		ID:            events.StableID(at, fmt.Sprintf("%s/%d/%d", n.Stream, n.Number, ms)),
		Version:       events.SchemaVersion,
		Type:          typ,
		Time:          at,
		Stream:        n.Stream,
		Fragment:      ref,
		FrameOffsetMS: ms,
		Faces:         faces,
		ImageURL:      imageURL(n.Stream, at),
	}
}

// imageURL is the address of the frame shown at `at`, relative to the
// server. The time is given in milliseconds, rounded up: rounded down, a
// frame less than a millisecond after its fragment's (nanosecond) server
// time would be asked for before the fragment starts.
func imageURL(stream string, at time.Time) string {
	if t := at.Truncate(time.Millisecond); !t.Equal(at) {
		at = t.Add(time.Millisecond)
	}
	return fmt.Sprintf("/api/v1/streams/%s/image.jpg?at=%s", url.PathEscape(stream), at.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}
