package fragments

import (
	"slices"
	"testing"
	"time"
)

func TestFragmentsPaging(t *testing.T) {
	m := loadMedia(t, mediaSpec{"h264", "", 12})
	cfg := testConfig(t.TempDir(), &fakeClock{t: wallBase}, &notices{})
	cfg.FragmentTarget = time.Second
	s := openStore(t, cfg)
	feed(s.Recorder("cam"), m)
	all := allFragments(t, s, "cam")
	if len(all) < 10 {
		t.Fatalf("%d fragments", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ServerTime.Before(all[i-1].ServerTime) {
			t.Fatal("not ordered by server time")
		}
	}
	at := func(i int) time.Time { return all[i].ServerTime }
	end := func(i int) time.Time { return all[i].ServerTime.Add(all[i].Duration) }
	tests := []struct {
		name   string
		q      Query
		first  int // index into all
		last   int // inclusive
		pageSz int
	}{
		{"everything in pages of 3", Query{Limit: 3}, 0, len(all) - 1, 3},
		{"default limit", Query{}, 0, len(all) - 1, DefaultLimit},
		{"start inside a fragment includes it", Query{Start: at(3).Add(time.Millisecond), Limit: 4}, 3, len(all) - 1, 4},
		{"start at a fragment end excludes it", Query{Start: end(3)}, 4, len(all) - 1, DefaultLimit},
		{"end excludes a fragment starting there", Query{End: at(5)}, 0, 4, DefaultLimit},
		{"window", Query{Start: at(2).Add(-time.Millisecond), End: at(7).Add(time.Millisecond), Limit: 2}, 1, 7, 2},
		{"limit capped", Query{Limit: MaxLimit * 10}, 0, len(all) - 1, MaxLimit},
		{"empty window", Query{Start: end(len(all) - 1).Add(time.Hour)}, 0, -1, DefaultLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			q := tt.q
			for pages := 0; ; pages++ {
				page, next, err := s.Fragments("cam", q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > tt.pageSz || next != "" && len(page) != tt.pageSz {
					t.Fatalf("page %d: %d fragments, next %q", pages, len(page), next)
				}
				for _, f := range page {
					got = append(got, f.Number)
				}
				if next == "" {
					break
				}
				q.Cursor = next
			}
			var want []uint64
			for i := tt.first; i <= tt.last; i++ {
				want = append(want, all[i].Number)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}
