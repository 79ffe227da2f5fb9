package ingest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"vigil/internal/testkit"
)

func TestPullSourceReconnects(t *testing.T) {
	t.Parallel()
	clip := makeClip(t)
	cam := startCamera(t, "127.0.0.1:0", clip)
	const backoffMax = time.Second
	tm := startTestManager(t, Config{BackoffMin: 100 * time.Millisecond, BackoffMax: backoffMax, ReadTimeout: 2 * time.Second})
	url := "rtsp://" + cam.addr + "/cam"

	tm.SetSource("door", url)
	testkit.WaitFor(t, 10*time.Second, "source online with media", func() bool {
		return tm.Status("door").Online && tm.sinkUnits("door") >= 30
	})
	st := tm.Status("door")
	if st.Source != url || st.Codec != "H264" || st.Width != 320 || st.Height != 240 || st.Reconnects != 0 {
		t.Errorf("status while pulling: %+v", st)
	}
	if math.Abs(st.FPS-25) > 3 || st.Bitrate <= 0 {
		t.Errorf("status FPS %.1f bitrate %d", st.FPS, st.Bitrate)
	}

	cam.close()
	testkit.WaitFor(t, 5*time.Second, "source offline", func() bool {
		st := tm.Status("door")
		return !st.Online && st.LastError != ""
	})
	s := tm.sink("door")
	testkit.WaitFor(t, 5*time.Second, "End after the camera went away", func() bool { return s.count("end") == 1 })
	before := s.count("unit")

	startCamera(t, cam.addr, clip) // the camera comes back on the same address
	testkit.WaitFor(t, backoffMax+time.Second, "source back online", func() bool { return tm.Status("door").Online })
	testkit.WaitFor(t, 5*time.Second, "media after reconnecting", func() bool { return s.count("unit") >= before+25 })
	if st := tm.Status("door"); st.Reconnects < 1 || st.LastError != "" {
		t.Errorf("status after reconnecting: %+v", st)
	}

	// Two runs, each opening with Begin and a keyframe, DTS increasing.
	ev := s.snapshot()
	runs := 0
	for i, e := range ev {
		switch e.kind {
		case "begin":
			runs++
			if next := ev[i+1]; next.kind != "unit" || !next.unit.Key {
				t.Errorf("run %d does not start with a keyframe", runs)
			}
		case "unit":
			if prev := ev[i-1]; prev.kind == "unit" && e.unit.DTS <= prev.unit.DTS {
				t.Errorf("event %d: DTS %d after %d", i, e.unit.DTS, prev.unit.DTS)
			}
		}
	}
	if runs != 2 {
		t.Errorf("got %d runs, want 2", runs)
	}

	// A publisher cannot take over a pulled stream.
	if err := publishJunk(t, tm.url("door"), 0); err == nil {
		t.Error("publishing to a stream with a pull source was accepted")
	}

	// Remove stops the source and ends the hub's session.
	tm.Remove("door")
	if last := s.snapshot(); last[len(last)-1].kind != "end" {
		t.Error("sink did not get End on Remove")
	}
	if st := tm.Status("door"); st != (Status{}) {
		t.Errorf("status of a removed stream: %+v", st)
	}
}

func TestPullSourceReplaceURL(t *testing.T) {
	t.Parallel()
	clip := makeClip(t)
	cam := startCamera(t, "127.0.0.1:0", clip)
	tm := startTestManager(t, Config{BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})

	tm.SetSource("yard", "rtsp://"+deadAddr(t)+"/x")
	testkit.WaitFor(t, 5*time.Second, "a failed attempt", func() bool {
		return strings.Contains(tm.Status("yard").LastError, "refused")
	})
	tm.SetSource("yard", "rtsp://"+cam.addr+"/cam")
	testkit.WaitFor(t, 5*time.Second, "the new source online", func() bool {
		return tm.Status("yard").Online && tm.sinkUnits("yard") > 10
	})
	tm.SetSource("yard", "")
	testkit.WaitFor(t, 5*time.Second, "source stopped", func() bool { return !tm.Status("yard").Online })
	if st := tm.Status("yard"); st.Source != "" {
		t.Errorf("status after removing the source: %+v", st)
	}
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPullSourcesBackoffJitter(t *testing.T) {
	t.Parallel()
	const (
		n        = 20
		attempts = 5
		minD     = 20 * time.Millisecond
		maxD     = 320 * time.Millisecond
	)
	logger, _ := testLogger(t)
	r := rand.New(rand.NewPCG(7, 11))
	m := New(Config{BackoffMin: minD, BackoffMax: maxD, Rand: r.Float64, Logger: logger})
	var mu sync.Mutex
	delays := map[string][]time.Duration{}
	m.onRetry = func(name string, attempt int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if len(delays[name]) != attempt {
			t.Errorf("%s: attempt %d after %d delays", name, attempt, len(delays[name]))
		}
		delays[name] = append(delays[name], d)
	}
	defer m.Close()

	url := "rtsp://" + deadAddr(t) + "/x"
	for i := range n {
		m.SetSource(fmt.Sprintf("s%02d", i), url)
	}
	testkit.WaitFor(t, 20*time.Second, "every source to retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range n {
			if len(delays[fmt.Sprintf("s%02d", i)]) < attempts {
				return false
			}
		}
		return true
	})
	m.Close()

	mu.Lock()
	defer mu.Unlock()
	for k := range attempts {
		distinct := map[time.Duration]bool{}
		for name, ds := range delays {
			if d := ds[k]; d < minD || d > maxD {
				t.Errorf("%s: delay %d = %v outside [%v, %v]", name, k, d, minD, maxD)
			}
			distinct[ds[k]] = true
		}
		if len(distinct) < n*3/4 {
			t.Errorf("retry %d: only %d distinct delays among %d sources (lockstep)", k, len(distinct), n)
		}
	}
	st := m.Status("s00")
	if st.Online || st.Reconnects < attempts-1 || !strings.Contains(st.LastError, "refused") {
		t.Errorf("status of a dead source: %+v", st)
	}
}
