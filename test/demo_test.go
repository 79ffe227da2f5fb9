package test

import (
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"
)

var demoStartRE = regexp.MustCompile(`msg="demo camera publishing" component=demo stream=demo url=(\S+) pid=(\d+)`)

// demoPIDs returns the URL the demo camera publishes to and the pid of
// every ffmpeg vigil has started for it.
func demoPIDs(v *vigil) (url string, pids []string) {
	for _, m := range demoStartRE.FindAllStringSubmatch(v.Logs(), -1) {
		url = m[1]
		pids = append(pids, m[2])
	}
	return url, pids
}

// TestDemo: `vigil serve --demo` creates the demo stream with a short
// retention and records a synthetic camera into it, published by an ffmpeg
// child on vigil's own RTSP port; stopping vigil stops that ffmpeg.
func TestDemo(t *testing.T) {
	v := startVigil(t, t.TempDir(), "--demo")
	var def struct {
		Retention struct {
			MaxAge string `json:"max_age"`
		} `json:"retention"`
		Source string `json:"source"`
	}
	if code := v.getJSON("/api/v1/streams/demo", &def); code != 200 || def.Retention.MaxAge != "1h0m0s" || def.Source != "" {
		t.Fatalf("GET /api/v1/streams/demo: %d %+v", code, def)
	}
	var frags []fragment
	testkit.WaitFor(t, 60*time.Second, "two demo fragments", func() bool {
		frags = v.fragments("demo")
		return len(frags) >= 2
	})
	p := v.download("demo", frags[1].Number, t.TempDir())
	if msg, n := ffprobeSilent(t, p); msg != "" || n < 15 {
		t.Fatalf("demo fragment %d: ffprobe %q, %d frames", frags[1].Number, msg, n)
	}

	url, pids := demoPIDs(v)
	_, port, _ := net.SplitHostPort(v.RTSP)
	if url != "rtsp://127.0.0.1:"+port+"/demo" || len(pids) == 0 {
		t.Fatalf("demo published to %q (vigil's RTSP is %s), pids %v", url, v.RTSP, pids)
	}
	if err := v.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// vigil waits for its ffmpeg before it exits: none may be left, not
	// even as a zombie.
	for _, pid := range pids {
		if b, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && strings.Contains(string(b), "(ffmpeg)") {
			t.Errorf("demo ffmpeg %s still exists after vigil stopped: %s", pid, b)
		}
	}
	if strings.Contains(v.Logs(), "demo camera stopped") {
		t.Errorf("the demo camera failed while running:\n%s", v.Logs())
	}
}

// TestDemoKeepsExistingStream: a stream named demo that exists already is
// published to as it is, not redefined.
func TestDemoKeepsExistingStream(t *testing.T) {
	data := t.TempDir()
	v := startVigil(t, data)
	body := `{"retention":{"max_age":"5h","max_bytes":"1GiB"},"detect":{"enabled":false,"fps":1,"collections":[]}}`
	if code := v.doJSON("PUT", "/api/v1/streams/demo", body, nil); code != 201 {
		t.Fatalf("PUT demo: %d", code)
	}
	type def struct {
		Retention struct {
			MaxAge   string `json:"max_age"`
			MaxBytes int64  `json:"max_bytes"`
		} `json:"retention"`
		Detect struct {
			FPS float64 `json:"fps"`
		} `json:"detect"`
		Created time.Time `json:"created"`
		Status  struct {
			Online bool `json:"online"`
		} `json:"status"`
	}
	var before def
	v.getJSON("/api/v1/streams/demo", &before)
	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}

	v = startVigil(t, data, "--demo")
	var after def
	testkit.WaitFor(t, 30*time.Second, "the demo camera online", func() bool {
		v.getJSON("/api/v1/streams/demo", &after)
		return after.Status.Online
	})
	if after.Retention != before.Retention || after.Detect != before.Detect || !after.Created.Equal(before.Created) ||
		after.Retention.MaxAge != "5h0m0s" || after.Retention.MaxBytes != 1<<30 {
		t.Errorf("demo redefined: before %+v, after %+v", before, after)
	}
	if strings.Contains(v.Logs(), "demo stream created") {
		t.Error(`logged "demo stream created" for an existing stream`)
	}
}
