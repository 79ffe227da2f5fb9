package ingest

import "errors"

// Sentinel errors. Config.Authorize returns (or wraps) ErrUnknownStream and
// ErrInvalidName to have a publisher refused with RTSP 404 and 400; any other
// non-nil error refuses with 403.
var (
	ErrUnknownStream    = errors.New("unknown stream")
	ErrInvalidName      = errors.New("invalid stream name")
	ErrUnsupportedCodec = errors.New("unsupported codec")
	ErrBusy             = errors.New("stream already has a publisher or a pull source")
)
