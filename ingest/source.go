package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// rtspSource pulls one stream from an RTSP server (a camera) into a hub.
type rtspSource struct {
	url         string
	readTimeout time.Duration
	hub         *Hub
	status      *streamStatus
	log         *slog.Logger
	now         func() time.Time

	online time.Time // when the last Run started playing; zero if it never did
}

// Run connects, plays and feeds the hub until the connection fails or ctx
// ends. It always returns a non-nil error.
func (s *rtspSource) Run(ctx context.Context) error {
	s.online = time.Time{}
	u, err := base.ParseURL(s.url)
	if err != nil {
		return fmt.Errorf("invalid source url: %w", err)
	}
	if u.Scheme != "rtsp" {
		return fmt.Errorf("invalid source url: scheme %q is not rtsp", u.Scheme)
	}

	warn := newWarnings(s.log, 10*time.Second, s.now)
	defer warn.flush()
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{
		Scheme:            u.Scheme,
		Host:              u.Host,
		ReadTimeout:       s.readTimeout,
		Transport:         &tcp,
		OnTransportSwitch: func(err error) { s.log.Info("source transport switch", "reason", err) },
		OnPacketsLost:     func(n uint64) { warn.add("rtp packets lost", fmt.Errorf("%d lost", n)) },
		OnDecodeError:     func(err error) { warn.add("rtp/rtcp decode error", err) },
	}
	if err := c.Start2(); err != nil {
		return fmt.Errorf("connect: %w", err)
	}

	// Close the client when ctx ends, which aborts any request in flight.
	runDone, watchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			c.Close()
		case <-runDone:
		}
	}()
	var pipe *pipeline
	defer func() {
		close(runDone)
		<-watchDone
		c.Close()
		if pipe != nil {
			pipe.close()
			s.status.setOnline(false)
		}
	}()

	desc, _, err := c.Describe(u)
	if err != nil {
		return s.fail(ctx, "describe", err)
	}
	sel, err := selectMedias(desc.Medias)
	if err != nil {
		return err
	}
	for _, ch := range sel.chosen() {
		if _, err := c.Setup(desc.BaseURL, ch.media, 0, 0); err != nil {
			return s.fail(ctx, "setup", err)
		}
	}
	clock := newSRClock(c, time.Now)
	c.OnPacketRTCPAny(clock.onRTCP)
	pipe, err = newPipeline(sel, s.hub, s.status, warn, clock, s.now)
	if err != nil {
		return err
	}
	pipe.register(sel, c.OnPacketRTP)
	if _, err := c.Play(nil); err != nil {
		return s.fail(ctx, "play", err)
	}
	s.online = s.now()
	s.status.setOnline(true)
	s.log.Info("source online", "url", redact(s.url))

	return s.fail(ctx, "read", c.Wait())
}

// redact hides the password of a URL, for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	return u.Redacted()
}

// fail wraps err, or returns ctx's error when ctx ended.
func (s *rtspSource) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = errors.New("connection closed")
	}
	return fmt.Errorf("%s: %w", op, err)
}
