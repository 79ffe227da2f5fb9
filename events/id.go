package events

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// StableID returns the event id for the result identified by key (for
// the detect worker: stream, fragment number and frame offset), found in
// a frame shown at t. It has NewID's ULID form — 48 bits of t's Unix
// milliseconds, then 80 bits, in Crockford base 32 — but the 80 bits are
// the start of key's SHA-256 rather than random. So it sorts by time like
// every other id, and a fragment analysed twice (a redelivered notice, or
// two workers racing) yields the same ids twice: JetStream's deduplication
// on Nats-Msg-Id stores each event once.
func StableID(t time.Time, key string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	sum := sha256.Sum256([]byte(key))
	copy(b[6:], sum[:10])
	return encodeULID(b)
}

// encodeULID writes 128 bits as 26 Crockford base-32 digits, most
// significant first (the first digit holds the top 3 bits), as NewID does.
func encodeULID(b [16]byte) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var out [26]byte
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
