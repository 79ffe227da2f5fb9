// Package config loads vigil's configuration: built-in defaults, then an
// optional YAML file (strict: an unknown key is an error naming the key, the
// file and the line), then VIGIL_* environment variables; command-line flags
// are applied last by cmd/vigil.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Every field documents its default; the
// reference is docs/config.md and the annotated example is vigil.example.yaml.
type Config struct {
	// Data is the directory that holds recordings, the index and metadata. Default "./data".
	Data string `yaml:"data"`
	// HTTP is the API/UI listen address. Default ":8080".
	HTTP string `yaml:"http"`
	// NATS is the embedded NATS server's listen address. Default "127.0.0.1:4222".
	NATS string `yaml:"nats"`
	// NATSURL points at an existing NATS cluster instead of the embedded server. Default "".
	NATSURL string       `yaml:"nats_url"`
	Events  Events       `yaml:"events"`
	RTSP    RTSP         `yaml:"rtsp"`
	Storage Storage      `yaml:"storage"`
	Detect  DetectWorker `yaml:"detect"`
	MQTT    MQTT         `yaml:"mqtt"`
	Log     Log          `yaml:"log"`
	Streams []Stream     `yaml:"streams"`
	// Notifiers are created or replaced at every start, as the API's PUT
	// /api/v1/notifiers/{name} would. Default none.
	Notifiers []Notifier `yaml:"notifiers"`
}

// MQTT configures the embedded NATS server's MQTT listener, which serves
// subject vigil.events.<stream> as topic vigil/events/<stream>.
type MQTT struct {
	// Listen is the MQTT listen address, e.g. "127.0.0.1:1883"; "" runs no
	// listener. Only with the embedded server (not with nats_url). Default "".
	Listen string `yaml:"listen"`
}

// DetectWorker configures this node's detect worker (per-stream settings are
// in each stream's detect).
type DetectWorker struct {
	// Workers is how many fragments this node analyses at once; 0 runs no
	// detect worker here (another node's worker may). Default 1.
	Workers int `yaml:"workers"`
}

// Events configures the event streams on NATS JetStream.
type Events struct {
	// MaxAge is how long VIGIL_EVENTS keeps events. Default 168h.
	MaxAge time.Duration `yaml:"max_age"`
}

// RTSP configures the RTSP server and pull sources.
type RTSP struct {
	// Address is the RTSP listen address. Default ":8554".
	Address string `yaml:"address"`
	// UDP accepts RTP over UDP from publishers as well as TCP. Default true.
	UDP bool `yaml:"udp"`
	// PublishCreates lets a publisher create a stream by publishing to a new name. Default true.
	PublishCreates bool `yaml:"publish_creates"`
	// BackoffMin and BackoffMax bound a pull source's reconnect delay. Defaults 1s and 30s.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// ReadTimeout declares a source or publisher dead after this long without data. Default 10s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
}

// Storage configures the fragment store.
type Storage struct {
	// FragmentTarget is the target fragment length; fragments are cut on the first keyframe after it. Default 2s.
	FragmentTarget time.Duration `yaml:"fragment_target"`
	// ChunkMaxAge rotates a chunk file after this much media. Default 60s.
	ChunkMaxAge time.Duration `yaml:"chunk_max_age"`
	// ChunkMaxBytes rotates a chunk file at this size. Default 64MiB.
	ChunkMaxBytes ByteSize `yaml:"chunk_max_bytes"`
	// Fsync is "fragment" (sync each fragment before indexing it) or "none". Default "fragment".
	Fsync string `yaml:"fsync"`
	// FreeReserve is the disk space retention keeps free across all streams; "0" means
	// min(5% of the filesystem, 2GiB), "-1" turns it off. Default 0.
	FreeReserve ByteSize `yaml:"free_reserve"`
	// RetentionEvery is how often retention runs. Default 10s.
	RetentionEvery time.Duration `yaml:"retention_every"`
	// Retention applies to streams that set none of their own. Default max_age 168h.
	Retention Retention `yaml:"retention"`
	// HubQueue is how many access units a slow consumer may lag before it drops. Default 2048.
	HubQueue int `yaml:"hub_queue"`
}

// Retention bounds how much of a stream is kept.
type Retention struct {
	// MaxAge deletes recordings older than this. 0 keeps them forever.
	MaxAge time.Duration `yaml:"max_age" json:"max_age"`
	// MaxBytes deletes the oldest recordings while a stream uses more. 0 is unlimited.
	MaxBytes ByteSize `yaml:"max_bytes" json:"max_bytes"`
}

// Detect configures face detection for one stream.
type Detect struct {
	Enabled     bool     `yaml:"enabled" json:"enabled"`
	FPS         float64  `yaml:"fps" json:"fps"`
	Collections []string `yaml:"collections" json:"collections"`
}

// Stream is a stream declared in the config file.
type Stream struct {
	Name      string     `yaml:"name"`
	Source    string     `yaml:"source"`
	Retention *Retention `yaml:"retention"`
	Detect    *Detect    `yaml:"detect"`
}

// Notifier is a notifier declared in the config file. Its keys are those of
// the API's notifier body (docs/api.md), which is what cmd/vigil turns it
// into through the JSON tags; the notifier engine validates it.
type Notifier struct {
	Name         string          `yaml:"name" json:"-"`
	Type         string          `yaml:"type" json:"type"`
	URL          string          `yaml:"url" json:"url,omitempty"`
	Secret       string          `yaml:"secret" json:"secret,omitempty"`
	Template     string          `yaml:"template" json:"template,omitempty"`
	Email        *NotifierEmail  `yaml:"email" json:"email,omitempty"`
	Filter       *NotifierFilter `yaml:"filter" json:"filter,omitempty"`
	Cooldown     string          `yaml:"cooldown" json:"cooldown,omitempty"`
	MaxDeliver   int             `yaml:"max_deliver" json:"max_deliver,omitempty"`
	AllowPrivate bool            `yaml:"allow_private" json:"allow_private,omitempty"`
	Disabled     bool            `yaml:"disabled" json:"disabled,omitempty"`
}

// NotifierEmail is an email notifier's SMTP settings.
type NotifierEmail struct {
	SMTP     string   `yaml:"smtp" json:"smtp"`
	Username string   `yaml:"username" json:"username,omitempty"`
	Password string   `yaml:"password" json:"password,omitempty"`
	From     string   `yaml:"from" json:"from"`
	To       []string `yaml:"to" json:"to"`
	Subject  string   `yaml:"subject" json:"subject,omitempty"`
	Body     string   `yaml:"body" json:"body,omitempty"`
	// StartTLS is auto (when the server offers it), always or never. Default auto.
	StartTLS string `yaml:"starttls" json:"starttls,omitempty"`
}

// NotifierFilter selects the events a notifier sends; empty lists match all.
type NotifierFilter struct {
	Streams       []string `yaml:"streams" json:"streams,omitempty"`
	Types         []string `yaml:"types" json:"types,omitempty"`
	Collections   []string `yaml:"collections" json:"collections,omitempty"`
	ExternalIDs   []string `yaml:"external_ids" json:"external_ids,omitempty"`
	MinSimilarity float64  `yaml:"min_similarity" json:"min_similarity,omitempty"`
	UnknownOnly   bool     `yaml:"unknown_only" json:"unknown_only,omitempty"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Data:   "./data",
		HTTP:   ":8080",
		NATS:   "127.0.0.1:4222",
		Events: Events{MaxAge: 168 * time.Hour},
		RTSP: RTSP{
			Address:        ":8554",
			UDP:            true,
			PublishCreates: true,
			BackoffMin:     time.Second,
			BackoffMax:     30 * time.Second,
			ReadTimeout:    10 * time.Second,
		},
		Storage: Storage{
			FragmentTarget: 2 * time.Second,
			ChunkMaxAge:    60 * time.Second,
			ChunkMaxBytes:  64 << 20,
			Fsync:          "fragment",
			RetentionEvery: 10 * time.Second,
			Retention:      Retention{MaxAge: 168 * time.Hour},
			HubQueue:       2048,
		},
		Detect: DetectWorker{Workers: 1},
		Log:    Log{Level: "info", Format: "text"},
	}
}

// Load returns the defaults overlaid with the YAML file at path (if path is
// not empty) and then with VIGIL_* environment variables from getenv.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := Parse(&c, path, b); err != nil {
			return c, err
		}
	}
	if err := applyEnv(&c, getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

var yamlLine = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// Parse decodes YAML document b (named name in errors) over c, rejecting
// unknown keys.
func Parse(c *Config, name string, b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if err == nil || errors.Is(err, io.EOF) { // io.EOF: an empty file
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			if g := yamlLine.FindStringSubmatch(m); g != nil {
				m = fmt.Sprintf("line %s: unknown key %q", g[1], g[2])
			}
			msgs = append(msgs, fmt.Sprintf("%s: %s", name, m))
		}
		return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
	}
	return fmt.Errorf("config: %s: %w", name, err)
}

func applyEnv(c *Config, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	for _, e := range []struct {
		key string
		dst *string
	}{
		{"VIGIL_DATA", &c.Data},
		{"VIGIL_HTTP", &c.HTTP},
		{"VIGIL_RTSP", &c.RTSP.Address},
		{"VIGIL_NATS", &c.NATS},
		{"VIGIL_NATS_URL", &c.NATSURL},
		{"VIGIL_LOG_LEVEL", &c.Log.Level},
		{"VIGIL_LOG_FORMAT", &c.Log.Format},
	} {
		if v := getenv(e.key); v != "" {
			*e.dst = v
		}
	}
	return nil
}

// Validate checks values that YAML typing cannot.
func (c Config) Validate() error {
	var errs []string
	if c.Data == "" {
		errs = append(errs, "data: must not be empty")
	}
	switch c.Storage.Fsync {
	case "fragment", "none":
	default:
		errs = append(errs, fmt.Sprintf("storage.fsync: %q is not one of fragment, none", c.Storage.Fsync))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Sprintf("log.format: %q is not one of text, json", c.Log.Format))
	}
	if c.Storage.FragmentTarget < 100*time.Millisecond {
		errs = append(errs, "storage.fragment_target: must be at least 100ms")
	}
	if c.Events.MaxAge < time.Minute {
		errs = append(errs, "events.max_age: must be at least 1m")
	}
	if c.Detect.Workers < 0 || c.Detect.Workers > 64 {
		errs = append(errs, "detect.workers: must be between 0 and 64")
	}
	if c.Storage.HubQueue < 16 {
		errs = append(errs, "storage.hub_queue: must be at least 16")
	}
	if c.RTSP.BackoffMin <= 0 || c.RTSP.BackoffMax < c.RTSP.BackoffMin {
		errs = append(errs, "rtsp.backoff_min/backoff_max: need 0 < backoff_min <= backoff_max")
	}
	names := make([]string, len(c.Streams))
	for i, s := range c.Streams {
		names[i] = s.Name
	}
	errs = append(errs, checkNames("streams", names)...)
	if c.MQTT.Listen != "" && c.NATSURL != "" {
		errs = append(errs, "mqtt.listen: the MQTT listener is the embedded server's; with nats_url, enable MQTT on that cluster instead")
	}
	names = names[:0]
	for _, n := range c.Notifiers {
		names = append(names, n.Name)
	}
	errs = append(errs, checkNames("notifiers", names)...)
	for i, n := range c.Notifiers {
		if n.Cooldown != "" {
			if _, err := time.ParseDuration(n.Cooldown); err != nil {
				errs = append(errs, fmt.Sprintf("notifiers[%d].cooldown: %q is not a duration like 60s", i, n.Cooldown))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkNames reports empty and repeated names in a list of declarations.
func checkNames(list string, names []string) []string {
	var errs []string
	seen := map[string]bool{}
	for i, name := range names {
		if name == "" {
			errs = append(errs, fmt.Sprintf("%s[%d].name: must not be empty", list, i))
		}
		if seen[name] {
			errs = append(errs, fmt.Sprintf("%s[%d].name: %q is declared twice", list, i, name))
		}
		seen[name] = true
	}
	return errs
}
