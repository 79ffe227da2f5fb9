package events

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FragmentNotice says that a fragment is durable and indexed, and where to
// fetch it. It is the message on vigil.fragments.<stream>.
type FragmentNotice struct {
	Stream       string     `json:"stream"`
	Number       uint64     `json:"number"`
	Run          uint64     `json:"run"`
	ProducerTime *time.Time `json:"producer_time"`
	ServerTime   time.Time  `json:"server_time"`
	DurationMS   float64    `json:"duration_ms"`
	SizeBytes    int64      `json:"size_bytes"`
	// URL fetches the fragment as a playable MP4 from the node that holds it.
	URL string `json:"url"`
}

// ID is the notice's deduplication id: stream and number.
func (n *FragmentNotice) ID() string { return n.Stream + "/" + strconv.FormatUint(n.Number, 10) }

// maxPendingNotices bounds unacknowledged async publishes: past it, notices
// are dropped and counted rather than slowing the recorder.
const maxPendingNotices = 4096

// DroppedNotices counts fragment notices dropped because NATS fell behind.
func (b *Bus) DroppedNotices() int64 { return b.dropped.Load() }

// PublishFragment publishes a notice without waiting for the acknowledgement
// (it is called from a recorder's goroutine, which must not wait on the
// network). The message id makes a republished notice a duplicate.
func (b *Bus) PublishFragment(n FragmentNotice) error {
	if b.js.PublishAsyncPending() >= maxPendingNotices {
		b.dropped.Add(1)
		return fmt.Errorf("events: %d notices pending: dropped %s", maxPendingNotices, n.ID())
	}
	data, err := json.Marshal(&n)
	if err != nil {
		return err
	}
	_, err = b.js.PublishAsync(FragmentsSubject+n.Stream, data, jetstream.WithMsgID(n.ID()))
	if err != nil {
		b.dropped.Add(1)
		return fmt.Errorf("events: publish notice %s: %w", n.ID(), err)
	}
	return nil
}

// redactURL hides a password in a NATS URL for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
