package events

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func startBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	if cfg.URL == "" {
		cfg.Listen, cfg.StoreDir = "127.0.0.1:0", t.TempDir()
	}
	b, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// A notice published by the bus reaches a plain NATS subscriber on its
// subject, and a republished notice is stored once.
func TestFragmentNotice(t *testing.T) {
	b := startBus(t, Config{})
	nc, err := nats.Connect("nats://" + b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(FragmentsSubject+"cam1", got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	n := FragmentNotice{Stream: "cam1", Number: 7, Run: 1, ServerTime: time.Now().UTC(), DurationMS: 2000, SizeBytes: 10,
		URL: "http://127.0.0.1:1/api/v1/streams/cam1/fragments/7"}
	for range 2 {
		if err := b.PublishFragment(n); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-got:
		var back FragmentNotice
		if err := json.Unmarshal(m.Data, &back); err != nil || back.Number != 7 || back.URL != n.URL {
			t.Fatalf("notice %s: %v", m.Data, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notice")
	}
	<-b.js.PublishAsyncComplete()
	ctx := context.Background()
	st, err := b.js.Stream(ctx, FragmentsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("%d messages stored, want 1 (the second is a duplicate)", info.State.Msgs)
	}
}

// Events are stored durably with their id as message id; --nats-url style
// use of an existing server works the same.
func TestPublishEventToExternalServer(t *testing.T) {
	external := startBus(t, Config{}) // stands in for a separately run NATS
	b := startBus(t, Config{URL: "nats://" + external.Addr()})
	e := &Event{Type: FaceMatched, Time: time.Now().UTC(), Stream: "door",
		Faces: []FaceResult{{BBox: BBox{0.4, 0.2, 0.1, 0.2}, Confidence: 0.9,
			Matches: []Match{{Collection: "staff", FaceID: "f_1", ExternalID: "alice", Similarity: 0.91}}}}}
	ctx := context.Background()
	for range 2 {
		if err := b.PublishEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := external.js.Stream(ctx, EventsStream)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("%d events stored, want 1", info.State.Msgs)
	}
	m, err := st.GetLastMsgForSubject(ctx, EventsSubject+"door")
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := json.Unmarshal(m.Data, &back); err != nil || back.ID != e.ID || back.Version != SchemaVersion || back.Faces[0].Matches[0].ExternalID != "alice" {
		t.Fatalf("stored %s: %v", m.Data, err)
	}
	if m.Header.Get("Nats-Msg-Id") != e.ID {
		t.Fatalf("message id %q, want the event id %q", m.Header.Get("Nats-Msg-Id"), e.ID)
	}
}

func TestNewIDSortsByTimeAndIsUnique(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := range 1000 {
		id := NewID(t0.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 || seen[id] {
			t.Fatalf("id %q (len %d, seen %v)", id, len(id), seen[id])
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Fatal("ids do not sort by time")
	}
}

// With MQTT set, the embedded server runs an MQTT listener on that address
// (port 0: a free one, reported by MQTTAddr) that answers an MQTT 3.1.1
// CONNECT; without it there is none.
func TestMQTTListener(t *testing.T) {
	if b := startBus(t, Config{}); b.MQTTAddr() != "" {
		t.Fatalf("MQTT listener without MQTT set: %s", b.MQTTAddr())
	}
	b := startBus(t, Config{MQTT: "127.0.0.1:0"})
	addr := b.MQTTAddr()
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("MQTTAddr %q", addr)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 10 s, client id "t".
	c.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, 1, 't'})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK % x: %v", ack, err)
	}
}

func TestMQTTBadAddress(t *testing.T) {
	if _, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), MQTT: "nope"}); err == nil || !strings.Contains(err.Error(), "mqtt") {
		t.Fatalf("err %v", err)
	}
}
