package events

// Notifiers deliver events from VIGIL_EVENTS to the outside world.
//
// A Notifier is a filter and a destination ("webhook" or "email"). Each
// enabled notifier is a durable JetStream pull consumer on VIGIL_EVENTS named
// "vigil-notify-<name>" (filter subjects vigil.events.<stream> for the
// notifier's streams, or vigil.events.>), created with DeliverNew the first
// time the notifier is stored, so it resumes where it stopped after a
// restart. Delivery is at least once; a receiver deduplicates by event id
// (the webhook-id header, the email Message-ID).
//
// API (used by web and cmd/vigil):
//
//	ns, err := OpenNotifiers(NotifyConfig{Bus: bus, Path: "notifiers.db"})
//	created, err := ns.Put(def)         // validate, persist, (re)start; empty or "********" secret keeps the stored one
//	def, st, err := ns.Get(name)        // ErrNotifierNotFound; def is Redacted
//	views := ns.List()                  // []NotifierView, sorted by name
//	err = ns.Delete(name)               // stop, delete the durable consumer and the record
//	err = ns.Test(ctx, name)            // send a sample face.matched event now, bypassing the queue
//	err = ns.Close()                    // stop every worker and wait
//
// Validation errors are *FieldError (errors.As), naming the JSON field.
//
// Ordering and retries. Events of one stream are delivered in order; events
// of different streams are delivered concurrently (one in-order lane per
// stream, at most NotifyConfig.MaxInFlight unacknowledged events per
// notifier). A failed attempt is retried by its lane after a backoff —
// Initial·2^(attempt-1) capped at Max, ±Jitter — (defaults 1s, 2s, 4s … 5m,
// ±20%), or after the receiver's Retry-After (seconds or an HTTP date,
// capped at one hour) when it sent one. While a lane waits it holds the
// message and reports progress to JetStream (InProgress), so the events
// behind it in the same stream are not delivered out of order; a crash
// during the wait redelivers it after AckWait. After MaxDeliver attempts
// (default 10) the event is recorded as a dead letter and terminated
// (Term). An HTTP 410 from a webhook receiver disables the notifier (the
// event stays unacknowledged and is delivered when the notifier is
// enabled again by a Put). 3xx responses are failures: redirects are not
// followed.
//
// Cooldown: with Cooldown > 0, at most one notification per (stream,
// person) per window, person being the best match's external_id or
// "unknown"; suppressed events are acknowledged and counted. Cooldown state
// is in memory: a restart forgets it.
//
// Egress: destinations whose host is, or resolves at dial time to, a
// link-local (169.254.0.0/16, fe80::/10) or cloud-metadata address
// (169.254.169.254, fd00:ec2::254, metadata.google.internal) are refused
// unless AllowPrivate is set. Loopback and private ranges are allowed.
//
// Webhooks follow Standard Webhooks: headers webhook-id (event id),
// webhook-timestamp (unix seconds) and, with a secret "whsec_<base64 key>",
// webhook-signature "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>". The
// body is the event JSON, or Template rendered over the Event. Timeout 15s.
//
// Persistence (bbolt, NotifyConfig.Path): bucket "notifiers" (name → JSON
// definition including secrets), "notify_status" (name → counters, written
// once a second and on Close, so a crash may lose up to a second of counts)
// and "notify_dead/<name>" (sequence → JSON DeadLetter).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"text/template"

	"vigil/config"
)

// Destination types.
const (
	NotifyWebhook = "webhook"
	NotifyEmail   = "email"
)

// redactedSecret is shown instead of a stored secret.
const redactedSecret = "********"

// Notifier is a notifier's definition.
type Notifier struct {
	Name string `json:"name"`
	Type string `json:"type"` // "webhook" | "email"
	// URL is the webhook's http(s) URL.
	URL string `json:"url,omitempty"`
	// Secret signs webhooks: "whsec_<base64 key>". Write-only.
	Secret string `json:"secret,omitempty"`
	// Template is the webhook body, a text/template over the Event;
	// default the event JSON.
	Template     string       `json:"template,omitempty"`
	Email        *EmailConfig `json:"email,omitempty"`
	Filter       Filter       `json:"filter"`
	Cooldown     Duration     `json:"cooldown"`
	MaxDeliver   int          `json:"max_deliver,omitempty"` // default 10
	AllowPrivate bool         `json:"allow_private,omitempty"`
	// Disabled stops delivery; events stay queued in the durable consumer.
	Disabled       bool   `json:"disabled,omitempty"`
	DisabledReason string `json:"disabled_reason,omitempty"`
}

// EmailConfig is an email destination.
type EmailConfig struct {
	SMTP     string   `json:"smtp"` // host:port
	Username string   `json:"username,omitempty"`
	Password string   `json:"password,omitempty"` // write-only
	From     string   `json:"from"`
	To       []string `json:"to"`
	Subject  string   `json:"subject,omitempty"` // text/template over the Event
	Body     string   `json:"body,omitempty"`    // text/template over the Event
	// StartTLS: "auto" (default: when the server offers it), "always", "never".
	StartTLS string `json:"starttls,omitempty"`
}

// Default email templates.
const (
	defaultSubject = `vigil: {{.Type}} on {{.Stream}}{{with person .}} ({{.}}){{end}}`
	defaultBody    = "{{.Type}} on {{.Stream}} at {{.Time.Format \"2006-01-02T15:04:05.000Z07:00\"}}\nperson: {{person .}}\nimage: {{.ImageURL}}\n\n{{json .}}\n"
)

// Filter selects the events a notifier sends. Empty fields match everything.
type Filter struct {
	Streams       []string `json:"streams,omitempty"`
	Types         []string `json:"types,omitempty"`
	Collections   []string `json:"collections,omitempty"`
	ExternalIDs   []string `json:"external_ids,omitempty"`
	MinSimilarity float64  `json:"min_similarity,omitempty"`
	UnknownOnly   bool     `json:"unknown_only,omitempty"`
}

// Duration is a time.Duration that JSON spells "60s" (config.Duration).
type Duration = config.Duration

// FieldError is a validation error naming the field at fault.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Redacted is n with its secrets replaced by "********" (or "" when unset).
func (n Notifier) Redacted() Notifier {
	if n.Secret != "" {
		n.Secret = redactedSecret
	}
	if n.Email != nil {
		e := *n.Email
		e.To = append([]string(nil), e.To...)
		if e.Password != "" {
			e.Password = redactedSecret
		}
		n.Email = &e
	}
	return n
}

// Validate checks a definition; the error is a *FieldError.
func (n *Notifier) Validate() error {
	if err := validName(n.Name); err != "" {
		return fieldErr("name", "%s", err)
	}
	switch n.Type {
	case NotifyWebhook:
		u, err := url.Parse(n.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
			return fieldErr("url", "not an absolute http(s) URL")
		}
		if !n.AllowPrivate && forbiddenHost(u.Hostname()) {
			return fieldErr("url", "host %q is a link-local or cloud-metadata address (set allow_private to allow it)", u.Hostname())
		}
		if n.Secret != "" && n.Secret != redactedSecret {
			if _, err := secretKey(n.Secret); err != nil {
				return fieldErr("secret", "%v", err)
			}
		}
		if _, err := parseTemplate("template", n.Template); err != nil {
			return err
		}
		if n.Email != nil {
			return fieldErr("email", "only for type email")
		}
	case NotifyEmail:
		if err := n.Email.validate(n.AllowPrivate); err != nil {
			return err
		}
		if n.URL != "" || n.Secret != "" || n.Template != "" {
			return fieldErr("url", "url, secret and template are only for type webhook")
		}
	case "":
		return fieldErr("type", "missing (webhook or email)")
	default:
		return fieldErr("type", "unknown destination type %q", n.Type)
	}
	for _, s := range n.Filter.Streams {
		if err := validName(s); err != "" {
			return fieldErr("filter.streams", "%q: %s", s, err)
		}
	}
	for _, t := range n.Filter.Types {
		if t != FaceDetected && t != FaceMatched && t != FaceUnknown {
			return fieldErr("filter.types", "unknown event type %q", t)
		}
	}
	if s := n.Filter.MinSimilarity; s < 0 || s > 1 {
		return fieldErr("filter.min_similarity", "%v is not between 0 and 1", s)
	}
	if n.Cooldown < 0 {
		return fieldErr("cooldown", "negative")
	}
	if n.MaxDeliver < 0 {
		return fieldErr("max_deliver", "negative")
	}
	return nil
}

func (e *EmailConfig) validate(allowPrivate bool) error {
	if e == nil {
		return fieldErr("email", "missing for type email")
	}
	host, port, err := net.SplitHostPort(e.SMTP)
	if err != nil || host == "" || port == "" {
		return fieldErr("email.smtp", "not host:port")
	}
	if !allowPrivate && forbiddenHost(host) {
		return fieldErr("email.smtp", "host %q is a link-local or cloud-metadata address (set allow_private to allow it)", host)
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return fieldErr("email.from", "%v", err)
	}
	if len(e.To) == 0 {
		return fieldErr("email.to", "no recipients")
	}
	for _, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fieldErr("email.to", "%q: %v", to, err)
		}
	}
	if _, err := parseTemplate("email.subject", e.Subject); err != nil {
		return err
	}
	if _, err := parseTemplate("email.body", e.Body); err != nil {
		return err
	}
	switch e.StartTLS {
	case "", "auto", "always", "never":
	default:
		return fieldErr("email.starttls", "%q is not auto, always or never", e.StartTLS)
	}
	return nil
}

// validName checks a notifier or stream name as streams.ValidateName does
// (1 to 128 characters of [A-Za-z0-9_.-], not "." or ".."); it returns
// the reason, or "".
func validName(name string) string {
	if name == "" {
		return "empty"
	}
	if len(name) > 128 {
		return "longer than 128 characters"
	}
	if name == "." || name == ".." {
		return fmt.Sprintf("%q is reserved", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Sprintf("character %q not allowed (use A-Z a-z 0-9 _ . -)", c)
		}
	}
	return ""
}

// secretKey decodes a "whsec_<base64>" secret into its HMAC key.
func secretKey(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, fmt.Errorf("not of the form whsec_<base64 key>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("key after whsec_ is not valid base64")
	}
	if len(key) < 16 || len(key) > 128 {
		return nil, fmt.Errorf("key is %d bytes; want 16 to 128 (24 to 64 recommended)", len(key))
	}
	return key, nil
}

// forbiddenHost reports whether a host name or literal address is a
// link-local or cloud-metadata destination.
func forbiddenHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "metadata.google.internal" || h == "metadata" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && forbiddenAddr(a)
}

var metadataV6 = netip.MustParseAddr("fd00:ec2::254")

// forbiddenAddr reports whether an address is link-local (which includes
// 169.254.169.254) or a cloud-metadata address.
func forbiddenAddr(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a == metadataV6
}

// templateFuncs are available in body and subject templates: json (the
// value as JSON), person (the best match's external_id, or "unknown") and
// similarity (the best match's similarity).
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"person":     func(e *Event) string { return person(e) },
	"similarity": func(e *Event) float64 { m, _ := bestMatch(e); return m.Similarity },
}

// parseTemplate parses a template; "" is no template (nil).
func parseTemplate(field, text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	t, err := template.New(field).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	return t, nil
}

// bestMatch is the match with the highest similarity over all faces.
func bestMatch(e *Event) (Match, bool) {
	var best Match
	found := false
	for _, f := range e.Faces {
		for _, m := range f.Matches {
			if !found || m.Similarity > best.Similarity {
				best, found = m, true
			}
		}
	}
	return best, found
}

// person is the best match's external id (its face id when it has none),
// or "unknown".
func person(e *Event) string {
	m, ok := bestMatch(e)
	switch {
	case !ok:
		return "unknown"
	case m.ExternalID != "":
		return m.ExternalID
	default:
		return m.FaceID
	}
}

// Match reports whether the filter selects e. Collections, ExternalIDs and
// MinSimilarity need one match meeting all three; UnknownOnly needs a face
// without matches (or a face.unknown event).
func (f *Filter) Match(e *Event) bool {
	if len(f.Streams) > 0 && !contains(f.Streams, e.Stream) {
		return false
	}
	if len(f.Types) > 0 && !contains(f.Types, e.Type) {
		return false
	}
	if f.UnknownOnly {
		unknown := e.Type == FaceUnknown
		for _, fc := range e.Faces {
			unknown = unknown || len(fc.Matches) == 0
		}
		if !unknown {
			return false
		}
	}
	if len(f.Collections) == 0 && len(f.ExternalIDs) == 0 && f.MinSimilarity == 0 {
		return true
	}
	for _, fc := range e.Faces {
		for _, m := range fc.Matches {
			if (len(f.Collections) == 0 || contains(f.Collections, m.Collection)) &&
				(len(f.ExternalIDs) == 0 || contains(f.ExternalIDs, m.ExternalID)) &&
				m.Similarity >= f.MinSimilarity {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
