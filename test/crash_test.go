package test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/chunk"
)

// freePort returns a loopback address with a port that was free a moment ago,
// so that restarts of vigil can keep the same RTSP address.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// smallCamera is a light 640x360 H.264 + AAC file that loops well.
func smallCamera(t *testing.T) string {
	return media(t, "cam360.mkv", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000",
		"-t", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "0", "-c:a", "aac", "-f", "matroska")
}

type seen struct {
	size int64
	time time.Time
}

// TestKill9KeepsStoreConsistent is acceptance 4 of the ingest issue: vigil is
// killed with SIGKILL at random moments while two cameras publish, 20 times.
// After every restart each indexed fragment decodes, fragment numbers
// continue without reuse, and every chunk file holds exactly the fragments
// the index lists.
func TestKill9KeepsStoreConsistent(t *testing.T) {
	trials := 20
	if testing.Short() {
		trials = 3
	}
	cam := smallCamera(t)
	data := t.TempDir()
	probeDir := t.TempDir()
	streams := []string{"door", "yard"}
	known := map[string]map[uint64]seen{"door": {}, "yard": {}}
	maxNum := map[string]uint64{}
	rng := rand.New(rand.NewPCG(1, 2))
	rtspAddr := freePort(t)
	probed := 0

	for trial := 0; trial < trials; trial++ {
		v := startVigil(t, data, "--rtsp", rtspAddr)
		v.checkStore(t, streams, known, maxNum, probeDir, &probed, trial)
		var pubs []*ffproc
		for _, s := range streams {
			pubs = append(pubs, startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", cam, "-c", "copy", "-f", "rtsp", "rtsp://"+v.RTSP+"/"+s))
		}
		// Record for 1 to 4 s, then kill at a random moment.
		time.Sleep(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
		v.Kill()
		for _, p := range pubs {
			p.kill()
		}
	}
	v := startVigil(t, data, "--rtsp", rtspAddr)
	v.checkStore(t, streams, known, maxNum, probeDir, &probed, trials)
	total := 0
	for _, s := range streams {
		total += len(known[s])
	}
	if total < trials {
		t.Fatalf("only %d fragments recorded over %d trials: the test did not exercise the store", total, trials)
	}
	t.Logf("%d trials, %d fragments kept, %d decoded with ffprobe", trials, total, probed)
}

// checkStore verifies the store after a restart.
func (v *vigil) checkStore(t *testing.T, streams []string, known map[string]map[uint64]seen, maxNum map[string]uint64, probeDir string, probed *int, trial int) {
	t.Helper()
	for _, s := range streams {
		frags := v.fragments(s)
		if len(frags) == 0 && trial > 0 && len(known[s]) > 0 {
			t.Fatalf("trial %d: %s: all fragments gone after restart", trial, s)
		}
		listed := map[uint64]bool{}
		var newMax uint64
		for _, f := range frags {
			listed[f.Number] = true
			if f.Number > newMax {
				newMax = f.Number
			}
			old, ok := known[s][f.Number]
			if ok {
				if old.size != f.SizeBytes || !old.time.Equal(f.ServerTime) {
					t.Fatalf("trial %d: %s fragment %d was reused: was %d bytes at %v, now %d bytes at %v",
						trial, s, f.Number, old.size, old.time, f.SizeBytes, f.ServerTime)
				}
				continue
			}
			if f.Number <= maxNum[s] {
				t.Fatalf("trial %d: %s: new fragment %d is not above the highest number seen before, %d", trial, s, f.Number, maxNum[s])
			}
			known[s][f.Number] = seen{f.SizeBytes, f.ServerTime}
			p := v.download(s, f.Number, probeDir)
			if msg, n := ffprobeSilent(t, p); msg != "" || n == 0 {
				t.Fatalf("trial %d: %s fragment %d does not decode (%d frames): %s", trial, s, f.Number, n, msg)
			}
			if !firstFrameIsKey(t, p) {
				t.Fatalf("trial %d: %s fragment %d does not start on a keyframe", trial, s, f.Number)
			}
			os.Remove(p)
			*probed++
		}
		for n := range known[s] {
			if !listed[n] {
				t.Fatalf("trial %d: %s: fragment %d was indexed before the kill and is gone", trial, s, n)
			}
		}
		if newMax > maxNum[s] {
			maxNum[s] = newMax
		}
		// Every file on disk is one the index accounts for, and holds exactly
		// the listed fragments: nothing torn, nothing unindexed.
		dir := filepath.Join(v.data, "recordings", s)
		entries, _ := os.ReadDir(dir)
		inFiles := map[uint64]bool{}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if !strings.HasSuffix(e.Name(), chunk.Ext) {
				t.Fatalf("trial %d: stray file %s", trial, p)
			}
			recs, err := scanChunk(p)
			if err != nil {
				t.Fatalf("trial %d: %s: %v", trial, p, err)
			}
			if len(recs) == 0 {
				t.Fatalf("trial %d: %s holds no fragment", trial, p)
			}
			for _, n := range recs {
				if !listed[n] {
					t.Fatalf("trial %d: %s holds fragment %d that the index does not list", trial, p, n)
				}
				inFiles[n] = true
			}
		}
		for n := range listed {
			if !inFiles[n] {
				t.Fatalf("trial %d: index lists %s fragment %d that no chunk file holds", trial, s, n)
			}
		}
	}
}

// scanChunk returns the fragment numbers in a chunk file, or an error when
// the file is not whole (a torn tail, a bad checksum, no init record).
func scanChunk(path string) ([]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	res := chunk.Scan(f, fi.Size())
	if res.Err != nil || res.End != fi.Size() {
		return nil, fmt.Errorf("not whole: end %d of %d: %v", res.End, fi.Size(), res.Err)
	}
	if res.Init.Length == 0 {
		return nil, fmt.Errorf("no init record")
	}
	var nums []uint64
	for _, r := range res.Fragments {
		nums = append(nums, r.Fragment.Number)
	}
	return nums, nil
}
