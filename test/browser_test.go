package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// Browser tests play vigil's HLS in Debian's Chromium, driven by the Node
// scripts in test/browser (playwright-core), through the embedded player
// page /ui/player.html and its vendored hls.js.

const chromiumPath = "/usr/bin/chromium"

// browserNode checks what the browser tests need and returns the node
// binary. Nothing is skipped: a missing piece fails the test.
func browserNode(t *testing.T) string {
	t.Helper()
	const fix = "run scripts/deps.sh test"
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need Debian's chromium at %s: %s", chromiumPath, fix)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("browser tests need node: %s", fix)
	}
	var want, got struct {
		Dependencies map[string]string `json:"dependencies"`
		Version      string            `json:"version"`
	}
	readJSON := func(p string, v any) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	}
	if err := readJSON("browser/package.json", &want); err != nil {
		t.Fatal(err)
	}
	if err := readJSON("browser/node_modules/playwright-core/package.json", &got); err != nil {
		t.Fatalf("browser tests need test/browser/node_modules: %s", fix)
	}
	if pin := want.Dependencies["playwright-core"]; got.Version != pin {
		t.Fatalf("test/browser/node_modules has playwright-core %s, package.json pins %s: %s", got.Version, pin, fix)
	}
	return node
}

// browserLog is what every script reports besides its own figures.
type browserLog struct {
	Error         string           `json:"error"`
	ConsoleErrors []string         `json:"consoleErrors"`
	PageErrors    []string         `json:"pageErrors"`
	CSPViolations []map[string]any `json:"cspViolations"`
	HLSErrors     []struct {
		Details string `json:"details"`
		Fatal   bool   `json:"fatal"`
	} `json:"hlsErrors"`
	Waiting []map[string]any `json:"waiting"`
	Stalls  int              `json:"stalls"`
}

// check fails the test on a script error, a page error, a blocked resource
// or a fatal hls.js error, and logs the rest.
func (l browserLog) check(t *testing.T) {
	t.Helper()
	if l.Error != "" {
		t.Fatalf("browser script: %s", l.Error)
	}
	if len(l.PageErrors) > 0 {
		t.Errorf("page errors: %q", l.PageErrors)
	}
	if len(l.CSPViolations) > 0 {
		t.Errorf("content security policy violations: %v", l.CSPViolations)
	}
	for _, e := range l.HLSErrors {
		if e.Fatal {
			t.Errorf("fatal hls.js error: %s", e.Details)
		} else {
			t.Logf("hls.js error (recovered): %s", e.Details)
		}
	}
	if len(l.ConsoleErrors) > 0 {
		t.Logf("console errors: %q", l.ConsoleErrors)
	}
}

// runBrowser runs test/browser/script with args and decodes the JSON line
// it prints into out.
func runBrowser(t *testing.T, node, script string, timeout time.Duration, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = "browser"
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	t.Logf("%s ran %v", script, time.Since(t0).Round(100*time.Millisecond))
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	if jerr := json.Unmarshal([]byte(last), out); jerr != nil {
		t.Fatalf("%s: %v; no JSON result (%v)\nstdout: %s\nstderr: %s", script, err, jerr, stdout.String(), stderr.String())
	}
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", script, err, stderr.String())
	}
	t.Logf("%s: %s", script, last)
}

// playlist fetches an HLS playlist for a failure message.
func (v *vigil) playlist(path string) string {
	resp, err := http.Get(v.url(path))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("GET %s: %d\n%s", path, resp.StatusCode, b)
}

// seekResult is where a seek in vod.mjs went: the media time asked for,
// the program date there, and the playing date once playback resumed.
type seekResult struct {
	Target      float64   `json:"target"`
	TargetDate  time.Time `json:"targetDate"`
	CurrentTime float64   `json:"currentTime"`
	PlayingDate time.Time `json:"playingDate"`
}

// camera360 is 10 s of 640x360 25 fps H.264 with a keyframe every second.
func camera360(t *testing.T) string {
	return media(t, "cam360-h264-gop1.mkv", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "10",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-keyint_min", "25",
		"-sc_threshold", "0", "-f", "matroska")
}

// TestBrowserPlayback: ffmpeg publishes a looping 640x360 H.264 camera in
// real time. Live: Chromium plays /hls/cam/index.m3u8 and its position
// advances for 10 s with no stall after startup. VOD: once 40 s are
// recorded, Chromium plays a 30 s range (?start=&end=), seeks to the middle
// of its timeline, and the PROGRAM-DATE-TIME playing there is the middle of
// the requested range within one fragment (2 s); a seek by date through the
// player's seekToDate lands on the date asked for.
func TestBrowserPlayback(t *testing.T) {
	node := browserNode(t)
	cam := camera360(t)
	v := startVigil(t, t.TempDir())
	startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", cam, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp",
		"rtsp://"+v.RTSP+"/cam")
	base := "http://" + v.HTTP
	testkit.WaitFor(t, 30*time.Second, "three fragments", func() bool { return len(v.fragments("cam")) >= 3 })

	t.Run("live", func(t *testing.T) {
		var res struct {
			browserLog
			StartupMS int     `json:"startupMs"`
			Advanced  float64 `json:"advanced"`
			Samples   []struct {
				Wall        float64 `json:"wall"`
				CurrentTime float64 `json:"currentTime"`
			} `json:"samples"`
		}
		runBrowser(t, node, "live.mjs", 90*time.Second, &res, "--base", base, "--stream", "cam", "--seconds", "10")
		defer func() {
			if t.Failed() {
				t.Log(v.playlist("/hls/cam/index.m3u8"))
			}
		}()
		res.check(t)
		// A sampler that ran late means the machine was starved, which
		// stalls playback too: say so next to a failure.
		var late float64
		for i := 1; i < len(res.Samples); i++ {
			late = max(late, res.Samples[i].Wall-res.Samples[i-1].Wall-1)
		}
		if res.Stalls > 0 {
			t.Errorf("%d stalls after startup (the once-a-second sampler ran up to %.1f s late): %v", res.Stalls, late, res.Waiting)
		}
		if res.Advanced < 9 {
			t.Errorf("currentTime advanced %.2f s in 10 s of wall time, want at least 9", res.Advanced)
		}
		for i := 1; i < len(res.Samples); i++ {
			if d := res.Samples[i].CurrentTime - res.Samples[i-1].CurrentTime; d < 0.5 {
				t.Errorf("currentTime advanced %.2f s between seconds %d and %d", d, i-1, i)
			}
		}
		t.Logf("live: started in %d ms, advanced %.2f s over 10 s, %d stalls", res.StartupMS, res.Advanced, res.Stalls)
	})

	t.Run("vod", func(t *testing.T) {
		first := v.fragments("cam")[0].ServerTime
		start := first.Add(5300 * time.Millisecond) // inside a fragment, not on a boundary
		end := start.Add(30 * time.Second)
		testkit.WaitFor(t, 70*time.Second, "40 s recorded", func() bool {
			frags := v.fragments("cam")
			f := frags[len(frags)-1]
			return !f.ServerTime.Add(time.Duration(f.DurationMS * float64(time.Millisecond))).Before(first.Add(40 * time.Second))
		})
		middle := start.Add(15 * time.Second)
		byDate := start.Add(10 * time.Second)
		ts := func(x time.Time) string { return x.UTC().Format(time.RFC3339Nano) }
		var res struct {
			browserLog
			Duration     float64    `json:"duration"`
			Live         bool       `json:"live"`
			Fragments    int        `json:"fragments"`
			FirstDate    time.Time  `json:"firstDate"`
			DatesOnEvery bool       `json:"datesOnEvery"`
			Middle       seekResult `json:"middle"`
			ByDate       seekResult `json:"byDate"`
		}
		runBrowser(t, node, "vod.mjs", 90*time.Second, &res, "--base", base, "--stream", "cam",
			"--start", ts(start), "--end", ts(end), "--date", ts(byDate))
		defer func() {
			if t.Failed() {
				t.Log(v.playlist("/hls/cam/index.m3u8?start=" + ts(start) + "&end=" + ts(end)))
			}
		}()
		res.check(t)
		if res.Live || !res.DatesOnEvery {
			t.Errorf("playlist: live=%v, program date on every segment=%v; want an ended playlist dating every segment", res.Live, res.DatesOnEvery)
		}
		if d := start.Sub(res.FirstDate); d < -50*time.Millisecond || d > 2*time.Second {
			t.Errorf("first segment dated %s, %v before the requested start %s; want within one fragment", ts(res.FirstDate), d, ts(start))
		}
		if res.Duration < 29 || res.Duration > 34.5 {
			t.Errorf("duration %.2f s for a 30 s range", res.Duration)
		}
		if d := res.Middle.TargetDate.Sub(middle); math.Abs(d.Seconds()) > 2 {
			t.Errorf("seeking to the middle of the timeline (%.2f s) played %s, %v from the requested middle %s",
				res.Middle.Target, ts(res.Middle.TargetDate), d, ts(middle))
		}
		if d := res.ByDate.TargetDate.Sub(byDate); math.Abs(d.Seconds()) > 0.5 {
			t.Errorf("seekToDate(%s) played %s (%v off)", ts(byDate), ts(res.ByDate.TargetDate), d)
		}
		t.Logf("vod: %d segments, %.2f s; middle: %s for %s; by date: %s for %s; %d stalls after seeks",
			res.Fragments, res.Duration, ts(res.Middle.TargetDate), ts(middle), ts(res.ByDate.TargetDate), ts(byDate), res.Stalls)
	})
}

// The embedded player page's own requests stay on vigil's origin and the
// vendored hls.js loads: a page with no stream chosen renders its form with
// no errors.
func TestBrowserPlayerPageLoads(t *testing.T) {
	node := browserNode(t)
	v := startVigil(t, t.TempDir())
	var res struct {
		browserLog
		HLSVersion string `json:"hlsVersion"`
		Supported  bool   `json:"supported"`
		Status     string `json:"status"`
		Labels     int    `json:"labelledInputs"`
	}
	runBrowser(t, node, "page.mjs", 60*time.Second, &res, "--base", "http://"+v.HTTP)
	res.check(t)
	if !res.Supported || res.HLSVersion == "" {
		t.Errorf("hls.js %q, supported=%v", res.HLSVersion, res.Supported)
	}
	vendored, err := os.ReadFile(filepath.Join("..", "web", "ui", "vendor", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(vendored), "hls.js "+res.HLSVersion+"\n") {
		t.Errorf("page runs hls.js %s; vendor/VERSION says %q", res.HLSVersion, strings.SplitN(string(vendored), "\n", 2)[0])
	}
	if res.Labels != 3 || res.Status == "" {
		t.Errorf("form: %d labelled inputs (want 3), status %q", res.Labels, res.Status)
	}
}
