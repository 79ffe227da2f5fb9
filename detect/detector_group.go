package detect

import (
	"image"
	"math"
	"sort"
)

// groupEps is OpenCV's GROUP_EPS, the relative tolerance within which two
// raw cascade hits count as the same face.
const groupEps = 0.2

// group is a merged face and how many raw hits it merged.
type group struct {
	Rect      image.Rectangle
	Neighbors int
}

// groupRectangles is cv::groupRectangles (OpenCV 4.6, without reject
// levels): it clusters similar rectangles, averages each cluster, drops
// clusters of at most minNeighbors members and clusters inside a stronger
// one. Unlike OpenCV's it keeps each cluster's size, which is what
// Face.Confidence is made from. The result matches what
// CascadeClassifier.DetectMultiScaleWithParams returns for the same
// min neighbours (detector_group_test.go checks this).
func groupRectangles(rects []image.Rectangle, minNeighbors int, eps float64) []group {
	if minNeighbors <= 0 || len(rects) == 0 {
		out := make([]group, len(rects))
		for i, r := range rects {
			out[i] = group{Rect: r, Neighbors: 1}
		}
		return out
	}
	labels, nclasses := partition(rects, func(a, b image.Rectangle) bool { return similarRects(a, b, eps) })

	type sum struct{ x, y, w, h, n int }
	sums := make([]sum, nclasses)
	for i, r := range rects {
		s := &sums[labels[i]]
		s.x += r.Min.X
		s.y += r.Min.Y
		s.w += r.Dx()
		s.h += r.Dy()
		s.n++
	}
	avg := make([]image.Rectangle, nclasses)
	for i, s := range sums {
		// OpenCV averages in single precision and rounds half to even.
		f := float32(1) / float32(s.n)
		round := func(v int) int { return int(math.RoundToEven(float64(float32(v) * f))) }
		x, y := round(s.x), round(s.y)
		avg[i] = image.Rect(x, y, x+round(s.w), y+round(s.h))
	}

	var out []group
	for i, r1 := range avg {
		n1 := sums[i].n
		if n1 <= minNeighbors {
			continue
		}
		inside := false
		for j, r2 := range avg {
			n2 := sums[j].n
			if j == i || n2 <= minNeighbors {
				continue
			}
			dx := int(math.RoundToEven(float64(r2.Dx()) * eps))
			dy := int(math.RoundToEven(float64(r2.Dy()) * eps))
			if r1.Min.X >= r2.Min.X-dx && r1.Min.Y >= r2.Min.Y-dy &&
				r1.Max.X <= r2.Max.X+dx && r1.Max.Y <= r2.Max.Y+dy &&
				(n2 > max(3, n1) || n1 < 3) {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, group{Rect: r1, Neighbors: n1})
		}
	}
	return out
}

// similarRects is OpenCV's SimilarRects predicate.
func similarRects(a, b image.Rectangle, eps float64) bool {
	delta := eps * float64(min(a.Dx(), b.Dx())+min(a.Dy(), b.Dy())) * 0.5
	near := func(p, q int) bool { return math.Abs(float64(p-q)) <= delta }
	return near(a.Min.X, b.Min.X) && near(a.Min.Y, b.Min.Y) &&
		near(a.Max.X, b.Max.X) && near(a.Max.Y, b.Max.Y)
}

// partition splits items into equivalence classes of the transitive closure
// of same, numbering classes in order of their first member, as cv::partition
// does.
func partition(items []image.Rectangle, same func(a, b image.Rectangle) bool) ([]int, int) {
	parent := make([]int, len(items))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			if same(items[i], items[j]) {
				if a, b := find(i), find(j); a != b {
					parent[b] = a
				}
			}
		}
	}
	labels := make([]int, len(items))
	class := make(map[int]int)
	for i := range items {
		root := find(i)
		c, ok := class[root]
		if !ok {
			c = len(class)
			class[root] = c
		}
		labels[i] = c
	}
	return labels, len(class)
}

// sortLargestFirst orders faces by area, largest first, then top to bottom
// and left to right so that the order is stable.
func sortLargestFirst(faces []Face) {
	sort.SliceStable(faces, func(i, j int) bool {
		ai := faces[i].Rect.Dx() * faces[i].Rect.Dy()
		aj := faces[j].Rect.Dx() * faces[j].Rect.Dy()
		if ai != aj {
			return ai > aj
		}
		if faces[i].Rect.Min.Y != faces[j].Rect.Min.Y {
			return faces[i].Rect.Min.Y < faces[j].Rect.Min.Y
		}
		return faces[i].Rect.Min.X < faces[j].Rect.Min.X
	})
}
