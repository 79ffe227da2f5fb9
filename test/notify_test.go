package test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testSecret is a Standard Webhooks signing secret: whsec_ and a base64 key.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hook is a webhook receiver on loopback that verifies each request's
// Standard Webhooks signature independently of vigil and counts
// deliveries by webhook-id.
type hook struct {
	t     *testing.T
	srv   *httptest.Server
	delay time.Duration
	fail  atomic.Bool // answer 500

	mu     sync.Mutex
	ids    map[string]int // webhook-id -> deliveries
	bodies map[string][]byte
	bad    []string // signature failures
	got    chan string
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t, ids: map[string]int{}, bodies: map[string][]byte{}, got: make(chan string, 4096)}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve)) // 127.0.0.1
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if h.delay > 0 {
		time.Sleep(h.delay)
	}
	if h.fail.Load() {
		http.Error(w, "receiver is down", http.StatusInternalServerError)
		return
	}
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	ok := verifySignature(testSecret, id, ts, body, r.Header.Get("webhook-signature"))
	h.mu.Lock()
	if !ok {
		h.bad = append(h.bad, fmt.Sprintf("id %q ts %q sig %q", id, ts, r.Header.Get("webhook-signature")))
	}
	h.ids[id]++
	h.bodies[id] = body
	h.mu.Unlock()
	select {
	case h.got <- id:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// unique is how many distinct webhook-ids arrived.
func (h *hook) unique() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

// verifySignature checks a Standard Webhooks signature header (space
// separated "v1,<base64>" entries) against HMAC-SHA256 of id.timestamp.body
// keyed with the secret's base64 key.
func verifySignature(secret, id, ts string, body []byte, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || id == "" || ts == "" {
		return false
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(header) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// matchedEvent is a face.matched event as a detection worker publishes it.
func matchedEvent(id, stream string, n int) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"version":1,"type":"face.matched","time":%q,"stream":%q,`+
		`"fragment":{"number":%d,"server_time":"2026-11-26T10:00:00Z"},"frame_offset_ms":0,`+
		`"faces":[{"bbox":{"left":0.4,"top":0.2,"width":0.1,"height":0.2},"confidence":0.97,`+
		`"matches":[{"collection":"staff","face_id":"f_1","external_id":"alice","similarity":0.91}]}],"image_url":""}`,
		id, time.Now().UTC().Format(time.RFC3339Nano), stream, n+1))
}

// publishEvents publishes n face.matched events on vigil.events.<stream>
// with JetStream acknowledgements, ids prefix0000...
func publishEvents(t *testing.T, natsAddr, stream, prefix string, n int) {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		id := fmt.Sprintf("%s%04d", prefix, i)
		if _, err := js.Publish(ctx, "vigil.events."+stream, matchedEvent(id, stream, i), jetstream.WithMsgID(id)); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
}

func putWebhook(t *testing.T, v *vigil, name, url string) {
	t.Helper()
	body := fmt.Sprintf(`{"type":"webhook","url":%q,"secret":%q,"filter":{"types":["face.matched"]}}`, url, testSecret)
	var out map[string]any
	if st := v.doJSON("PUT", "/api/v1/notifiers/"+name, body, &out); st != http.StatusCreated {
		t.Fatalf("PUT notifier: %d %v", st, out)
	}
	if s, _ := out["secret"].(string); strings.Contains(s, "MfKQ9") {
		t.Fatalf("PUT answered the secret: %v", out)
	}
}

// TestWebhookSigned: a face.matched event published on NATS reaches a
// webhook receiver within a second, signed as Standard Webhooks specifies,
// with the event id as webhook-id and the event as the body; the API shows
// the notifier without its secret.
func TestWebhookSigned(t *testing.T) {
	v := startVigil(t, t.TempDir())
	h := newHook(t)
	putWebhook(t, v, "door", h.srv.URL+"/hook")

	t0 := time.Now()
	publishEvents(t, v.NATS, "cam", "SIGNED", 1)
	select {
	case id := <-h.got:
		if d := time.Since(t0); d > time.Second {
			t.Errorf("delivered after %v, want within 1s", d)
		}
		if id != "SIGNED0000" {
			t.Errorf("webhook-id %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook within 5s")
	}
	h.mu.Lock()
	bad, body := h.bad, h.bodies["SIGNED0000"]
	h.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad signatures: %v", bad)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil || e["id"] != "SIGNED0000" || e["type"] != "face.matched" || e["stream"] != "cam" {
		t.Fatalf("body %s: %v", body, err)
	}

	var got map[string]any
	if st := v.getJSON("/api/v1/notifiers/door", &got); st != 200 {
		t.Fatalf("GET: %d %v", st, got)
	}
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), "MfKQ9") || got["url"] != h.srv.URL+"/hook" || got["status"] == nil {
		t.Fatalf("GET notifier: %s", raw)
	}
	var list struct {
		Notifiers []map[string]any `json:"notifiers"`
	}
	if st := v.getJSON("/api/v1/notifiers", &list); st != 200 || len(list.Notifiers) != 1 {
		t.Fatalf("list: %d %v", st, list)
	}
	if raw, _ := json.Marshal(list); strings.Contains(string(raw), "MfKQ9") {
		t.Fatalf("list shows the secret: %s", raw)
	}
	if st := v.doJSON("DELETE", "/api/v1/notifiers/door", "", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d", st)
	}
	var e404 map[string]any
	if st := v.getJSON("/api/v1/notifiers/door", &e404); st != 404 || e404["code"] != "notifier_not_found" {
		t.Fatalf("GET deleted: %d %v", st, e404)
	}
}

// TestWebhookSurvivesKill: vigil killed with -9 while 1,000 events are
// pending for a slow receiver delivers every one after a restart on the
// same data directory: the receiver, deduplicating by webhook-id, counts
// exactly 1,000.
func TestWebhookSurvivesKill(t *testing.T) {
	const total = 1000
	data := t.TempDir()
	v := startVigil(t, data)
	h := newHook(t)
	h.delay = 5 * time.Millisecond
	putWebhook(t, v, "slow", h.srv.URL+"/hook")
	publishEvents(t, v.NATS, "cam", "KILL", total)

	deadline := time.Now().Add(30 * time.Second)
	for h.unique() < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d deliveries before the kill", h.unique())
		}
		time.Sleep(2 * time.Millisecond)
	}
	v.Kill()
	atKill := h.unique()
	if atKill >= total {
		t.Fatalf("all %d delivered before the kill: the receiver is not slow enough", atKill)
	}
	t.Logf("%d of %d delivered at the kill", atKill, total)

	startVigil(t, data)
	deadline = time.Now().Add(90 * time.Second)
	for h.unique() < total {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered 90s after the restart", h.unique(), total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // nothing unexpected trails in
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ids) != total {
		t.Fatalf("%d distinct webhook-ids, want %d", len(h.ids), total)
	}
	dups := 0
	for id, n := range h.ids {
		if !strings.HasPrefix(id, "KILL") {
			t.Errorf("unexpected webhook-id %q", id)
		}
		dups += n - 1
	}
	if len(h.bad) > 0 {
		t.Errorf("%d bad signatures, first %s", len(h.bad), h.bad[0])
	}
	t.Logf("redelivered duplicates (deduplicated by webhook-id): %d", dups)
}

// TestMQTTEvents: with mqtt.listen set, a real MQTT client (mosquitto_sub)
// subscribed to vigil/events/# receives the events published on
// vigil.events.<stream>.
func TestMQTTEvents(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub is missing: run scripts/deps.sh test")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(cfg, []byte("mqtt:\n  listen: \"127.0.0.1:0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := startVigil(t, filepath.Join(dir, "data"), "--config", cfg)
	if v.MQTT == "" {
		t.Fatalf("vigil logged no mqtt address:\n%s", v.Logs())
	}
	host, port, _ := net.SplitHostPort(v.MQTT)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-i", "vigil-e2e",
		"-t", "vigil/events/#", "-q", "1", "-v", "-C", "1")
	out, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sub.Stderr = os.Stderr
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer sub.Wait()
	defer cancel()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// mosquitto_sub says nothing once subscribed: publish until it sees one.
	for i := 0; ; i++ {
		publishEvents(t, v.NATS, "cam", fmt.Sprintf("MQTT%02d-", i), 1)
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("mosquitto_sub ended without a message")
			}
			topic, payload, _ := strings.Cut(l, " ")
			var e map[string]any
			if err := json.Unmarshal([]byte(payload), &e); err != nil || topic != "vigil/events/cam" ||
				!strings.HasPrefix(fmt.Sprint(e["id"]), "MQTT") || e["type"] != "face.matched" {
				t.Fatalf("MQTT message %q: %v", l, err)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no MQTT message within 30s")
		}
	}
}

// TestNotifierBadInput: definitions that cannot work are refused with 400
// naming the field; a failing destination makes the test route 502.
func TestNotifierBadInput(t *testing.T) {
	v := startVigil(t, t.TempDir())
	cases := []struct {
		name, path, body string
		status           int
		code, mention    string
	}{
		{"unknown type", "/api/v1/notifiers/a", `{"type":"pager","url":"https://example.com/x"}`, 400, "invalid_field", "type"},
		{"missing type", "/api/v1/notifiers/a", `{"url":"https://example.com/x"}`, 400, "invalid_field", "type"},
		{"malformed url", "/api/v1/notifiers/a", `{"type":"webhook","url":"http//nohost"}`, 400, "invalid_field", "url"},
		{"bad template", "/api/v1/notifiers/a", `{"type":"webhook","url":"https://example.com/x","template":"{{.Stream"}`, 400, "invalid_field", "template"},
		{"link-local url", "/api/v1/notifiers/a", `{"type":"webhook","url":"http://169.254.169.254/latest"}`, 400, "invalid_field", "url"},
		{"bad secret", "/api/v1/notifiers/a", `{"type":"webhook","url":"https://example.com/x","secret":"whsec_!!"}`, 400, "invalid_field", "secret"},
		{"bad cooldown", "/api/v1/notifiers/a", `{"type":"webhook","url":"https://example.com/x","cooldown":"soon"}`, 400, "", "cooldown"},
		{"bad filter type", "/api/v1/notifiers/a", `{"type":"webhook","url":"https://example.com/x","filter":{"types":["face.smiled"]}}`, 400, "invalid_field", "filter.types"},
		{"wrong JSON type", "/api/v1/notifiers/a", `{"type":"webhook","url":"https://example.com/x","max_deliver":"ten"}`, 400, "invalid_field", "max_deliver"},
		{"unknown field", "/api/v1/notifiers/a", `{"type":"webhook","url":"https://example.com/x","retries":3}`, 400, "bad_request", "retries"},
		{"name mismatch", "/api/v1/notifiers/a", `{"name":"b","type":"webhook","url":"https://example.com/x"}`, 400, "invalid_field", "name"},
		{"invalid name", "/api/v1/notifiers/bad%20name", `{"type":"webhook","url":"https://example.com/x"}`, 400, "invalid_name", "notifier name"},
		{"email without smtp", "/api/v1/notifiers/a", `{"type":"email","email":{"from":"v@example.com","to":["o@example.com"]}}`, 400, "invalid_field", "email.smtp"},
		{"cooldown", "/api/v1/notifiers/cool", `{"type":"webhook","url":"https://example.com/x","cooldown":"90s"}`, 201, "", ""},
		{"link-local allowed", "/api/v1/notifiers/meta", `{"type":"webhook","url":"http://169.254.169.254/latest","allow_private":true}`, 201, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			st := v.doJSON("PUT", tc.path, tc.body, &out)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, out)
			}
			if tc.code != "" && out["code"] != tc.code {
				t.Errorf("code %v, want %s: %v", out["code"], tc.code, out)
			}
			if msg, _ := out["error"].(string); tc.mention != "" && !strings.Contains(msg, tc.mention) {
				t.Errorf("error %q does not name %q", msg, tc.mention)
			}
		})
	}
	var out map[string]any
	if st := v.getJSON("/api/v1/notifiers/cool", &out); st != 200 || out["cooldown"] != "1m30s" {
		t.Fatalf("cooldown not kept: %d %v", st, out)
	}
	if st := v.getJSON("/api/v1/notifiers/a", &out); st != 404 || out["code"] != "notifier_not_found" {
		t.Fatalf("refused definitions were stored: %d %v", st, out)
	}
	if st := v.doJSON("POST", "/api/v1/notifiers/nobody/test", "", &out); st != 404 || out["code"] != "notifier_not_found" {
		t.Fatalf("test of a missing notifier: %d %v", st, out)
	}

	h := newHook(t)
	h.fail.Store(true)
	putWebhook(t, v, "down", h.srv.URL+"/hook")
	out = nil
	if st := v.doJSON("POST", "/api/v1/notifiers/down/test", "", &out); st != http.StatusBadGateway || out["code"] != "delivery_failed" ||
		!strings.Contains(fmt.Sprint(out["error"]), "500") {
		t.Fatalf("test with a failing receiver: %d %v", st, out)
	}
	h.fail.Store(false)
	out = nil
	if st := v.doJSON("POST", "/api/v1/notifiers/down/test", "", &out); st != 200 {
		t.Fatalf("test with a working receiver: %d %v", st, out)
	}
	select {
	case <-h.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the test delivery did not arrive")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("test delivery badly signed: %v", h.bad)
	}
}
