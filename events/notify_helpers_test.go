package events

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// hit is one request a test receiver got.
type hit struct {
	ID, Timestamp, Signature string
	Body                     []byte
	At                       time.Time
}

// receiver is a webhook receiver on 127.0.0.1; respond picks the answer
// for the nth request (0-based) and may write headers.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	hits    []hit
	ids     map[string]int // application-level dedup: webhook-id → deliveries
	respond func(n int, w http.ResponseWriter) int
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter) int) *receiver {
	t.Helper()
	r := &receiver{ids: map[string]int{}, respond: respond}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
			Signature: req.Header.Get("webhook-signature"), Body: body, At: time.Now()}
		r.mu.Lock()
		n := len(r.hits)
		r.hits = append(r.hits, h)
		r.mu.Unlock()
		code := http.StatusOK
		if r.respond != nil {
			code = r.respond(n, w)
		}
		if code < 300 {
			r.mu.Lock()
			r.ids[h.ID]++
			r.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) snapshot() ([]hit, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make(map[string]int, len(r.ids))
	for k, v := range r.ids {
		ids[k] = v
	}
	return append([]hit(nil), r.hits...), ids
}

func testSecret(t *testing.T) (string, []byte) {
	key := make([]byte, 32)
	rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key), key
}

// openNotifiersT opens notifiers on path (a fresh file when "") with a
// shrunk backoff: 100ms, 200ms, 400ms … 1s, no jitter.
func openNotifiersT(t *testing.T, b *Bus, path string) *Notifiers {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "notifiers.db")
	}
	ns, err := OpenNotifiers(NotifyConfig{Bus: b, Path: path, AckWait: 2 * time.Second,
		Backoff: BackoffConfig{Initial: 100 * time.Millisecond, Max: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func putT(t *testing.T, ns *Notifiers, d Notifier) {
	t.Helper()
	if _, err := ns.Put(d); err != nil {
		t.Fatal(err)
	}
}

func publishT(t testing.TB, b *Bus, e *Event) {
	t.Helper()
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.Type == "" {
		e.Type = FaceMatched
	}
	if err := b.PublishEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func personEvent(stream, externalID string, t time.Time) *Event {
	return &Event{Type: FaceMatched, Stream: stream, Time: t,
		Faces: []FaceResult{{Confidence: 0.99, Matches: []Match{{Collection: "staff", FaceID: "f-" + externalID, ExternalID: externalID, Similarity: 0.9}}}}}
}
