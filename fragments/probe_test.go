package fragments

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// probeInfo is what ffprobe says about an MP4.
type probeInfo struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		NbReadFrames string `json:"nb_read_frames"`
	}
	Packets []struct {
		CodecType string `json:"codec_type"`
		Flags     string
	}
}

// probeMP4 writes b to a file, checks that ffprobe decodes it without a
// word of complaint and returns its streams and packets.
func probeMP4(t *testing.T, b []byte) probeInfo {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.mp4")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_type,codec_name,nb_read_frames:packet=codec_type,flags", "-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe: %v: %s", err, stderr.String())
	}
	var info probeInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info
}
