// Command bench measures vigil under many simulated cameras: N publishers,
// each replaying pre-encoded 1080p H.264 at 4 Mbit/s over RTSP (no encoding
// while measuring), into one vigil process. It prints CPU and memory per
// stream and the fragment-close-to-indexed latency that vigil reports in its
// metrics. `make bench` runs it; docs/PERFORMANCE.md records the figures.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

func main() {
	counts := flag.String("streams", "50,100,150", "comma-separated stream counts to measure, one vigil run each")
	dur := flag.Duration("duration", 30*time.Second, "measurement window per run, after a warm-up")
	warm := flag.Duration("warmup", 8*time.Second, "warm-up after all publishers are connected")
	bin := flag.String("vigil", "bin/vigil", "vigil binary")
	flag.Parse()

	aus, err := loadClip()
	if err != nil {
		fail(err)
	}
	var bytes int
	for _, au := range aus {
		for _, p := range au.pkts {
			bytes += len(p.Payload) + 12
		}
	}
	fmt.Printf("clip: %d access units (%.1f s), %.2f Mbit/s as RTP\n", len(aus), float64(len(aus))/25,
		float64(bytes)*8/(float64(len(aus))/25)/1e6)
	fmt.Printf("%8s %10s %12s %12s %14s %12s %12s %10s\n", "streams", "cpu%", "cpu%/stream", "rss MiB", "rss MiB/strm", "p50 ms", "p99 ms", "fragments")
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fail(fmt.Errorf("bad -streams entry %q", f))
		}
		r, err := measure(*bin, n, aus, *warm, *dur)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%8d %10.1f %12.3f %12.1f %14.2f %12.2f %12.2f %10d\n", n, r.cpu, r.cpu/float64(n), r.rss,
			(r.rss-r.idleRSS)/float64(n), r.p50*1000, r.p99*1000, r.frags)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type au struct{ pkts []*rtp.Packet }

var sps, pps []byte

// loadClip encodes (once, cached in the temp dir) ten seconds of 1080p25
// H.264 at a constant 4 Mbit/s and packetizes it into RTP packets.
func loadClip() ([]au, error) {
	p := filepath.Join(os.TempDir(), "vigil-bench-1080p-4M.h264")
	if _, err := os.Stat(p); err != nil {
		fmt.Println("encoding the 1080p test clip (once)…")
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
			"-i", "testsrc2=size=1920x1080:rate=25,noise=alls=12:allf=t", "-t", "10", "-pix_fmt", "yuv420p",
			"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "4M",
			"-x264-params", "nal-hrd=cbr:aud=1:keyint=50:min-keyint=50:scenecut=0", "-bsf:v", "h264_mp4toannexb", "-f", "h264", p+".tmp")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("encode clip: %w", err)
		}
		os.Rename(p+".tmp", p)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	nalus := splitAnnexB(raw)
	if len(nalus) == 0 {
		return nil, fmt.Errorf("parse clip: no NAL units in %s", p)
	}
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	enc, err := forma.CreateEncoder()
	if err != nil {
		return nil, err
	}
	var out []au
	var cur [][]byte
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		pkts, err := enc.Encode(cur)
		if err != nil {
			return err
		}
		out = append(out, au{pkts})
		cur = nil
		return nil
	}
	for _, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
		cur = append(cur, n)
	}
	return out, flush()
}

// splitAnnexB splits an H.264 Annex-B byte stream on its start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			continue
		}
		if start >= 0 {
			end := i
			if end > start && b[end-1] == 0 { // four-byte start code
				end--
			}
			if end > start {
				out = append(out, b[start:end])
			}
		}
		start = i + 3
		i += 2
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

type result struct {
	cpu, rss, idleRSS, p50, p99 float64
	frags                       int64
}

var listenRE = regexp.MustCompile(`msg="(http|rtsp) listening on ([^"\s]+)"`)

func measure(bin string, n int, aus []au, warm, dur time.Duration) (result, error) {
	var r result
	data, err := os.MkdirTemp("", "vigil-bench-data-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(data)
	cmd := exec.Command(bin, "serve", "--data", data, "--http", "127.0.0.1:0", "--rtsp", "127.0.0.1:0", "--nats", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	addrs := map[string]string{}
	sc := bufio.NewScanner(stderr)
	for len(addrs) < 2 && sc.Scan() {
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			addrs[m[1]] = m[2]
		}
	}
	go io.Copy(io.Discard, stderr)
	if len(addrs) < 2 {
		return r, fmt.Errorf("vigil did not start")
	}
	time.Sleep(time.Second)
	r.idleRSS = rssMiB(cmd.Process.Pid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var connected, failed atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := publish(ctx, fmt.Sprintf("rtsp://%s/bench%03d", addrs["rtsp"], i), aus, i, &connected); err != nil && ctx.Err() == nil {
				failed.Add(1)
				fmt.Fprintf(os.Stderr, "publisher %d: %v\n", i, err)
			}
		}(i)
		time.Sleep(20 * time.Millisecond) // spread the GOPs like real cameras
	}
	time.Sleep(warm)
	if c := connected.Load(); c != int64(n) {
		cancel()
		wg.Wait()
		return r, fmt.Errorf("only %d of %d publishers connected", c, n)
	}
	h0, err := scrape(addrs["http"])
	if err != nil {
		cancel()
		wg.Wait()
		return r, err
	}
	c0 := cpuTicks(cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(dur)
	c1 := cpuTicks(cmd.Process.Pid)
	el := time.Since(t0)
	h1, err := scrape(addrs["http"])
	r.rss = rssMiB(cmd.Process.Pid)
	cancel()
	wg.Wait()
	if err != nil {
		return r, err
	}
	if f := failed.Load(); f > 0 {
		return r, fmt.Errorf("%d publishers failed during the run", f)
	}
	r.cpu = float64(c1-c0) / 100 / el.Seconds() * 100 // clock ticks are 1/100 s
	r.p50, r.p99, r.frags = h1.minus(h0).quantiles()
	return r, nil
}

// publish replays the clip in real time, looping, until ctx ends.
func publish(ctx context.Context, url string, aus []au, seed int, connected *atomic.Int64) error {
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}}}
	c := gortsplib.Client{}
	if err := c.StartRecording(url, desc); err != nil {
		return err
	}
	defer c.Close()
	connected.Add(1)
	medi := desc.Medias[0]
	start := time.Now()
	base := uint32(seed) * 7919
	seq := uint16(seed)
	for frame := 0; ; frame++ {
		due := start.Add(time.Duration(frame) * 40 * time.Millisecond)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(due)):
		}
		for _, p := range aus[frame%len(aus)].pkts {
			q := *p
			q.Timestamp = base + uint32(frame*3600)
			q.SequenceNumber = seq
			seq++
			if err := c.WritePacketRTP(medi, &q); err != nil {
				return err
			}
		}
	}
}

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func rssMiB(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// hist is the fragment-close-to-indexed histogram from /metrics.
type hist struct {
	le    []float64
	count []float64
}

var bucketRE = regexp.MustCompile(`^vigil_fragment_index_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$`)

func scrape(addr string) (hist, error) {
	var h hist
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := bucketRE.FindStringSubmatch(sc.Text()); m != nil {
			le, _ := strconv.ParseFloat(m[1], 64)
			c, _ := strconv.ParseFloat(m[2], 64)
			h.le = append(h.le, le)
			h.count = append(h.count, c)
		}
	}
	if len(h.le) == 0 {
		return h, fmt.Errorf("no vigil_fragment_index_latency_seconds histogram in /metrics")
	}
	return h, nil
}

func (h hist) minus(o hist) hist {
	d := hist{le: h.le, count: make([]float64, len(h.count))}
	for i := range h.count {
		d.count[i] = h.count[i] - o.count[i]
	}
	return d
}

// quantiles interpolates p50 and p99 within the cumulative buckets.
func (h hist) quantiles() (p50, p99 float64, n int64) {
	total := h.count[len(h.count)-1]
	q := func(p float64) float64 {
		want := p * total
		prevLE, prevC := 0.0, 0.0
		for i, c := range h.count {
			if c >= want {
				if c == prevC || h.le[i] > 1e9 {
					return prevLE
				}
				return prevLE + (h.le[i]-prevLE)*(want-prevC)/(c-prevC)
			}
			prevLE, prevC = h.le[i], c
		}
		return prevLE
	}
	return q(0.5), q(0.99), int64(total)
}
