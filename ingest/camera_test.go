package ingest

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// testClip is a short 25 fps H.264 clip (GOP of 25, no B-frames) made
// with ffmpeg, as access units; parameter sets are in-band before each IDR,
// as many cameras send them.
type testClip struct {
	sps, pps []byte
	aus      [][][]byte
}

func makeClip(t *testing.T) *testClip {
	t.Helper()
	return makeClipSize(t, "320x240")
}

func makeClipSize(t *testing.T, size string) *testClip {
	t.Helper()
	requireFFmpeg(t)
	path := filepath.Join(t.TempDir(), "clip.h264")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := ffmpeg(ctx, "-f", "lavfi", "-i", "testsrc=size="+size+":rate=25", "-t", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p",
		"-bsf:v", "h264_metadata=aud=insert", "-f", "h264", path)
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &testClip{}
	nalus := splitAnnexB(data)
	var au [][]byte
	for _, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			if len(au) > 0 {
				c.aus = append(c.aus, au)
			}
			au = nil
			continue
		case h264.NALUTypeSPS:
			c.sps = n
		case h264.NALUTypePPS:
			c.pps = n
		}
		au = append(au, n)
	}
	if len(au) > 0 {
		c.aus = append(c.aus, au)
	}
	if len(c.aus) != 50 || c.sps == nil || !h264.IsRandomAccess(c.aus[0]) {
		t.Fatalf("clip has %d access units, sps %v", len(c.aus), c.sps != nil)
	}
	return c
}

// splitAnnexB splits an Annex-B byte stream at its start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+3 <= len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(b[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// testCamera is an RTSP server that plays a clip in a loop at real time to
// any reader, like an IP camera.
type testCamera struct {
	addr   string
	srv    *gortsplib.Server
	stream *gortsplib.ServerStream
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type cameraHandler struct {
	mu     sync.Mutex
	stream *gortsplib.ServerStream
}

func (h *cameraHandler) get() *gortsplib.ServerStream {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stream
}

func (h *cameraHandler) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.get(), nil
}

func (h *cameraHandler) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.get(), nil
}

func (h *cameraHandler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// startCamera serves clip on addr ("127.0.0.1:0" for a free port).
func startCamera(t *testing.T, addr string, clip *testClip) *testCamera {
	t.Helper()
	h := &cameraHandler{}
	var ln net.Listener
	srv := &gortsplib.Server{
		Handler:     h,
		RTSPAddress: addr,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			ln = l
			return l, err
		},
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	forma := &format.H264{PayloadTyp: 96, SPS: clip.sps, PPS: clip.pps, PacketizationMode: 1}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	stream := &gortsplib.ServerStream{Server: srv, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.stream = stream
	h.mu.Unlock()

	cam := &testCamera{addr: ln.Addr().String(), srv: srv, stream: stream,
		stop: make(chan struct{}), done: make(chan struct{})}
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(cam.done)
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			pkts, err := enc.Encode(clip.aus[i%len(clip.aus)])
			if err != nil {
				panic(err)
			}
			for _, p := range pkts {
				p.Timestamp = uint32(i * 3600)
				stream.WritePacketRTPWithNTP(medi, p, time.Now()) //nolint:errcheck
			}
			select {
			case <-cam.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(cam.close)
	return cam
}

// close stops the camera: readers are disconnected.
func (c *testCamera) close() {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		c.stream.Close()
		c.srv.Close()
	})
}
