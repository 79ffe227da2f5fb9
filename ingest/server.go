package ingest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// Start starts the RTSP server.
func (m *Manager) Start() error {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return errors.New("ingest: manager already started or closed")
	}
	m.started = true
	m.mu.Unlock()

	var tcpLn net.Listener
	srv := &gortsplib.Server{
		Handler:     &rtspHandler{m: m},
		RTSPAddress: m.cfg.RTSPAddress,
		ReadTimeout: m.cfg.ReadTimeout,
		// One socket receives RTP from every UDP publisher: a keyframe burst
		// of a few cameras overflows the default buffer (about 200 KiB).
		// The kernel caps this at net.core.rmem_max.
		UDPReadBufferSize: udpReadBuffer(),
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			tcpLn = ln
			return ln, err
		},
	}
	var udp *udpPair
	if m.cfg.UDP {
		var err error
		udp, err = m.udpAddresses()
		if err != nil {
			return err
		}
		srv.UDPRTPAddress, srv.UDPRTCPAddress = udp.rtpAddr, udp.rtcpAddr
		srv.ListenPacket = udp.listenPacket
	}
	if err := srv.Start(); err != nil {
		udp.close()
		return fmt.Errorf("start rtsp server: %w", err)
	}
	m.server = srv
	m.rtspAddr = tcpLn.Addr().String()
	m.log.Info("rtsp listening on "+m.rtspAddr, "udp", m.cfg.UDP, "udp_rtp", srv.UDPRTPAddress)
	return nil
}

// udpReadBuffer is the receive buffer to ask for the shared RTP socket:
// 8 MiB, or the kernel's limit (net.core.rmem_max) when that is lower, since
// gortsplib refuses a buffer smaller than it asked for. 0 keeps the default.
func udpReadBuffer() int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || limit <= 0 {
		return 0
	}
	return min(8<<20, limit)
}

// RTSPAddr is the RTSP server's actual listen address, after Start.
func (m *Manager) RTSPAddr() string { return m.rtspAddr }

// udpPair holds pre-bound UDP sockets handed to gortsplib, so that a free
// even/odd port pair can be chosen without a race.
type udpPair struct {
	rtpAddr, rtcpAddr string
	rtp, rtcp         net.PacketConn
}

func (p *udpPair) listenPacket(network, address string) (net.PacketConn, error) {
	switch {
	case p.rtp != nil && address == p.rtpAddr:
		c := p.rtp
		p.rtp = nil
		return c, nil
	case p.rtcp != nil && address == p.rtcpAddr:
		c := p.rtcp
		p.rtcp = nil
		return c, nil
	}
	return net.ListenPacket(network, address)
}

func (p *udpPair) close() {
	if p == nil {
		return
	}
	for _, c := range []net.PacketConn{p.rtp, p.rtcp} {
		if c != nil {
			c.Close()
		}
	}
}

// udpAddresses resolves the UDP RTP/RTCP addresses, binding a free pair
// when asked for port 0.
func (m *Manager) udpAddresses() (*udpPair, error) {
	rtspHost, rtspPort, err := net.SplitHostPort(m.cfg.RTSPAddress)
	if err != nil {
		return nil, fmt.Errorf("rtsp address %q: %w", m.cfg.RTSPAddress, err)
	}
	rtpAddr, rtcpAddr := m.cfg.UDPRTPAddress, m.cfg.UDPRTCPAddress
	if rtpAddr == "" {
		if rtspPort != "0" {
			return &udpPair{
				rtpAddr:  net.JoinHostPort(rtspHost, "8000"),
				rtcpAddr: net.JoinHostPort(rtspHost, "8001"),
			}, nil
		}
		rtpAddr = net.JoinHostPort(rtspHost, "0")
	}
	host, port, err := net.SplitHostPort(rtpAddr)
	if err != nil {
		return nil, fmt.Errorf("udp rtp address %q: %w", rtpAddr, err)
	}
	if port != "0" {
		if rtcpAddr == "" {
			p, err := strconv.Atoi(port)
			if err != nil {
				return nil, fmt.Errorf("udp rtp address %q: %w", rtpAddr, err)
			}
			rtcpAddr = net.JoinHostPort(host, strconv.Itoa(p+1))
		}
		return &udpPair{rtpAddr: rtpAddr, rtcpAddr: rtcpAddr}, nil
	}
	return bindUDPPair(host)
}

// bindUDPPair binds an even port and the next one on host.
func bindUDPPair(host string) (*udpPair, error) {
	var lastErr error
	for range 100 {
		a, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("bind udp: %w", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		rtpPort, rtcpPort := port, port+1
		if port%2 == 1 {
			rtpPort, rtcpPort = port-1, port
		}
		other := rtcpPort
		if port == rtcpPort {
			other = rtpPort
		}
		b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(other)))
		if err != nil {
			a.Close()
			lastErr = err
			continue
		}
		p := &udpPair{
			rtpAddr:  net.JoinHostPort(host, strconv.Itoa(rtpPort)),
			rtcpAddr: net.JoinHostPort(host, strconv.Itoa(rtcpPort)),
			rtp:      a, rtcp: b,
		}
		if port == rtcpPort {
			p.rtp, p.rtcp = b, a
		}
		return p, nil
	}
	return nil, fmt.Errorf("no free udp port pair: %w", lastErr)
}

// rtspHandler handles the RTSP server's events for publishers.
type rtspHandler struct{ m *Manager }

// publishSession is the state of a publishing RTSP session (user data).
type publishSession struct {
	st   *stream
	sel  selection
	warn *warnings
	pipe *pipeline
}

func (h *rtspHandler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.m.log.Debug("rtsp conn opened", "remote", ctx.Conn.NetConn().RemoteAddr())
}

func (h *rtspHandler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.m.log.Debug("rtsp conn closed", "remote", ctx.Conn.NetConn().RemoteAddr(), "error", ctx.Error)
}

func (h *rtspHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	ps, ok := ctx.Session.UserData().(*publishSession)
	if !ok {
		return
	}
	if ps.pipe != nil {
		ps.pipe.close()
		ps.st.status.setOnline(false)
		ps.st.log.Info("publisher disconnected", "reason", ctx.Error)
		var teardown liberrors.ErrServerSessionTornDown
		var shutdown liberrors.ErrServerTerminated
		if ctx.Error != nil && !errors.As(ctx.Error, &teardown) && !errors.As(ctx.Error, &shutdown) {
			ps.st.status.setError(fmt.Errorf("publisher disconnected: %w", ctx.Error))
		}
	}
	h.m.mu.Lock()
	if ps.st.publisher == ctx.Session {
		ps.st.publisher = nil
	}
	h.m.mu.Unlock()
}

func (h *rtspHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusNotFound}, nil,
		fmt.Errorf("reading %q over rtsp is not supported", ctx.Path)
}

func (h *rtspHandler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	name := strings.Trim(ctx.Path, "/")
	log := h.m.log.With("stream", name, "remote", ctx.Conn.NetConn().RemoteAddr())

	// The codecs are checked before Authorize, which may create the stream:
	// a publisher that cannot be recorded changes nothing.
	sel, err := selectMedias(ctx.Description.Medias)
	if err != nil {
		log.Warn("publish refused: " + err.Error())
		if st := h.m.lookup(name); st != nil {
			st.status.setError(err)
		}
		return &base.Response{StatusCode: base.StatusUnsupportedMediaType}, err
	}
	if err := h.m.cfg.Authorize(name); err != nil {
		log.Warn("publish refused", "error", err)
		return &base.Response{StatusCode: authStatus(err)}, fmt.Errorf("publish %q: %w", name, err)
	}
	st := h.m.stream(name)
	if st == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, errors.New("ingest is shutting down")
	}

	h.m.mu.Lock()
	busy := st.publisher != nil || st.source != ""
	if !busy {
		st.publisher = ctx.Session
	}
	h.m.mu.Unlock()
	if busy {
		log.Warn("publish refused", "error", ErrBusy)
		return &base.Response{StatusCode: base.StatusBadRequest}, ErrBusy
	}

	if len(sel.ignored) > 0 {
		st.log.Info("ignoring unsupported tracks", "codecs", sel.ignored)
	}
	ctx.Session.SetUserData(&publishSession{
		st: st, sel: sel,
		warn: newWarnings(st.log, 10*time.Second, h.m.now),
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func authStatus(err error) base.StatusCode {
	switch {
	case errors.Is(err, ErrInvalidName):
		return base.StatusBadRequest
	case errors.Is(err, ErrUnknownStream):
		return base.StatusNotFound
	}
	return base.StatusForbidden
}

func (h *rtspHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if _, ok := ctx.Session.UserData().(*publishSession); !ok ||
		ctx.Session.State() != gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusNotFound}, nil,
			fmt.Errorf("reading %q over rtsp is not supported", ctx.Path)
	}
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

func (h *rtspHandler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusNotFound}, errors.New("reading over rtsp is not supported")
}

func (h *rtspHandler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	ps, ok := ctx.Session.UserData().(*publishSession)
	if !ok {
		return &base.Response{StatusCode: base.StatusBadRequest}, errors.New("record without announce")
	}
	sel := ps.sel.restrict(ctx.Session.SetuppedMedias())
	clock := newSRClock(ctx.Session, time.Now)
	ctx.Session.OnPacketRTCPAny(clock.onRTCP)
	pipe, err := newPipeline(sel, ps.st.hub, ps.st.status, ps.warn, clock, h.m.now)
	if err != nil {
		ps.st.log.Warn("record refused", "error", err)
		ps.st.status.setError(err)
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	pipe.register(sel, ctx.Session.OnPacketRTP)
	ps.pipe = pipe
	ps.st.status.setOnline(true)
	ps.st.log.Info("publisher online", "remote", ctx.Conn.NetConn().RemoteAddr(),
		"transport", ctx.Session.SetuppedTransport().String())
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *rtspHandler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	if ps, ok := ctx.Session.UserData().(*publishSession); ok {
		ps.warn.add("rtp packets lost", fmt.Errorf("%d lost", ctx.Lost))
	}
}

func (h *rtspHandler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	if ps, ok := ctx.Session.UserData().(*publishSession); ok {
		ps.warn.add("rtp/rtcp decode error", ctx.Error)
		return
	}
	h.m.log.Debug("rtp/rtcp decode error", "error", ctx.Error)
}
