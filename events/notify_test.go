package events

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// verify checks a Standard Webhooks signature independently of sign.
func verify(key []byte, h hit) bool {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.ID + "." + h.Timestamp + "." + string(h.Body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Split(h.Signature, " ") {
		if v, ok := strings.CutPrefix(s, "v1,"); ok && hmac.Equal([]byte(v), []byte(want)) {
			return true
		}
	}
	return false
}

// A published event reaches the receiver signed, with the event JSON as body.
func TestNotifyWebhookSigned(t *testing.T) {
	b := startBus(t, Config{})
	r := newReceiver(t, nil)
	secret, key := testSecret(t)
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "hook", Type: NotifyWebhook, URL: r.srv.URL + "/in", Secret: secret})

	e := personEvent("cam1", "alice", time.Now().UTC())
	start := time.Now()
	publishT(t, b, e)
	testkit.WaitFor(t, time.Second, "delivery", func() bool { h, _ := r.snapshot(); return len(h) == 1 })
	hits, _ := r.snapshot()
	t.Logf("publish → receipt: %v", hits[0].At.Sub(start))
	h := hits[0]
	if h.ID != e.ID || !verify(key, h) {
		t.Fatalf("id %q (want %q), signature %q does not verify", h.ID, e.ID, h.Signature)
	}
	if ts, err := strconv.ParseInt(h.Timestamp, 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Second {
		t.Fatalf("webhook-timestamp %q", h.Timestamp)
	}
	var back Event
	if err := json.Unmarshal(h.Body, &back); err != nil || back.ID != e.ID || back.Faces[0].Matches[0].ExternalID != "alice" {
		t.Fatalf("body %s: %v", h.Body, err)
	}
	// The API view never shows the secret.
	def, st, err := ns.Get("hook")
	if err != nil || def.Secret != redactedSecret {
		t.Fatalf("Get: %+v %v", def, err)
	}
	testkit.WaitFor(t, 2*time.Second, "status", func() bool { _, st, _ = ns.Get("hook"); return st.Delivered == 1 && st.Pending == 0 })
	// A PUT without the secret keeps it; Test signs with it.
	putT(t, ns, Notifier{Name: "hook", Type: NotifyWebhook, URL: r.srv.URL + "/in"})
	if err := ns.Test(context.Background(), "hook"); err != nil {
		t.Fatal(err)
	}
	hits, _ = r.snapshot()
	if len(hits) != 2 || !verify(key, hits[1]) {
		t.Fatalf("test delivery: %d hits, signature ok %v", len(hits), len(hits) == 2 && verify(key, hits[1]))
	}
}

// Failures are retried on the backoff schedule with the same webhook-id;
// Retry-After is honoured; 410 disables the notifier.
func TestNotifyRetries(t *testing.T) {
	b := startBus(t, Config{})
	var script []func(w http.ResponseWriter) int
	ok := func(http.ResponseWriter) int { return 200 }
	fail := func(http.ResponseWriter) int { return 500 }
	script = append(script, fail, fail, fail, ok, // event 1
		func(w http.ResponseWriter) int { w.Header().Set("Retry-After", "2"); return 503 }, ok, // event 2
		func(http.ResponseWriter) int { return 410 }) // event 3
	r := newReceiver(t, func(n int, w http.ResponseWriter) int {
		if n < len(script) {
			return script[n](w)
		}
		return 200
	})
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "hook", Type: NotifyWebhook, URL: r.srv.URL})

	e1 := personEvent("cam1", "alice", time.Now().UTC())
	publishT(t, b, e1)
	testkit.WaitFor(t, 5*time.Second, "event 1", func() bool { _, ids := r.snapshot(); return ids[e1.ID] == 1 })
	hits, ids := r.snapshot()
	if len(hits) != 4 || len(ids) != 1 {
		t.Fatalf("%d attempts, %d distinct delivered", len(hits), len(ids))
	}
	for i, want := range []time.Duration{100, 200, 400} {
		gap := hits[i+1].At.Sub(hits[i].At)
		t.Logf("attempt %d → %d: %v (schedule %vms)", i+1, i+2, gap, int(want))
		if hits[i+1].ID != e1.ID || gap < want*time.Millisecond*9/10 || gap > want*time.Millisecond+time.Second {
			t.Fatalf("attempt %d: id %s, gap %v, want ≈ %vms", i+2, hits[i+1].ID, gap, int(want))
		}
	}

	e2 := personEvent("cam1", "bob", time.Now().UTC())
	publishT(t, b, e2)
	testkit.WaitFor(t, 5*time.Second, "event 2", func() bool { _, ids := r.snapshot(); return ids[e2.ID] == 1 })
	hits, _ = r.snapshot()
	if gap := hits[5].At.Sub(hits[4].At); gap < 2*time.Second {
		t.Fatalf("Retry-After 2 but retried after %v", gap)
	} else {
		t.Logf("Retry-After: 2 → retried after %v", gap)
	}

	e3 := personEvent("cam1", "carol", time.Now().UTC())
	publishT(t, b, e3)
	testkit.WaitFor(t, 5*time.Second, "disabled", func() bool { _, st, _ := ns.Get("hook"); return st.Disabled })
	_, st, _ := ns.Get("hook")
	if !strings.Contains(st.DisabledReason, "410") || st.Delivered != 2 || st.Failed != 5 {
		t.Fatalf("status %+v", st)
	}
	publishT(t, b, personEvent("cam1", "dave", time.Now().UTC()))
	time.Sleep(300 * time.Millisecond)
	if hits, _ := r.snapshot(); len(hits) != 7 {
		t.Fatalf("%d requests after disable, want 7", len(hits))
	}
	// Disabled is persisted.
	ns.Close()
	ns = openNotifiersT(t, b, ns.cfg.Path)
	if _, st, _ := ns.Get("hook"); !st.Disabled || st.Pending != 2 {
		t.Fatalf("after reopen: %+v", st)
	}
}

// A notifier giving up records a dead letter and moves on.
func TestNotifyDeadLetter(t *testing.T) {
	b := startBus(t, Config{})
	r := newReceiver(t, func(n int, w http.ResponseWriter) int {
		if n < 3 {
			return 500
		}
		return 200
	})
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "hook", Type: NotifyWebhook, URL: r.srv.URL, MaxDeliver: 3})
	e1, e2 := personEvent("cam1", "a", time.Now().UTC()), personEvent("cam1", "b", time.Now().UTC())
	publishT(t, b, e1)
	publishT(t, b, e2)
	testkit.WaitFor(t, 5*time.Second, "event 2", func() bool { _, ids := r.snapshot(); return ids[e2.ID] == 1 })
	_, st, _ := ns.Get("hook")
	if len(st.DeadLetters) != 1 || st.DeadLetters[0].EventID != e1.ID || st.DeadLetters[0].Attempts != 3 ||
		!strings.Contains(st.DeadLetters[0].LastError, "500") {
		t.Fatalf("dead letters %+v", st.DeadLetters)
	}
}

// Events published while the notifiers are closed are all delivered after
// reopening.
func TestNotifyDurableResume(t *testing.T) {
	b := startBus(t, Config{})
	r := newReceiver(t, nil)
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "hook", Type: NotifyWebhook, URL: r.srv.URL})
	path := ns.cfg.Path
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		publishT(t, b, personEvent(fmt.Sprintf("cam%d", i%4), "p", time.Now().UTC()))
	}
	ns = openNotifiersT(t, b, path)
	testkit.WaitFor(t, 10*time.Second, "200 events", func() bool { _, ids := r.snapshot(); return len(ids) == 200 })
	time.Sleep(200 * time.Millisecond)
	if _, ids := r.snapshot(); len(ids) != 200 {
		t.Fatalf("%d distinct events", len(ids))
	}
	testkit.WaitFor(t, 3*time.Second, "status", func() bool { _, st, _ := ns.Get("hook"); return st.Delivered == 200 && st.Pending == 0 })
}

// A cooldown sends one notification per (stream, person) per window.
func TestNotifyCooldown(t *testing.T) {
	b := startBus(t, Config{})
	r := newReceiver(t, nil)
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "hook", Type: NotifyWebhook, URL: r.srv.URL, Cooldown: Duration(60 * time.Second)})
	t0 := time.Now().UTC()
	for i := range 50 {
		publishT(t, b, personEvent("cam1", "alice", t0.Add(time.Duration(i)*200*time.Millisecond)))
	}
	publishT(t, b, personEvent("cam1", "bob", t0.Add(time.Second)))
	publishT(t, b, personEvent("cam2", "alice", t0.Add(time.Second)))
	testkit.WaitFor(t, 5*time.Second, "52 handled", func() bool {
		_, st, _ := ns.Get("hook")
		return st.Delivered+st.Suppressed == 52
	})
	_, st, _ := ns.Get("hook")
	if _, ids := r.snapshot(); len(ids) != 3 || st.Suppressed != 49 {
		t.Fatalf("%d notifications, %d suppressed; want 3, 49", len(ids), st.Suppressed)
	}
}

// Bad definitions are refused with the field named.
func TestNotifyValidate(t *testing.T) {
	secret, _ := testSecret(t)
	for _, c := range []struct {
		n     Notifier
		field string
	}{
		{Notifier{Name: "a", Type: "sms"}, "type"},
		{Notifier{Name: "a/b", Type: NotifyWebhook, URL: "http://x"}, "name"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "ftp://x/"}, "url"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "/relative"}, "url"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://x/", Template: "{{.Stream"}, "template"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://x/", Secret: "nope"}, "secret"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://x/", Secret: "whsec_!!"}, "secret"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://169.254.169.254/latest"}, "url"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://[fe80::1]/"}, "url"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://[fd00:ec2::254]/"}, "url"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://metadata.google.internal/"}, "url"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://x/", Cooldown: -1}, "cooldown"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://x/", Filter: Filter{Types: []string{"face.x"}}}, "filter.types"},
		{Notifier{Name: "a", Type: NotifyEmail}, "email"},
		{Notifier{Name: "a", Type: NotifyEmail, Email: &EmailConfig{SMTP: "h:25", From: "a@b", To: []string{"c@d"}, Subject: "{{"}}, "email.subject"},
		{Notifier{Name: "a", Type: NotifyEmail, Email: &EmailConfig{SMTP: "169.254.1.1:25", From: "a@b", To: []string{"c@d"}}}, "email.smtp"},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "https://hooks.example.com/x", Secret: secret}, ""},
		{Notifier{Name: "a", Type: NotifyWebhook, URL: "http://169.254.169.254/", AllowPrivate: true}, ""},
	} {
		err := c.n.Validate()
		var fe *FieldError
		if c.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.n, err)
			}
		} else if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: got %v, want a %s error", c.n, err, c.field)
		} else {
			t.Logf("%v", err)
		}
	}
	// The dial-time check refuses a link-local address whatever name led to it.
	_, err := safeDialer(false, time.Second).Dial("tcp", "169.254.169.254:80")
	if !errors.Is(err, errEgressRefused) {
		t.Fatalf("dial metadata: %v", err)
	}
}

// A receiver that never answers does not delay another notifier.
func TestNotifyHangingReceiver(t *testing.T) {
	b := startBus(t, Config{})
	release := make(chan struct{})
	slow := newReceiver(t, func(int, http.ResponseWriter) int { <-release; return 200 })
	t.Cleanup(func() { close(release) }) // runs before slow.srv.Close
	fast := newReceiver(t, nil)
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "slow", Type: NotifyWebhook, URL: slow.srv.URL})
	putT(t, ns, Notifier{Name: "fast", Type: NotifyWebhook, URL: fast.srv.URL})
	start := time.Now()
	for range 20 {
		publishT(t, b, personEvent("cam1", "p", time.Now().UTC()))
	}
	testkit.WaitFor(t, 2*time.Second, "fast receiver", func() bool { _, ids := fast.snapshot(); return len(ids) == 20 })
	t.Logf("20 events to the fast receiver in %v while the slow one hangs", time.Since(start))
	ns.Close()
}

// A body template gives services their own shape (a chat message here);
// the template sees the event and the helpers.
func TestNotifyTemplateBody(t *testing.T) {
	b := startBus(t, Config{})
	r := newReceiver(t, nil)
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "chat", Type: NotifyWebhook, URL: r.srv.URL,
		Template: `{"text":"{{person .}} seen on {{.Stream}} ({{printf "%.2f" (similarity .)}})"}`})
	publishT(t, b, personEvent("door", "alice", time.Now().UTC()))
	testkit.WaitFor(t, 5*time.Second, "the chat message", func() bool { hits, _ := r.snapshot(); return len(hits) == 1 })
	hits, _ := r.snapshot()
	var msg struct{ Text string }
	if err := json.Unmarshal(hits[0].Body, &msg); err != nil || !strings.HasPrefix(msg.Text, "alice seen on door (") {
		t.Fatalf("body %s: %v", hits[0].Body, err)
	}
}
