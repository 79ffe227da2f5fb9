package fragments

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"vigil/internal/testkit"
	"vigil/media"
)

// makeOpus makes an audio-only Opus stream; packet payloads come from
// ffprobe's hex dump.
func makeOpus(spec mediaSpec, base string) (*testMedia, error) {
	ogg := base + ".ogg"
	if _, err := testkit.Run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(spec.seconds), "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", ogg); err != nil {
		return nil, err
	}
	out, err := testkit.Run("ffprobe", "-v", "error", "-show_entries", "packet=pts,data", "-show_data", "-of", "json", ogg)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Packets []struct {
			PTS  int64
			Data string
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		return nil, err
	}
	m := &testMedia{frameDur: 40 * time.Millisecond, audioCodec: "opus",
		tracks: []media.Track{{Codec: media.Opus, ClockRate: 48000, SampleRate: 48000, Channels: 1}}}
	for _, p := range probe.Packets {
		var payload []byte
		for _, line := range strings.Split(p.Data, "\n") {
			if len(line) < 10 {
				continue
			}
			hexPart := strings.ReplaceAll(line[10:min(len(line), 49)], " ", "")
			b, err := hex.DecodeString(hexPart)
			if err != nil {
				return nil, fmt.Errorf("hex dump line %q: %w", line, err)
			}
			payload = append(payload, b...)
		}
		m.units = append(m.units, media.Unit{PTS: p.PTS + tickOffset, DTS: p.PTS + tickOffset, Key: true,
			Payload: [][]byte{payload}})
	}
	m.timeUnits()
	return m, nil
}
