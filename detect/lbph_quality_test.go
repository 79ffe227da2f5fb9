package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// identity is a person of the quality test: the images enrolled and the
// images that probe.
type identity struct {
	name          string
	train, probes [][]byte
}

// qualityIdentities splits the test faces: the first half of each AT&T
// subject's images is enrolled and the rest probe (gocv ships 4, 5 and
// 10 images of s1, s2 and s3); gocv's author is enrolled from face.jpg and
// probed with face-detect.jpg.
func qualityIdentities(t *testing.T) []identity {
	var ids []identity
	for _, s := range []string{"s1", "s2", "s3"} {
		n := attSubjects[s]
		id := identity{name: s}
		for i := 1; i <= n; i++ {
			if i <= n/2 {
				id.train = append(id.train, attFile(t, s, i))
			} else {
				id.probes = append(id.probes, attFile(t, s, i))
			}
		}
		ids = append(ids, id)
	}
	ids = append(ids, identity{
		name:   "gocv-author",
		train:  [][]byte{gocvFile(t, "images/face.jpg")},
		probes: [][]byte{gocvFile(t, "images/face-detect.jpg")},
	})
	return ids
}

// videoProbes passes the AT&T probes through what a camera test does:
// scaled ×2, centred on a 640×360 frame, encoded with x264 and decoded.
func videoProbes(t *testing.T, ids []identity) []identity {
	needFFmpeg(t)
	dir := t.TempDir()
	n := 0
	for _, id := range ids {
		if id.name == "gocv-author" {
			continue
		}
		for _, p := range id.probes {
			n++
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in%03d.pgm", n)), p, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ffmpeg(t, dir, "-framerate", "1", "-i", "in%03d.pgm",
		"-vf", "scale=184:224,pad=640:360:(ow-iw)/2:(oh-ih)/2,format=yuv420p",
		"-c:v", "libx264", "-g", "50", "-r", "1", "probes.mp4")
	ffmpeg(t, dir, "-i", "probes.mp4", "out%03d.png")
	var out []identity
	n = 0
	for _, id := range ids {
		if id.name == "gocv-author" {
			continue
		}
		v := identity{name: id.name}
		for range id.probes {
			n++
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out%03d.png", n)))
			if err != nil {
				t.Fatal(err)
			}
			v.probes = append(v.probes, b)
		}
		out = append(out, v)
	}
	return out
}

// TestIdentificationQuality (acceptance 2) enrols people through the
// Collections API and probes with held-out images:
//   - top-1: the nearest enrolled person, whatever the similarity, is right;
//   - true accept: the best match at the default threshold is the right
//     person;
//   - false accept: a probe matches at the default threshold in a
//     collection that holds everyone but the probe's person.
func TestIdentificationQuality(t *testing.T) {
	c, _ := newCollections(t)
	ids := qualityIdentities(t)
	if _, err := c.Create("all", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("ranking", 0.0001); err != nil { // every face matches: ranks all
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := c.Create("without-"+id.name, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		for i, img := range id.train {
			targets := []string{"all", "ranking"}
			for _, other := range ids {
				if other.name != id.name {
					targets = append(targets, "without-"+other.name)
				}
			}
			for _, coll := range targets {
				faces, un, err := c.IndexFaces(coll, img, IndexOptions{ExternalID: id.name, Largest: true})
				if err != nil || len(faces) != 1 {
					t.Fatalf("enrol %s image %d in %s: %v, %v, %v", id.name, i+1, coll, faces, un, err)
				}
			}
		}
	}

	evaluate := func(t *testing.T, probes []identity) {
		var n, top1, accept, falseAccept int
		lowestGenuine, highestImpostor := 1.0, 0.0
		for _, id := range probes {
			for i, img := range id.probes {
				n++
				rank, err := c.Search("ranking", img, 10)
				if err != nil || len(rank) == 0 {
					t.Fatalf("%s probe %d: %v", id.name, i, err)
				}
				if m := rank[0].Matches; len(m) > 0 && m[0].ExternalID == id.name {
					top1++
				}
				for _, m := range rank[0].Matches {
					if m.ExternalID == id.name {
						lowestGenuine = min(lowestGenuine, m.Similarity)
					} else {
						highestImpostor = max(highestImpostor, m.Similarity)
					}
				}
				res, err := c.Search("all", img, 1)
				if err != nil {
					t.Fatal(err)
				}
				if m := res[0].Matches; len(m) > 0 {
					if m[0].ExternalID == id.name {
						accept++
					} else {
						falseAccept++
						t.Logf("%s probe %d matched %s at %.3f", id.name, i, m[0].ExternalID, m[0].Similarity)
					}
				}
				res, err = c.Search("without-"+id.name, img, 1)
				if err != nil {
					t.Fatal(err)
				}
				if m := res[0].Matches; len(m) > 0 {
					falseAccept++
					t.Logf("%s probe %d matched %s at %.3f without %s enrolled", id.name, i, m[0].ExternalID, m[0].Similarity, id.name)
				}
			}
		}
		trials := 2 * n // each probe is tried against "all" and against "without-<self>"
		t.Logf("%d probes: top-1 accuracy %.3f; at threshold %.2f: true accept %.3f, false accept %.3f (%d of %d trials); "+
			"lowest genuine similarity %.3f, highest impostor similarity %.3f",
			n, float64(top1)/float64(n), DefaultThreshold, float64(accept)/float64(n),
			float64(falseAccept)/float64(trials), falseAccept, trials, lowestGenuine, highestImpostor)
		if float64(top1)/float64(n) < 0.8 {
			t.Errorf("top-1 accuracy %d/%d under 0.8", top1, n)
		}
		if float64(accept)/float64(n) < 0.6 {
			t.Errorf("true accept %d/%d under 0.6", accept, n)
		}
		// On this data no probe may match someone else at the default
		// threshold (s3 against a collection of s1 and s2, and so on).
		if falseAccept > 0 {
			t.Errorf("%d false accepts", falseAccept)
		}
	}
	t.Run("still", func(t *testing.T) { evaluate(t, ids) })
	t.Run("video", func(t *testing.T) { evaluate(t, videoProbes(t, ids)) })
}
