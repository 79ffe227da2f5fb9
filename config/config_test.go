package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "vigil.example.yaml"), nil)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := Default()
	if c.Data != want.Data || c.HTTP != want.HTTP || c.RTSP != want.RTSP || c.Log != want.Log || c.Detect != want.Detect {
		t.Errorf("example top-level values differ from the defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.Storage.FragmentTarget != want.Storage.FragmentTarget || c.Storage.ChunkMaxBytes != want.Storage.ChunkMaxBytes ||
		c.Storage.Retention != want.Storage.Retention || c.Storage.HubQueue != want.Storage.HubQueue {
		t.Errorf("example storage differs from the defaults: %+v", c.Storage)
	}
	if c.MQTT != want.MQTT {
		t.Errorf("example mqtt differs from the default: %+v", c.MQTT)
	}
	if len(c.Notifiers) != 1 || c.Notifiers[0].Filter == nil || len(c.Notifiers[0].Filter.Types) != 1 || c.Notifiers[0].Cooldown != "60s" {
		t.Errorf("example notifier: %+v", c.Notifiers)
	}
	if len(c.Streams) != 1 || c.Streams[0].Retention.MaxBytes != 20<<30 || c.Streams[0].Retention.MaxAge != 72*time.Hour {
		t.Errorf("example stream: %+v", c.Streams)
	}
}

func TestUnknownKeyNamesKeyFileAndLine(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"top level", "data: /x\nhttpp: \":1\"\n", `bad.yaml: line 2: unknown key "httpp"`},
		{"nested", "rtsp:\n  address: \":1\"\n  udpp: true\n", `bad.yaml: line 3: unknown key "udpp"`},
		{"in a stream", "streams:\n  - name: a\n    sourc: rtsp://x\n", `bad.yaml: line 3: unknown key "sourc"`},
		{"bad duration", "storage:\n  fragment_target: soon\n", `bad.yaml`},
		{"bad size", "storage:\n  chunk_max_bytes: lots\n", `line 2: invalid byte size "lots"`},
		{"bad fsync", "storage:\n  fsync: sometimes\n", `storage.fsync: "sometimes"`},
		{"duplicate stream", "streams:\n  - name: a\n  - name: a\n", `declared twice`},
		{"in mqtt", "mqtt:\n  port: 1883\n", `bad.yaml: line 2: unknown key "port"`},
		{"in a notifier", "notifiers:\n  - name: a\n    type: webhook\n    filter:\n      stream: [x]\n", `bad.yaml: line 5: unknown key "stream"`},
		{"unnamed notifier", "notifiers:\n  - type: webhook\n", `notifiers[0].name: must not be empty`},
		{"duplicate notifier", "notifiers:\n  - name: a\n  - name: a\n", `notifiers[1].name: "a" is declared twice`},
		{"bad cooldown", "notifiers:\n  - name: a\n    cooldown: often\n", `notifiers[0].cooldown: "often"`},
		{"mqtt with nats_url", "nats_url: nats://x:4222\nmqtt:\n  listen: 127.0.0.1:1883\n", `mqtt.listen:`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("http: \":1\"\ndata: /from-file\n"), 0o644)
	env := map[string]string{"VIGIL_HTTP": "127.0.0.1:2"}
	c, err := Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "127.0.0.1:2" || c.Data != "/from-file" {
		t.Fatalf("got http=%q data=%q", c.HTTP, c.Data)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(p, nil, 0o644)
	c, err := Load(p, nil)
	if err != nil || c.HTTP != ":8080" {
		t.Fatalf("c=%+v err=%v", c.HTTP, err)
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"0", "1000", "64MiB", "2GiB", "1.5GB", "10k", " 7 mb ", "", "x", "-1", "1e30TB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseByteSize(s)
		if err == nil && v < -1 {
			t.Fatalf("%q parsed to %d", s, v)
		}
	})
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "1000": 1000, "64MiB": 64 << 20, "2GiB": 2 << 30, "1.5GB": 1.5e9, "10k": 10 << 10, "-1": -1} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
