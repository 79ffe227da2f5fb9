package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"text/template"
	"time"
)

// webhookTimeout bounds one webhook request, connection included.
const webhookTimeout = 15 * time.Second

// errEgressRefused is returned when a destination resolves to a link-local
// or metadata address.
var errEgressRefused = errors.New("destination address refused (link-local or cloud metadata; set allow_private)")

// deliveryError is a failed attempt: RetryAfter is the receiver's
// Retry-After, Gone is an HTTP 410.
type deliveryError struct {
	Err        error
	RetryAfter time.Duration
	Gone       bool
}

func (e *deliveryError) Error() string { return e.Err.Error() }
func (e *deliveryError) Unwrap() error { return e.Err }

// destination sends one event; raw is the event's JSON.
type destination interface {
	send(ctx context.Context, e *Event, raw []byte) error
}

// safeDialer dials, refusing link-local and metadata addresses after name
// resolution (so DNS rebinding cannot reach them) unless allowPrivate.
func safeDialer(allowPrivate bool, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", errEgressRefused, address)
			}
			if forbiddenAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", errEgressRefused, ap.Addr())
			}
			return nil
		}
	}
	return d
}

type webhook struct {
	url    string
	key    []byte // nil: unsigned
	tmpl   *template.Template
	client *http.Client
	now    func() time.Time
}

func newWebhook(n *Notifier, now func() time.Time, dial func(*net.Dialer) *net.Dialer) (*webhook, error) {
	w := &webhook{url: n.URL, now: now}
	if n.Secret != "" {
		k, err := secretKey(n.Secret)
		if err != nil {
			return nil, fieldErr("secret", "%v", err)
		}
		w.key = k
	}
	t, err := parseTemplate("template", n.Template)
	if err != nil {
		return nil, err
	}
	w.tmpl = t
	d := safeDialer(n.AllowPrivate, webhookTimeout)
	if dial != nil {
		d = dial(d)
	}
	w.client = &http.Client{
		Timeout: webhookTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // a proxy would dial on our behalf, past the egress check
			DialContext:         d.DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return w, nil
}

// sign returns the Standard Webhooks signature header value.
func sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (w *webhook) send(ctx context.Context, e *Event, raw []byte) error {
	body := raw
	if w.tmpl != nil {
		var buf bytes.Buffer
		if err := w.tmpl.Execute(&buf, e); err != nil {
			return &deliveryError{Err: fmt.Errorf("template: %w", err)}
		}
		body = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &deliveryError{Err: err}
	}
	ts := w.now().Unix()
	if json.Valid(body) {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	req.Header.Set("User-Agent", "vigil-notify")
	req.Header.Set("webhook-id", e.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if w.key != nil {
		req.Header.Set("webhook-signature", sign(w.key, e.ID, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return &deliveryError{Err: scrubURLError(err)}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &deliveryError{
		Err:        fmt.Errorf("receiver answered %s", resp.Status),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), w.now()),
		Gone:       resp.StatusCode == http.StatusGone,
	}
}

// scrubURLError drops the URL (which may carry a token, as chat-app webhook
// URLs do) from a client error.
func scrubURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return fmt.Errorf("post: %w", inner)
		}
	}
	return err
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
