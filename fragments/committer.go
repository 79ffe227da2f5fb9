package fragments

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer group-commits index updates: it runs whatever is queued in one
// bbolt transaction as soon as the previous commit ends. Unlike db.Batch it
// never waits for a timer, so an append on an idle store costs one commit
// and appends from many streams share commits under load.
type committer struct {
	db   *bolt.DB
	reqs chan commitReq
	quit chan struct{}
	wg   sync.WaitGroup
}

type commitReq struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// maxBatch bounds the updates in one transaction.
const maxBatch = 256

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, reqs: make(chan commitReq), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// do runs fn in a write transaction, possibly shared with other callers, and
// returns when it is committed. fn may run more than once (it is retried
// alone when the shared transaction fails), so it must only touch tx.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	req := commitReq{fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- req:
	case <-c.quit:
		return ErrClosed
	}
	return <-req.done
}

func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]commitReq, 0, maxBatch)
	for {
		select {
		case req := <-c.reqs:
			batch = append(batch[:0], req)
		case <-c.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case req := <-c.reqs:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		err := c.db.Update(func(tx *bolt.Tx) error {
			for _, req := range batch {
				if err := req.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		for _, req := range batch {
			if err != nil && len(batch) > 1 {
				// Isolate the failing update: retry each alone.
				req.done <- c.db.Update(req.fn)
				continue
			}
			req.done <- err
		}
	}
}

// close stops the committer once the queued callers are served. Callers
// must have stopped calling do.
func (c *committer) close() {
	close(c.quit)
	c.wg.Wait()
}
