package streams

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"cam1", true}, {"Front_Door.2-b", true}, {strings.Repeat("a", 128), true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"a\\b", false},
		{"%2e%2e", false}, {"index.db", false}, {strings.Repeat("a", 129), false}, {"caméra", false}, {"a b", false}, {"a\x00", false},
	}
	for _, c := range cases {
		err := ValidateName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) error is not ErrInvalidName: %v", c.name, err)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"cam1", "..", ".", "a/b", "%2e%2e", strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) != nil {
			return
		}
		if filepath.Base(s) != s || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
			t.Fatalf("accepted unsafe name %q", s)
		}
	})
}

func TestRegistryPersistsAndNotifies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "streams.db")
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	var changes []Change
	r.OnChange(func(c Change) { changes = append(changes, c) })
	created, err := r.Put(Stream{Name: "cam1", Source: "rtsp://127.0.0.1:1/x", Retention: Retention{MaxAge: Duration(time.Hour)}})
	if err != nil || !created {
		t.Fatalf("put: created=%v err=%v", created, err)
	}
	if _, err := r.Put(Stream{Name: "cam1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put(Stream{Name: "bad", Source: "http://x"}); err == nil {
		t.Fatal("accepted an http source")
	}
	if len(changes) != 2 || changes[0].Old != nil || changes[1].Old.Source == "" || changes[1].New.Source != "" {
		t.Fatalf("changes: %+v", changes)
	}
	r.Close()

	r, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.List(); len(got) != 1 || got[0].Name != "cam1" {
		t.Fatalf("after reopen: %+v", got)
	}
	if err := r.Delete("cam1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("cam1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	var r Retention
	if err := json.Unmarshal([]byte(`{"max_age":"168h","max_bytes":5}`), &r); err != nil || time.Duration(r.MaxAge) != 168*time.Hour {
		t.Fatalf("%+v %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"max_age":"soon"}`), &r); err == nil {
		t.Fatal("accepted a bad duration")
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"max_age":"168h0m0s"`) {
		t.Fatalf("%s", b)
	}
}
