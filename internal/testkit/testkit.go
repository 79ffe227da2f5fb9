// Package testkit holds the helpers vigil's tests share across packages:
// polling for a condition, a log destination safe for concurrent writers,
// running a tool such as ffmpeg with its stderr in the error, and reading a
// media file's packets with ffprobe. Only tests import it.
package testkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond until it holds, or fails t once timeout has passed.
// It polls every 5 ms at first and backs off to every 100 ms, so a quick
// condition is seen at once and a slow one (an HTTP request, a file scan)
// is not hammered.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// LogBuffer is a log destination that goroutines may write concurrently.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many times s has been written.
func (b *LogBuffer) Count(s string) int { return strings.Count(b.String(), s) }

// Run runs a command and returns its stdout; a failure's error carries the
// command line and its stderr.
func Run(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, fmt.Errorf("%s %v: %w: %s", name, args, err, ee.Stderr)
	}
	return out, err
}

// Packet is one packet as ffprobe reports it.
type Packet struct {
	CodecType string `json:"codec_type"` // "video" or "audio"
	PTS, DTS  int64
	Flags     string // "K__" for a keyframe
}

// ProbePackets lists the packets of the media file at path, in file order.
func ProbePackets(path string) ([]Packet, error) {
	out, err := Run("ffprobe", "-v", "error", "-show_entries", "packet=codec_type,pts,dts,flags", "-of", "json", path)
	if err != nil {
		return nil, err
	}
	var probe struct{ Packets []Packet }
	if err := json.Unmarshal(out, &probe); err != nil {
		return nil, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	return probe.Packets, nil
}
