package events

import (
	"strings"
	"testing"
	"time"
)

// decodeULIDTime reads the 48-bit millisecond time back from an id.
func decodeULIDTime(t *testing.T, id string) time.Time {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var ms uint64
	for _, c := range id[:10] { // 50 bits: the top 2 are zero
		i := strings.IndexRune(alphabet, c)
		if i < 0 {
			t.Fatalf("id %q: %q is not Crockford base 32", id, c)
		}
		ms = ms<<5 | uint64(i)
	}
	return time.UnixMilli(int64(ms))
}

func TestStableID(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 1, 480_000_000, time.UTC)
	cases := []struct {
		name string
		t    time.Time
		key  string
	}{
		{"base", at, "cam1/123/480"},
		{"other offset", at, "cam1/123/520"},
		{"other number", at, "cam1/124/480"},
		{"other stream", at, "cam2/123/480"},
		{"later", at.Add(time.Millisecond), "cam1/123/480"},
		{"epoch", time.UnixMilli(0), ""},
		{"max time", time.UnixMilli(1<<48 - 1), "k"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		id := StableID(c.t, c.key)
		if len(id) != 26 || id[0] > '7' {
			t.Errorf("%s: %q is not a ULID", c.name, id)
		}
		if again := StableID(c.t.Add(300*time.Microsecond), c.key); again != id {
			t.Errorf("%s: not stable: %s then %s", c.name, id, again)
		}
		if got := decodeULIDTime(t, id); !got.Equal(c.t.Truncate(time.Millisecond)) {
			t.Errorf("%s: id time %v, want %v", c.name, got, c.t)
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("%s: same id as %s", c.name, prev)
		}
		seen[id] = c.name
	}
	// Ids sort by time, with NewID's ids.
	if a, b := StableID(at, "z"), NewID(at.Add(time.Millisecond)); a >= b {
		t.Errorf("%s does not sort before %s", a, b)
	}
	if a, b := NewID(at), StableID(at.Add(time.Millisecond), "a"); a >= b {
		t.Errorf("%s does not sort before %s", a, b)
	}
	if got := StableID(time.UnixMilli(0), ""); got[:10] != "0000000000" {
		t.Errorf("epoch id %s", got)
	}
}
