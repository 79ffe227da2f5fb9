package ingest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
)

// chosen is one media of a session and the format ingest decodes from it.
type chosen struct {
	media  *description.Media
	format format.Format
}

// selection is what ingest takes from a session description: at most one
// H.264/H.265 video and at most one AAC/Opus audio format.
type selection struct {
	video, audio *chosen
	ignored      []string // codecs present but not recorded
}

func (s selection) chosen() []*chosen {
	var out []*chosen
	for _, c := range []*chosen{s.video, s.audio} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// selectMedias picks the formats to record. It fails with
// ErrUnsupportedCodec when nothing recordable is offered.
func selectMedias(medias []*description.Media) (selection, error) {
	var sel selection
	for _, m := range medias {
		if m.IsBackChannel {
			continue
		}
		for _, f := range m.Formats {
			switch f := f.(type) {
			case *format.H264, *format.H265:
				if sel.video == nil {
					sel.video = &chosen{m, f}
					continue
				}
			case *format.MPEG4Audio:
				if sel.audio == nil && f.Config != nil && f.Config.SampleRate > 0 {
					sel.audio = &chosen{m, f}
					continue
				}
			case *format.Opus:
				if sel.audio == nil {
					sel.audio = &chosen{m, f}
					continue
				}
			}
			sel.ignored = append(sel.ignored, f.Codec())
		}
	}
	if sel.video == nil && sel.audio == nil {
		if len(sel.ignored) == 0 {
			return sel, fmt.Errorf("%w: no media offered", ErrUnsupportedCodec)
		}
		return sel, fmt.Errorf("%w: %s (want H264 or H265 video, AAC or Opus audio)",
			ErrUnsupportedCodec, strings.Join(sel.ignored, ", "))
	}
	return sel, nil
}

// restrict drops the chosen medias that are not among setup.
func (s selection) restrict(setup []*description.Media) selection {
	if s.video != nil && !slices.Contains(setup, s.video.media) {
		s.video = nil
	}
	if s.audio != nil && !slices.Contains(setup, s.audio.media) {
		s.audio = nil
	}
	return s
}
