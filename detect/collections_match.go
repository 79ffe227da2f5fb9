package detect

import (
	"fmt"
	"sort"

	"gocv.io/x/gocv"
)

// Match is an enrolled face that a face resembles.
type Match struct {
	Collection string  `json:"collection"`
	FaceID     string  `json:"face_id"`
	ExternalID string  `json:"external_id"`
	Similarity float64 `json:"similarity"`
}

// SearchResult is one face of a search image and what it matched.
type SearchResult struct {
	Face    IndexedFace `json:"face"`
	Matches []Match     `json:"matches"`
}

// Match compares a template with every face of the named collections and
// returns the faces that match, highest similarity first, at most
// maxMatches (<= 0: DefaultMaxMatches). A face matches when its similarity
// is at or above its own collection's threshold; nothing below is
// returned, so an empty result means "unknown" (Similarity is there for
// the caller's own filters, such as a notifier's min_similarity). A person
// enrolled with several faces under one external id counts once per
// collection, with their best face; faces without an external id count
// each on their own. Unknown collections, and collections made by another
// recognizer, are skipped. It reads only memory: LBPH compares about
// 300,000 faces a second on one core.
func (c *Collections) Match(collections []string, t Template, maxMatches int) []Match {
	if maxMatches <= 0 {
		maxMatches = DefaultMaxMatches
	}
	name := c.rec.Name()
	var out []Match
	c.mu.RLock()
	seen := map[string]bool{}
	for _, id := range collections {
		mc, ok := c.colls[id]
		if !ok || seen[id] || mc.meta.Recognizer != name {
			continue
		}
		seen[id] = true
		best := map[string]int{} // external id → position in out
		for _, f := range mc.faces {
			s := c.rec.Similarity(t, f.template)
			if s < mc.meta.Threshold {
				continue
			}
			m := Match{Collection: id, FaceID: f.FaceID, ExternalID: f.ExternalID, Similarity: s}
			if f.ExternalID == "" {
				out = append(out, m)
				continue
			}
			if i, ok := best[f.ExternalID]; ok {
				if s > out[i].Similarity {
					out[i] = m
				}
				continue
			}
			best[f.ExternalID] = len(out)
			out = append(out, m)
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Similarity != out[j].Similarity {
			return out[i].Similarity > out[j].Similarity
		}
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].FaceID < out[j].FaceID
	})
	if len(out) > maxMatches {
		out = out[:maxMatches]
	}
	return out
}

// Search finds the faces in an image (largest first, at most
// WithMaxSearchFaces of them) and matches each against collection id, as
// Match does. Errors as IndexFaces: ErrNotFound, ErrRecognizerMismatch,
// ErrNotImage, ErrImageTooLarge, ErrNoFace.
func (c *Collections) Search(id string, data []byte, maxMatches int) ([]SearchResult, error) {
	if _, err := c.usable(id); err != nil {
		return nil, err
	}
	img, err := DecodeImage(data, c.cfg.maxPixels)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	src, faces, err := c.findFaces(img)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if len(faces) > c.cfg.maxSearchFaces {
		faces = faces[:c.cfg.maxSearchFaces]
	}
	out := make([]SearchResult, 0, len(faces))
	for _, f := range faces {
		t, err := c.rec.Template(src.Mat, f.src)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		out = append(out, SearchResult{
			Face:    IndexedFace{Box: f.Box, Confidence: f.Confidence},
			Matches: nonNil(c.Match([]string{id}, t, maxMatches)),
		})
	}
	return out, nil
}

// Identify is the worker's step for one decoded frame: detect the faces,
// make their templates and match them against the collections. Every
// face found is in the result, largest first; a face with no matches is
// unknown. Faces whose template fails (a sliver at the frame's edge) are
// left out.
func (c *Collections) Identify(frame gocv.Mat, collections []string, maxMatches int) []SearchResult {
	faces := c.det.Detect(frame)
	out := make([]SearchResult, 0, len(faces))
	for _, f := range faces {
		t, err := c.rec.Template(frame, f.Rect)
		if err != nil {
			continue
		}
		out = append(out, SearchResult{
			Face:    IndexedFace{Box: f.Box, Confidence: f.Confidence},
			Matches: nonNil(c.Match(collections, t, maxMatches)),
		})
	}
	return out
}

func nonNil(m []Match) []Match {
	if m == nil {
		return []Match{}
	}
	return m
}
