// Package streams is the registry of stream definitions: what streams exist,
// where they pull from, how long they are kept and whether they are watched
// for faces. Definitions persist in a small bbolt file; components learn of
// changes through a callback.
package streams

import (
	"errors"
	"fmt"
)

// ErrInvalidName is returned for a name that is not a valid stream name.
var ErrInvalidName = errors.New("invalid stream name")

// MaxNameLen is the longest stream name.
const MaxNameLen = 128

// ValidateName checks a stream name: 1 to 128 characters of [A-Za-z0-9_.-],
// and not "." or "..". Names become directory names, so this is a security
// boundary.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	}
	// index.db is the recordings index, which shares its directory with the
	// streams' directories.
	if name == "." || name == ".." || name == "index.db" {
		return fmt.Errorf("%w: %q is reserved", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%w: character %q not allowed (use A-Z a-z 0-9 _ . -)", ErrInvalidName, c)
		}
	}
	return nil
}
