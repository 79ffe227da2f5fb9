package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gocv.io/x/gocv"

	"vigil/events"
)

// ErrFragmentGone is what a Fetch returns (wrapped) for a fragment that no
// longer exists, deleted by retention: its notice is skipped.
var ErrFragmentGone = errors.New("fragment gone")

// ErrUndecodable is returned for a fragment that is not an MP4 holding
// video OpenCV decodes. Such a fragment is not retried.
var ErrUndecodable = errors.New("undecodable fragment")

// Failures of analyse that decide what happens to the notice.
var (
	errFetch   = errors.New("fetch")
	errPublish = errors.New("publish")
)

// handle analyses the fragment of one notice and settles the message:
// Ack when done or skipped, Term when it can never succeed, Nak (with a
// delay) to retry, Nak at once when the worker is stopping.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	var n events.FragmentNotice
	if err := json.Unmarshal(msg.Data(), &n); err != nil || n.Stream == "" || n.URL == "" {
		if err == nil {
			err = errors.New("no stream or url")
		}
		w.warnEvery(&w.decodeFailures, "fragment notice not understood; dropped", "subject", msg.Subject(), "err", err)
		msg.Term()
		return
	}
	enabled, fps, collections := w.cfg.Settings(n.Stream)
	if !enabled {
		w.skipped.Add(1)
		msg.Ack()
		return
	}
	if fps <= 0 || math.IsNaN(fps) {
		fps = DefaultFPS
	}
	stop := keepAlive(msg, w.cfg.AckWait/3)
	err := w.analyse(ctx, &n, min(fps, 30), collections)
	stop()

	log := w.log.With("stream", n.Stream, "fragment", n.Number)
	switch {
	case err == nil:
		w.fragments.Add(1)
		w.lagNS.Store(int64(w.cfg.Now().Sub(n.ServerTime)))
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := msg.DoubleAck(actx); err != nil {
			// Redelivered later; the events it published are then dropped
			// as duplicates.
			log.Debug("ack", "err", err)
		}
	case ctx.Err() != nil:
		msg.Nak() // stopping: another worker takes it now
	case errors.Is(err, ErrFragmentGone):
		w.skipped.Add(1)
		msg.Ack()
	case errors.Is(err, ErrUndecodable):
		w.warnEvery(&w.decodeFailures, "fragment not decodable; skipped", "stream", n.Stream, "fragment", n.Number, "err", err)
		msg.Term()
	case errors.Is(err, errPublish):
		w.warnEvery(&w.publishFailures, "event not published; the fragment will be analysed again", "stream", n.Stream, "fragment", n.Number, "err", err)
		if !w.retry(msg) {
			log.Warn("fragment given up after repeated publish failures", "deliveries", w.cfg.MaxDeliver)
		}
	default: // errFetch
		if w.retry(msg) {
			log.Debug("fragment fetch failed; retrying", "err", err)
			return
		}
		w.warnEvery(&w.fetchFailures, "fragment not fetched; skipped", "stream", n.Stream, "fragment", n.Number, "deliveries", w.cfg.MaxDeliver, "err", err)
	}
}

// retry hands the message back with a delay that grows with its
// deliveries, or, on its last delivery, terminates it. It reports whether
// the message will be delivered again.
func (w *Worker) retry(msg jetstream.Msg) bool {
	delivered := 1
	if md, err := msg.Metadata(); err == nil {
		delivered = int(md.NumDelivered)
	}
	if delivered >= w.cfg.MaxDeliver {
		msg.Term()
		return false
	}
	msg.NakWithDelay(backoff(delivered - 1))
	return true
}

// keepAlive tells JetStream every interval that the message is still being
// worked on, until stop is called.
func keepAlive(msg jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// analyse fetches the notice's fragment, decodes it, and publishes an
// event for each sampled frame with faces.
func (w *Worker) analyse(ctx context.Context, n *events.FragmentNotice, fps float64, collections []string) error {
	body, err := w.cfg.Fetch(ctx, n.URL)
	if err != nil {
		if errors.Is(err, ErrFragmentGone) {
			return err
		}
		return fmt.Errorf("%w: %w", errFetch, err)
	}
	path, err := spoolFragment(body, w.cfg.MaxFragmentBytes)
	body.Close()
	if err != nil {
		return err
	}
	defer os.Remove(path)
	return sampleFrames(ctx, path, fps, func(offset time.Duration, frame gocv.Mat) error {
		w.frames.Add(1)
		e := w.identify(n, offset, frame, collections)
		if e == nil {
			return nil
		}
		if err := w.cfg.Publish(ctx, e); err != nil {
			return fmt.Errorf("%w: %w", errPublish, err)
		}
		w.published.Add(1)
		return nil
	})
}

// identify finds the faces of one frame and makes its event, or nil when
// the frame has no face. A stream without collections only detects.
func (w *Worker) identify(n *events.FragmentNotice, offset time.Duration, frame gocv.Mat, collections []string) *events.Event {
	if len(collections) > 0 {
		return newEvent(n, offset, w.cfg.Collections.Identify(frame, collections, workerMaxMatches), true)
	}
	faces := w.cfg.Collections.Detector().Detect(frame)
	res := make([]SearchResult, len(faces))
	for i, f := range faces {
		res[i] = SearchResult{Face: IndexedFace{Box: f.Box, Confidence: f.Confidence}, Matches: []Match{}}
	}
	return newEvent(n, offset, res, false)
}
