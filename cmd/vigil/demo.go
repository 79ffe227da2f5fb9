package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"time"

	"vigil/streams"
)

// demoStream is the stream `vigil serve --demo` publishes to. It is created
// with demoMaxAge retention, so the demo never fills a disk.
const (
	demoStream = "demo"
	demoMaxAge = time.Hour
)

// The demo picture: ffmpeg's test pattern at 960x540, 15 fps, a keyframe
// every 2 s (the default fragment target), at most 1 Mbit/s (about 450 MB an
// hour), with the wall clock burned in. On two cores it takes about 6 % of
// one; 1280x720 at 25 fps takes about 13 %.
const (
	demoSource = "testsrc2=size=960x540:rate=15"
	// The clock: %{localtime:%F %T}, escaped once for drawtext's option
	// parser and once for the filter graph.
	demoClock = `drawtext=text=%{localtime\\:%F %T}:x=(w-tw)/2:y=h-th-24:fontsize=36:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=10`
)

// demoArgs are ffmpeg's arguments to publish the demo picture to url, with
// the video filter vf ("" for the plain pattern).
func demoArgs(url, vf string) []string {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", demoSource}
	if vf != "" {
		args = append(args, "-vf", vf)
	}
	return append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
		"-b:v", "1M", "-maxrate", "1M", "-bufsize", "2M", "-pix_fmt", "yuv420p",
		"-f", "rtsp", "-rtsp_transport", "tcp", url)
}

// demoCamera is a synthetic camera for a new install: ffmpeg, as a child
// process, publishes a test pattern with the wall clock to vigil's own RTSP
// server. It is supervised like a source: restarted when it exits, with
// capped exponential backoff and jitter.
type demoCamera struct {
	// URL is where ffmpeg publishes, e.g. rtsp://127.0.0.1:8554/demo.
	// Required.
	URL string
	// FFmpeg is the ffmpeg binary. Default "ffmpeg", looked up in PATH.
	FFmpeg string
	// BackoffMin and BackoffMax bound the restart delay; it starts over
	// after a run that lasted BackoffMax. Defaults 1s and 30s.
	BackoffMin, BackoffMax time.Duration
	// Rand returns jitter in [0, 1). Default math/rand/v2's Float64.
	Rand func() float64
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts publishing in the background. Without ffmpeg it logs how to
// install it and does nothing: vigil runs on without its demo.
func (d *demoCamera) Start() error {
	if d.URL == "" {
		return errors.New("demo camera: no URL")
	}
	if d.FFmpeg == "" {
		d.FFmpeg = "ffmpeg"
	}
	if d.BackoffMin <= 0 {
		d.BackoffMin = time.Second
	}
	if d.BackoffMax <= 0 {
		d.BackoffMax = 30 * time.Second
	}
	d.BackoffMax = max(d.BackoffMax, d.BackoffMin)
	if d.Rand == nil {
		d.Rand = rand.Float64
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	d.log = d.Logger.With("component", "demo", "stream", demoStream)
	d.done = make(chan struct{})
	bin, err := exec.LookPath(d.FFmpeg)
	if err != nil {
		d.log.Error("demo camera off: ffmpeg not found; install it with `scripts/deps.sh run` (or apt-get install ffmpeg)", "err", err)
		close(d.done)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer close(d.done)
		d.supervise(ctx, bin)
	}()
	return nil
}

// Close stops ffmpeg (SIGTERM, so it ends its RTSP session; SIGKILL after
// 3 s) and waits for it and the supervisor to exit.
func (d *demoCamera) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	if d.done != nil {
		<-d.done
	}
}

// supervise runs ffmpeg until ctx ends, restarting it when it exits.
func (d *demoCamera) supervise(ctx context.Context, bin string) {
	vf := demoClock
	if err := d.probe(ctx, bin, vf); err != nil {
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("demo camera: the clock overlay does not work with this ffmpeg (drawtext filter or font missing); publishing the plain pattern", "err", err)
		vf = ""
	}
	attempt, last := 0, ""
	for {
		t0 := time.Now()
		err := d.run(ctx, bin, vf)
		if ctx.Err() != nil {
			return
		}
		if time.Since(t0) >= d.BackoffMax {
			attempt, last = 0, ""
		}
		delay := demoBackoff(attempt, d.BackoffMin, d.BackoffMax, d.Rand)
		attempt++
		if msg := err.Error(); msg != last {
			d.log.Warn("demo camera stopped; restarting", "err", err, "retry_in", delay.Round(time.Millisecond))
			last = msg
		} else {
			d.log.Debug("demo camera stopped again", "err", err, "attempt", attempt, "retry_in", delay.Round(time.Millisecond))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// probe renders one frame through vf, to learn whether this ffmpeg has the
// drawtext filter and a font before publishing with them.
func (d *demoCamera) probe(ctx context.Context, bin, vf string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", demoSource, "-vf", vf, "-frames:v", "1", "-f", "null", "-").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(tail(out, 512)))
	}
	return nil
}

// run publishes with one ffmpeg process until it exits or ctx ends.
func (d *demoCamera) run(ctx context.Context, bin, vf string) error {
	cmd := exec.CommandContext(ctx, bin, demoArgs(d.URL, vf)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	d.log.Info("demo camera publishing", "url", d.URL, "pid", cmd.Process.Pid)
	err := cmd.Wait()
	if err == nil {
		err = errors.New("ffmpeg exited")
	}
	if msg := bytes.TrimSpace(tail(stderr.Bytes(), 512)); len(msg) > 0 {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	return b[max(0, len(b)-n):]
}

// demoBackoff is the delay before restart number attempt (0-based): drawn
// uniformly from [minD, upper], where upper = min(maxD, minD·2^(attempt+1)).
// The same policy as ingest's pull sources; rnd returns a value in [0, 1).
func demoBackoff(attempt int, minD, maxD time.Duration, rnd func() float64) time.Duration {
	upper := minD
	for i := 0; i <= attempt && upper < maxD; i++ {
		upper *= 2
	}
	upper = min(upper, maxD)
	return minD + time.Duration(rnd()*float64(upper-minD))
}

// startDemo creates the demo stream unless it is defined already (an
// existing definition is kept as it is) and starts the demo camera
// publishing to it on this node's RTSP server.
func (a *app) startDemo() error {
	s, err := a.registry.Get(demoStream)
	switch {
	case errors.Is(err, streams.ErrNotFound):
		def := streams.Stream{Name: demoStream, Retention: streams.Retention{MaxAge: streams.Duration(demoMaxAge)}, Detect: streams.Detect{FPS: 2}}
		if _, err := a.registry.Put(def); err != nil {
			return fmt.Errorf("demo stream: %w", err)
		}
		a.log.Info("demo stream created", "stream", demoStream, "max_age", demoMaxAge)
	case err != nil:
		return fmt.Errorf("demo stream: %w", err)
	case s.Source != "":
		a.log.Warn("demo camera off: stream demo pulls from a source; delete it or remove its source to see the demo", "stream", demoStream)
		return nil
	}
	a.demo = &demoCamera{URL: "rtsp://" + localAddr(a.ingest.RTSPAddr()) + "/" + demoStream, Logger: a.log}
	return a.demo.Start()
}
