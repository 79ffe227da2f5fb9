package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is a byte count that YAML may spell as a number or with a unit:
// 500MB, 64MiB, 2GiB, 1TB (decimal and binary units, case-insensitive).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseByteSize parses a byte count such as "64MiB" or "1000".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" {
		return 0, fmt.Errorf("invalid byte size %q (want e.g. 500MB, 64MiB, 2GiB)", s)
	}
	v := f * float64(mult)
	if v > 1<<62 || v < -1 {
		return 0, fmt.Errorf("byte size %q out of range", s)
	}
	return ByteSize(v), nil
}

// UnmarshalYAML accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// UnmarshalJSON accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalJSON(p []byte) error {
	v, err := ParseByteSize(strings.Trim(string(p), `"`))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
