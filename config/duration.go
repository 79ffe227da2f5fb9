package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that JSON spells as a Go duration string
// ("60s", "168h"); a bare number is taken as seconds. The API uses it for
// retention ages and notifier cooldowns.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. 60s, 30m, 168h)", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("invalid duration %s (want e.g. \"60s\")", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}
