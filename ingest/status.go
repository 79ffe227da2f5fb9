package ingest

import (
	"strings"
	"sync"
	"time"

	"vigil/media"
)

// Status is a stream's ingest state, for the API and metrics.
type Status struct {
	Online     bool
	Since      time.Time // when Online last changed
	Source     string    // pull URL, empty for a published stream
	Codec      string    // "H264" or "H265", plus ", AAC" or ", Opus"
	Width      int
	Height     int
	FPS        float64 // estimated from video decode times
	Bitrate    int64   // bits/s of media payload over the last few seconds
	LastError  string
	Reconnects int64 // pull source restarts
	BytesIn    int64 // media payload bytes received, all sessions
	// FramesDropped counts units lost to full sink queues plus frames
	// dropped at ingest (undecodable, timestamps going backwards).
	FramesDropped int64
}

const rateWindow = 5 // seconds

// streamStatus accumulates one stream's Status.
type streamStatus struct {
	now func() time.Time

	mu      sync.Mutex
	s       Status
	started time.Time // start of the current online session
	buckets [rateWindow + 1]struct {
		sec   int64
		bytes int64
	}
	dts      [32]int64 // recent video DTS, for FPS
	dtsN     int
	dtsClock int
}

func newStreamStatus(now func() time.Time) *streamStatus {
	return &streamStatus{now: now}
}

func (st *streamStatus) snapshot() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	if s.Online {
		s.Bitrate = st.bitrateLocked(st.now())
		s.FPS = st.fpsLocked()
	}
	return s
}

func (st *streamStatus) setSource(url string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Source = url
}

func (st *streamStatus) setOnline(on bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s.Online == on {
		return
	}
	now := st.now()
	st.s.Online, st.s.Since = on, now
	if on {
		st.started = now
		st.s.LastError = ""
		st.buckets = [rateWindow + 1]struct {
			sec   int64
			bytes int64
		}{}
		st.dtsN = 0
	}
}

func (st *streamStatus) setError(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err == nil {
		st.s.LastError = ""
		return
	}
	st.s.LastError = err.Error()
}

func (st *streamStatus) addReconnect() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Reconnects++
}

func (st *streamStatus) addDropped(n int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.FramesDropped += n
}

// setTracks records the codec summary and picture size of a new run.
func (st *streamStatus) setTracks(tracks []media.Track) {
	var names []string
	w, h := 0, 0
	for _, t := range tracks {
		names = append(names, string(t.Codec))
		if t.Codec.IsVideo() {
			w, h = t.Width, t.Height
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Codec = strings.Join(names, ", ")
	st.s.Width, st.s.Height = w, h
}

// addUnit accounts one unit; clock is its track's clock rate when it is
// video, 0 otherwise.
func (st *streamStatus) addUnit(u *media.Unit, videoClock int) {
	n := int64(u.Size())
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.BytesIn += n
	sec := u.Recv.Unix()
	b := &st.buckets[sec%int64(len(st.buckets))]
	if b.sec != sec {
		b.sec, b.bytes = sec, 0
	}
	b.bytes += n
	if videoClock > 0 {
		st.dts[st.dtsN%len(st.dts)] = u.DTS
		st.dtsN++
		st.dtsClock = videoClock
	}
}

func (st *streamStatus) bitrateLocked(now time.Time) int64 {
	sec := now.Unix()
	var sum int64
	for _, b := range st.buckets {
		if b.sec > sec-rateWindow && b.sec <= sec {
			sum += b.bytes
		}
	}
	// The window is rateWindow-1 whole seconds plus the current partial one.
	span := float64(rateWindow-1) + float64(now.Nanosecond())/1e9
	if online := now.Sub(st.started).Seconds(); online > 0 && online < span {
		span = online
	}
	if span <= 0 {
		return 0
	}
	return int64(float64(sum*8) / span)
}

func (st *streamStatus) fpsLocked() float64 {
	n := min(st.dtsN, len(st.dts))
	if n < 2 || st.dtsClock == 0 {
		return 0
	}
	last := st.dts[(st.dtsN-1)%len(st.dts)]
	first := st.dts[(st.dtsN-n)%len(st.dts)]
	if last <= first {
		return 0
	}
	return float64(n-1) * float64(st.dtsClock) / float64(last-first)
}
