// Package test holds end-to-end tests of the built vigil binary against real
// peers: ffmpeg publishing RTSP, ffprobe judging what vigil stores, and plain
// HTTP clients on loopback.
package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	vigilBin string // built once by TestMain
	mediaDir string // media made once by ffmpeg, shared by tests
)

func TestMain(m *testing.M) {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "end-to-end tests need %s: run scripts/deps.sh test\n", tool)
			os.Exit(1)
		}
	}
	dir, err := os.MkdirTemp("", "vigil-e2e-")
	if err != nil {
		panic(err)
	}
	vigilBin = filepath.Join(dir, "vigil")
	mediaDir = filepath.Join(dir, "media")
	os.MkdirAll(mediaDir, 0o755)
	build := exec.Command("go", "build", "-o", vigilBin, "../cmd/vigil")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vigil:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vigil is one running vigil process.
type vigil struct {
	t        *testing.T
	cmd      *exec.Cmd
	data     string
	HTTP     string // host:port
	RTSP     string // host:port
	NATS     string // host:port of the embedded NATS server
	MQTT     string // host:port of its MQTT listener, when configured
	mu       sync.Mutex
	logs     strings.Builder
	exited   chan struct{}
	exitErr  error
	extraArg []string
}

var listenRE = regexp.MustCompile(`msg="(http|rtsp|nats|mqtt) listening on ([^"\s]+)"`)

// startVigil starts vigil on loopback with free ports and the given data
// directory and extra flags, and waits until it has logged its addresses.
func startVigil(t *testing.T, data string, args ...string) *vigil {
	t.Helper()
	v := &vigil{t: t, data: data, exited: make(chan struct{}), extraArg: args}
	all := append([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--rtsp", "127.0.0.1:0", "--nats", "127.0.0.1:0"}, args...)
	v.cmd = exec.Command(vigilBin, all...)
	stderr, err := v.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	v.cmd.Stdout = io.Discard
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 4)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			v.mu.Lock()
			v.logs.WriteString(line + "\n")
			v.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addrs <- [2]string{m[1], m[2]}
			}
		}
		v.exitErr = v.cmd.Wait()
		close(v.exited)
	}()
	deadline := time.After(15 * time.Second)
	for v.HTTP == "" || v.RTSP == "" {
		select {
		case a := <-addrs:
			switch a[0] {
			case "http":
				v.HTTP = a[1]
			case "rtsp":
				v.RTSP = a[1]
			case "nats":
				v.NATS = a[1]
			case "mqtt":
				v.MQTT = a[1]
			}
		case <-v.exited:
			t.Fatalf("vigil exited during start: %v\n%s", v.exitErr, v.Logs())
		case <-deadline:
			v.Kill()
			t.Fatalf("vigil did not log its addresses within 15s:\n%s", v.Logs())
		}
	}
	t.Cleanup(func() {
		v.Stop()
		if t.Failed() {
			t.Logf("vigil log:\n%s", v.Logs())
		}
	})
	return v
}

// Logs returns everything vigil has logged so far.
func (v *vigil) Logs() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.logs.String()
}

// Stop sends SIGTERM and waits up to 15 s for a clean exit.
func (v *vigil) Stop() error {
	select {
	case <-v.exited:
		return v.exitErr
	default:
	}
	v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-v.exited:
		return v.exitErr
	case <-time.After(15 * time.Second):
		v.Kill()
		return fmt.Errorf("vigil did not stop within 15s of SIGTERM")
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (v *vigil) Kill() {
	v.cmd.Process.Kill()
	<-v.exited
}

func (v *vigil) url(path string) string { return "http://" + v.HTTP + path }

// getJSON GETs path and decodes the JSON body into out, returning the status.
func (v *vigil) getJSON(path string, out any) int {
	v.t.Helper()
	return v.doJSON("GET", path, "", out)
}

func (v *vigil) doJSON(method, path, body string, out any) int {
	v.t.Helper()
	req, err := http.NewRequest(method, v.url(path), strings.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			v.t.Fatalf("%s %s: status %d, body is not JSON: %v: %q", method, path, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}

// fragment is one entry of the fragments API.
type fragment struct {
	Number       uint64     `json:"number"`
	Run          uint64     `json:"run"`
	ProducerTime *time.Time `json:"producer_time"`
	ServerTime   time.Time  `json:"server_time"`
	DurationMS   float64    `json:"duration_ms"`
	SizeBytes    int64      `json:"size_bytes"`
	Keyframe     bool       `json:"keyframe"`
}

// fragments lists every fragment of a stream, following cursors.
func (v *vigil) fragments(stream string) []fragment {
	v.t.Helper()
	var all []fragment
	cursor := ""
	for {
		var page struct {
			Fragments  []fragment `json:"fragments"`
			NextCursor string     `json:"next_cursor"`
		}
		path := "/api/v1/streams/" + stream + "/fragments?limit=500"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		switch st := v.getJSON(path, &page); st {
		case http.StatusOK:
		case http.StatusNotFound: // the stream does not exist yet
			return nil
		default:
			v.t.Fatalf("GET %s: status %d", path, st)
		}
		all = append(all, page.Fragments...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// download saves one fragment as an MP4 file and returns its path.
func (v *vigil) download(stream string, n uint64, dir string) string {
	v.t.Helper()
	resp, err := http.Get(v.url(fmt.Sprintf("/api/v1/streams/%s/fragments/%d", stream, n)))
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
		b, _ := io.ReadAll(resp.Body)
		v.t.Fatalf("fragment %s/%d: status %d type %q: %s", stream, n, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%d.mp4", stream, n))
	f, err := os.Create(p)
	if err != nil {
		v.t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		v.t.Fatal(err)
	}
	return p
}

// ffmpeg runs ffmpeg with args in the background until ctx ends or it exits;
// its stderr is kept for failure messages.
type ffproc struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan struct{}
	err  error
}

func startFFmpeg(t *testing.T, args ...string) *ffproc {
	t.Helper()
	p := &ffproc{done: make(chan struct{})}
	p.cmd = exec.Command("ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)...)
	p.cmd.Stderr = &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *ffproc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits for ffmpeg to exit within timeout.
func (p *ffproc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		t.Fatalf("ffmpeg still running after %v: %s", timeout, p.out.String())
		return nil
	}
}

var mediaOnce sync.Map // name -> *sync.Once

// media makes (once per test run) a file with ffmpeg and returns its path.
func media(t *testing.T, name string, args ...string) string {
	t.Helper()
	p := filepath.Join(mediaDir, name)
	o, _ := mediaOnce.LoadOrStore(name, &sync.Once{})
	var err error
	var out []byte
	o.(*sync.Once).Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
		out, err = exec.CommandContext(ctx, "ffmpeg", append(full, p)...).CombinedOutput()
	})
	if err != nil {
		t.Fatalf("make %s: %v: %s", name, err, out)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("media %s missing (an earlier attempt failed)", name)
	}
	return p
}

// camera720 is 20 s of 1280x720 25 fps video with AAC audio: H.264 or H.265,
// keyframe every 2 s, with B-frames. H.265 uses closed GOPs, as cameras do:
// with x265's default open GOPs every fragment but the first starts on a CRA
// picture, and decoded on its own (not after the previous fragment, as a
// player does) it skips the leading RASL picture.
func camera720(t *testing.T, codec string) string {
	enc := map[string][]string{
		"h264": {"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0"},
		"h265": {"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=50:min-keyint=50:scenecut=0:bframes=2:open-gop=0:log-level=error"},
	}[codec]
	args := []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "20", "-pix_fmt", "yuv420p"}
	args = append(args, enc...)
	args = append(args, "-c:a", "aac", "-b:a", "64k", "-f", "matroska")
	return media(t, "cam720-"+codec+".mkv", args...)
}

// ffprobeSilent decodes every frame of a file with ffprobe -v error and
// returns what ffprobe printed on stderr (empty for a clean file) and the
// number of video frames it decoded.
func ffprobeSilent(t *testing.T, path string) (stderr string, frames int) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path)
	var se strings.Builder
	cmd.Stderr = &se
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("ffprobe failed: %v: %s", err, se.String()), 0
	}
	fmt.Sscanf(strings.TrimSpace(string(out)), "%d", &frames)
	return se.String(), frames
}

// firstFrameIsKey reports whether the first video frame of a file is a keyframe.
func firstFrameIsKey(t *testing.T, path string) bool {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
		"-show_entries", "frame=key_frame", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return strings.HasPrefix(strings.TrimSpace(string(out)), "1")
}
