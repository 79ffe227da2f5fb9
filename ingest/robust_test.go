package ingest

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
)

// A valid 320x240 H.264 SPS and PPS (from x264).
var (
	testSPS = mustHex("6742c00dda0507ec0440000003004000000c83c50aa8")
	testPPS = mustHex("68ce0fc8")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// junkPublisher is an RTSP publisher announcing H.264 + AAC and then
// sending hostile RTP.
type junkPublisher struct {
	c            *gortsplib.Client
	video, audio *description.Media
	r            *rand.Rand
}

func startJunkPublisher(url string, transport gortsplib.Transport) (*junkPublisher, error) {
	video := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{
		&format.H264{PayloadTyp: 96, SPS: testSPS, PPS: testPPS, PacketizationMode: 1},
	}}
	audio := &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{
		&format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
			Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 1}},
	}}
	c := &gortsplib.Client{Transport: &transport}
	if err := c.StartRecording(url, &description.Session{Medias: []*description.Media{video, audio}}); err != nil {
		return nil, err
	}
	return &junkPublisher{c: c, video: video, audio: audio, r: rand.New(rand.NewPCG(1, 2))}, nil
}

// publishJunk publishes n hostile packets and disconnects.
func publishJunk(t *testing.T, url string, n int) error {
	p, err := startJunkPublisher(url, gortsplib.TransportTCP)
	if err != nil {
		return err
	}
	defer p.c.Close()
	p.send(n)
	return nil
}

// junkPayloads are hand-made hostile H.264 payloads.
var junkPayloads = [][]byte{
	{},                             // empty
	{0x00},                         // forbidden NALU type 0
	{0x7c},                         // FU-A header without FU header
	{0x7c, 0x85},                   // FU-A start of an IDR, no data
	{0x7c, 0x45, 0x01},             // FU-A end without start
	{0x78, 0xff, 0xff, 0x65},       // STAP-A with a size past the end
	{0x78, 0x00, 0x00},             // STAP-A with an empty NALU
	{0x67, 0xff, 0xff, 0xff},       // an SPS that does not parse
	{0x65, 0xff, 0xff, 0xff, 0xff}, // IDR with a garbage slice header
	{0x41, 0x00},                   // non-IDR slice, truncated
	{0x09, 0xf0},                   // access unit delimiter alone
	{0x7d, 0x80},                   // FU-B
}

// send writes n hostile packets, real-looking and random ones mixed.
func (p *junkPublisher) send(n int) {
	for i := range n {
		pkt := &rtp.Packet{Header: rtp.Header{
			Version: 2, PayloadType: 96, SequenceNumber: uint16(p.r.Uint32()),
			Timestamp: p.r.Uint32(), Marker: p.r.IntN(2) == 0,
		}}
		medi := p.video
		switch i % 4 {
		case 0:
			pkt.Payload = junkPayloads[p.r.IntN(len(junkPayloads))]
		case 1:
			pkt.Payload = randomBytes(p.r, p.r.IntN(1400))
		case 2:
			pkt.Payload = append([]byte{byte(p.r.IntN(32))}, randomBytes(p.r, p.r.IntN(64))...)
		case 3:
			medi, pkt.PayloadType = p.audio, 97
			pkt.Payload = randomBytes(p.r, p.r.IntN(600))
		}
		p.c.WritePacketRTP(medi, pkt) //nolint:errcheck
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// rtspExchange sends raw bytes and returns what the server answers within
// a short time (possibly nothing).
func rtspExchange(t *testing.T, addr string, req []byte) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("server not accepting connections: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second)) //nolint:errcheck
	conn.Write(req)                               //nolint:errcheck
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	return string(buf[:n])
}

func announce(addr, path, sdp string) []byte {
	return fmt.Appendf(nil, "ANNOUNCE rtsp://%s/%s RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", addr, path, len(sdp), sdp)
}

const sdpHead = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Stream\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"

var (
	h264SDP  = sdpHead + "m=video 0 RTP/AVP 96\r\na=control:trackID=0\r\na=rtpmap:96 H264/90000\r\n"
	mjpegSDP = sdpHead + "m=video 0 RTP/AVP 26\r\na=control:trackID=0\r\n"
)

func TestGarbageKeepsServerRunning(t *testing.T) {
	t.Parallel()
	tm := startTestManager(t, Config{UDP: true, ReadTimeout: 2 * time.Second})
	addr := tm.RTSPAddr()
	r := rand.New(rand.NewPCG(3, 4))

	// Raw bytes on the RTSP port.
	for _, junk := range [][]byte{
		randomBytes(r, 64<<10),
		[]byte("\x00\x01\x02GARBAGE\r\n\r\n"),
		[]byte("$\x00\xff\xff" + string(randomBytes(r, 100))),
		[]byte("OPTIONS * RTSP/1.0\r\nCSeq: not-a-number\r\n\r\n"),
		[]byte("ANNOUNCE rtsp://" + addr + "/x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\nv=0"),
	} {
		rtspExchange(t, addr, junk)
	}

	// A refused publisher records its error on a stream that exists, and
	// creates none.
	tm.Hub("mj")
	// Malformed or refused requests get a proper status.
	for _, c := range []struct {
		what, req, want string
	}{
		{"broken SDP", string(announce(addr, "x", "v=0\r\nm=video notaport RTP/AVP 96\r\n")), "RTSP/1.0 400"},
		{"no SDP", string(announce(addr, "x", "")), "RTSP/1.0 400"},
		{"only unsupported codecs", string(announce(addr, "mj", mjpegSDP)), "RTSP/1.0 415"},
		{"invalid stream name", string(announce(addr, "a/b", h264SDP)), "RTSP/1.0 400"},
		{"reading", "DESCRIBE rtsp://" + addr + "/x RTSP/1.0\r\nCSeq: 1\r\n\r\n", "RTSP/1.0 404"},
	} {
		if got := rtspExchange(t, addr, []byte(c.req)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.what, firstLine(got), c.want)
		}
	}
	if st := tm.Status("mj"); !strings.Contains(st.LastError, "unsupported codec: M-JPEG") {
		t.Errorf("status after an unsupported ANNOUNCE: %+v", st)
	}
	if got := rtspExchange(t, addr, announce(addr, "newmj", mjpegSDP)); !strings.HasPrefix(got, "RTSP/1.0 415") {
		t.Errorf("unsupported codec on a new name: got %q", firstLine(got))
	}
	if slices.Contains(tm.Streams(), "newmj") {
		t.Errorf("a refused publisher created its stream")
	}

	// Publishers sending nonsense, and a second publisher on their stream.
	for _, tr := range []gortsplib.Transport{gortsplib.TransportTCP, gortsplib.TransportUDP} {
		junk, err := startJunkPublisher(tm.url("junk"), tr)
		if err != nil {
			t.Fatalf("junk publisher over %v refused: %v", tr, err)
		}
		if err := publishJunk(t, tm.url("junk"), 0); err == nil {
			t.Error("a second publisher on the same stream was accepted")
		}
		junk.send(20000)
		if !tm.Status("junk").Online {
			t.Errorf("junk publisher over %v not online", tr)
		}
		junk.c.Close()
		testkit.WaitFor(t, 5*time.Second, "junk publisher gone", func() bool { return !tm.Status("junk").Online })
	}
	if n := strings.Count(tm.logs.String(), "stream=junk"); n > 40 {
		t.Errorf("%d log lines about the junk stream: per-packet warnings are not summarised", n)
	}

	// The server still takes a real publisher.
	requireFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := ffmpeg(ctx, publishArgs(2, x264, nil, "udp", tm.url("after"))...); err != nil {
		t.Fatalf("ffmpeg after garbage: %v: %s", err, out)
	}
	testkit.WaitFor(t, 5*time.Second, "units after garbage", func() bool { return tm.sinkUnits("after") >= 40 })
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

func TestAuthorizeStatuses(t *testing.T) {
	t.Parallel()
	tm := startTestManager(t, Config{Authorize: func(name string) error {
		switch name {
		case "known":
			return nil
		case "bad.name":
			return fmt.Errorf("check: %w", ErrInvalidName)
		case "locked":
			return fmt.Errorf("stream is locked")
		}
		return fmt.Errorf("%q: %w", name, ErrUnknownStream)
	}})
	addr := tm.RTSPAddr()
	for path, want := range map[string]string{
		"nope":     "RTSP/1.0 404",
		"bad.name": "RTSP/1.0 400",
		"locked":   "RTSP/1.0 403",
		"known":    "RTSP/1.0 200",
	} {
		if got := rtspExchange(t, addr, announce(addr, path, h264SDP)); !strings.HasPrefix(got, want) {
			t.Errorf("%s: got %q, want %q", path, firstLine(got), want)
		}
	}
	if got := tm.Streams(); len(got) != 1 || got[0] != "known" {
		t.Errorf("streams %v, want only the authorized one", got)
	}
}

func TestUnsupportedCodecRefusedWhileOtherStreamFlows(t *testing.T) {
	t.Parallel()
	requireFFmpeg(t)
	tm := startTestManager(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	good := make(chan error, 1)
	go func() {
		_, err := ffmpeg(ctx, publishArgs(5, x264, aac, "tcp", tm.url("good"))...)
		good <- err
	}()
	testkit.WaitFor(t, 20*time.Second, "the good stream to flow", func() bool { return tm.sinkUnits("good") >= 25 })

	for _, c := range []struct{ name, codec string }{{"mjpeg", "M-JPEG"}, {"mp4v", "MPEG-4 Video"}} {
		tm.Hub(c.name) // the stream exists, so its status shows the refusal
		args := []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "1"}
		if c.name == "mjpeg" {
			args = append(args, "-c:v", "mjpeg", "-pix_fmt", "yuvj420p")
		} else {
			args = append(args, "-c:v", "mpeg4")
		}
		args = append(args, "-f", "rtsp", tm.url(c.name))
		if _, err := ffmpeg(ctx, args...); err == nil {
			t.Errorf("%s: publishing succeeded, want refused", c.name)
		}
		st := tm.Status(c.name)
		if st.Online || !strings.Contains(st.LastError, "unsupported codec: "+c.codec) {
			t.Errorf("%s: status %+v", c.name, st)
		}
		if n := tm.sinkUnits(c.name); n != 0 {
			t.Errorf("%s: sink got %d units", c.name, n)
		}
	}
	if logs := tm.logs.String(); !strings.Contains(logs, "publish refused: unsupported codec: M-JPEG") {
		t.Errorf("no clear log line for the refused codec:\n%s", logs)
	}

	before := tm.sinkUnits("good")
	testkit.WaitFor(t, 10*time.Second, "the good stream to keep flowing", func() bool { return tm.sinkUnits("good") >= before+25 })
	if err := <-good; err != nil {
		t.Fatalf("good publisher: %v", err)
	}
}
