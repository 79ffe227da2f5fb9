package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// rawRequest sends a request line as written, so that no client library
// cleans "..", and returns the status and body.
func rawRequest(t *testing.T, addr, method, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", method, target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// TestBadInputChangesNothing is acceptance 6 of the ingest issue.
func TestBadInputChangesNothing(t *testing.T) {
	data := t.TempDir()
	v := startVigil(t, data)

	// One stream records throughout; nothing below may disturb it.
	cam := smallCamera(t)
	good := startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", cam, "-c", "copy", "-f", "rtsp", "rtsp://"+v.RTSP+"/good")
	testkit.WaitFor(t, 15*time.Second, "the good stream's first fragment", func() bool { return len(v.fragments("good")) > 0 })

	t.Run("invalid stream names are 400", func(t *testing.T) {
		for _, target := range []string{
			"/api/v1/streams/..", "/api/v1/streams/%2e%2e", "/api/v1/streams/%2E%2e/fragments", "/api/v1/streams/.",
			"/api/v1/streams/a%2Fb", "/api/v1/streams/a/b", "/api/v1/streams/" + strings.Repeat("x", 129),
			"/api/v1/streams/bad%20name", "/api/v1/streams/%2e%2e%2f%2e%2e%2fetc", "/api/v1/streams/good/fragments/..",
			"/api/v1/streams/..%2fgood",
		} {
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				code, body := rawRequest(t, v.HTTP, m, target)
				var e struct{ Error, Code string }
				if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
					t.Errorf("%s %s: %d %s, want 400 with a JSON error", m, target, code, body)
				}
			}
		}
	})

	t.Run("unknown stream and fragment are 404 JSON", func(t *testing.T) {
		for _, target := range []string{"/api/v1/streams/nosuch", "/api/v1/streams/nosuch/fragments", "/api/v1/streams/good/fragments/999999999", "/api/v1/streams/nosuch/fragments/1"} {
			code, body := rawRequest(t, v.HTTP, "GET", target)
			var e struct{ Error, Code string }
			if code != http.StatusNotFound || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" || e.Code == "" {
				t.Errorf("GET %s: %d %s, want 404 with a JSON error", target, code, body)
			}
		}
	})

	t.Run("malformed queries are 400", func(t *testing.T) {
		for _, target := range []string{
			"/api/v1/streams/good/fragments?start=yesterday", "/api/v1/streams/good/fragments?limit=-1",
			"/api/v1/streams/good/fragments?cursor=%ff%fe", "/api/v1/streams/good/fragments/abc",
			"/api/v1/streams/good/fragments?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z",
		} {
			if code, body := rawRequest(t, v.HTTP, "GET", target); code != http.StatusBadRequest {
				t.Errorf("GET %s: %d %s, want 400", target, code, body)
			}
		}
		for _, body := range []string{`{"source":"http://x/"}`, `{"nope":1}`, `{"retention":{"max_age":"soon"}}`, `[`} {
			if code := v.doJSON("PUT", "/api/v1/streams/newone", body, nil); code != http.StatusBadRequest {
				t.Errorf("PUT %s: %d, want 400", body, code)
			}
		}
		if code := v.getJSON("/api/v1/streams/newone", nil); code != http.StatusNotFound {
			t.Errorf("a refused PUT created the stream: %d", code)
		}
	})

	t.Run("garbage on the RTSP port is refused", func(t *testing.T) {
		for _, junk := range []string{
			"\x00\x01\x02garbage\r\n\r\n",
			"ANNOUNCE rtsp://" + v.RTSP + "/junk RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 12\r\n\r\nv=0\r\nnonsense",
			"OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n",
			"$\x00\xff\xffzzzz",
		} {
			c, err := net.DialTimeout("tcp", v.RTSP, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(3 * time.Second))
			c.Write([]byte(junk))
			buf := make([]byte, 512)
			c.Read(buf)
			c.Close()
		}
	})

	t.Run("an unsupported codec is refused and logged", func(t *testing.T) {
		ff := startFFmpeg(t, "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3", "-c:v", "mpeg4", "-f", "rtsp", "rtsp://"+v.RTSP+"/oldcam")
		if err := ff.wait(t, 30*time.Second); err == nil {
			t.Errorf("ffmpeg publishing MPEG-4 Part 2 was not refused")
		}
		testkit.WaitFor(t, 5*time.Second, "a log line naming the unsupported codec", func() bool {
			return strings.Contains(strings.ToLower(v.Logs()), "unsupported codec")
		})
	})

	t.Run("a config with an unknown key names the key and line", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(p, []byte("http: \":0\"\nstorage:\n  fragment_target: 2s\n  retension: {max_age: 1h}\n"), 0o644)
		out, err := exec.Command(vigilBin, "serve", "--config", p, "--data", t.TempDir()).CombinedOutput()
		if err == nil {
			t.Fatalf("vigil started with an unknown key")
		}
		if !strings.Contains(string(out), `line 4: unknown key "retension"`) || !strings.Contains(string(out), "bad.yaml") {
			t.Errorf("error does not name the file, key and line: %s", out)
		}
	})

	// The good stream kept recording through all of it.
	before := len(v.fragments("good"))
	testkit.WaitFor(t, 10*time.Second, "the good stream to keep recording", func() bool { return len(v.fragments("good")) > before+1 })
	select {
	case <-good.done:
		t.Fatalf("the good publisher was disconnected: %s", good.out.String())
	default:
	}
	var list struct {
		Streams []struct{ Name string } `json:"streams"`
	}
	v.getJSON("/api/v1/streams", &list)
	for _, s := range list.Streams {
		if s.Name != "good" {
			t.Errorf("bad input created stream %q", s.Name)
		}
	}
}
