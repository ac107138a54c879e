package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// Simulcast receive (PROTOCOL.md §9). A publisher's video m-line may carry
// up to three RID encodings, q, h and f (low, medium, high). Each arrives as
// its own up-track and becomes its own source, with everything a source has:
// one reader, its own NACK cache, keyframe (GOP) cache and PLI throttle. The
// layers of one publisher share a simulcast group; the seat points at one
// of them (the primary, whichever arrived first) and every layer feeds all
// of the seat's viewer slots, each slot taking the packets of the one layer
// it is bound to (slot.binding). Which layer that is, per viewer, is the
// selector's business (selector.go).
//
// A single-encoding publisher's video is one source with no group, its layer
// counted as high.

// Layer indexes, lowest first; what a slot may carry at most is one of
// them, or layerOff.
const (
	layerLow    = 0
	layerMedium = 1
	layerHigh   = 2
	numLayers   = 3
	layerOff    = -1
)

var layerNames = [numLayers]string{"low", "medium", "high"}

// layerOfRID maps the contract's RIDs to layers.
func layerOfRID(rid string) (int, bool) {
	switch rid {
	case "q":
		return layerLow, true
	case "h":
		return layerMedium, true
	case "f":
		return layerHigh, true
	}
	return 0, false
}

// simulcast is one publisher's video layers.
type simulcast struct {
	layers [numLayers]*source // guarded by room.mu
}

// pick is the highest layer present at or below max, else the lowest
// present above it (a viewer asking for low still sees video when the
// publisher sends only high); nil when no layer is present.
func (g *simulcast) pick(max int) *source {
	for l := min(max, numLayers-1); l >= 0; l-- {
		if g.layers[l] != nil {
			return g.layers[l]
		}
	}
	for l := max + 1; l < numLayers; l++ {
		if g.layers[l] != nil {
			return g.layers[l]
		}
	}
	return nil
}

// any is some present layer, nil when none is.
func (g *simulcast) any() *source { return g.pick(layerHigh) }

// checkSimulcast refuses a publish offer whose video m-line names RIDs the
// contract does not (q, h, f: at most three, each once), before Pion takes
// the offer; it returns the layers the offer declares.
func checkSimulcast(offer string) (declared [numLayers]bool, err error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return declared, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, md := range sd.MediaDescriptions {
		seen := map[string]bool{}
		for _, a := range md.Attributes {
			if a.Key != "rid" {
				continue
			}
			rid, dir, _ := strings.Cut(a.Value, " ")
			if md.MediaName.Media != "video" {
				return declared, fmt.Errorf("%w: rid %q on a %s m-line", ErrBadSDP, rid, md.MediaName.Media)
			}
			layer, ok := layerOfRID(rid)
			if !ok {
				return declared, fmt.Errorf("%w: simulcast rid %q, want q, h or f", ErrBadSDP, rid)
			}
			if seen[rid] {
				return declared, fmt.Errorf("%w: simulcast rid %q twice", ErrBadSDP, rid)
			}
			if d, _, _ := strings.Cut(dir, " "); d != "send" {
				return declared, fmt.Errorf("%w: simulcast rid %q is %q, want send", ErrBadSDP, rid, d)
			}
			seen[rid] = true
			declared[layer] = true
		}
	}
	return declared, nil
}

// addSource registers a new up-track of p, false when p already has one of
// that kind (or that layer). Called with room.mu held.
func (p *publisher) addSource(src *source, layered bool) bool {
	if !layered {
		if p.sources[src.kind] != nil {
			return false
		}
		p.sources[src.kind] = src
		return true
	}
	if p.sim == nil {
		if p.sources[videoIdx] != nil {
			return false // a plain video track and layers: refuse the layers
		}
		p.sim = &simulcast{}
	}
	if p.sim.layers[src.layer] != nil {
		return false
	}
	src.sim = p.sim
	p.sim.layers[src.layer] = src
	primary := p.sources[videoIdx]
	if primary == nil {
		p.sources[videoIdx] = src // reconcile points the seat at it
		return true
	}
	// Another layer of a video the seat may already show: it feeds the
	// same slots, and the viewers may prefer it.
	src.seatIdx = primary.seatIdx
	p.room.refreshSinks(primary)
	if primary.seatIdx >= 0 {
		p.room.reselectSeat(primary.seatIdx)
	}
	return true
}

// removeSource forgets an up-track that ended; true when p has no video or
// audio of that kind left (the seat stops showing it). A layer that was
// the primary hands the seat to another layer. Called with room.mu held.
func (p *publisher) removeSource(src *source) (gone bool) {
	if src.sim == nil {
		if p.sources[src.kind] != src {
			return false
		}
		p.sources[src.kind] = nil
		return true
	}
	g := src.sim
	if g.layers[src.layer] != src {
		return false
	}
	g.layers[src.layer] = nil
	src.sim = nil // no longer one of the group: refreshSinks leaves the others be
	src.sinks.Store(new([]*slot))
	if p.sources[videoIdx] != src {
		if s := p.sources[videoIdx]; s != nil && s.seatIdx >= 0 {
			p.room.reselectSeat(s.seatIdx)
		}
		return false
	}
	next := g.any()
	p.sources[videoIdx] = next
	if next != nil {
		// The primary changes hands: the new one takes the seat, and a
		// reconcile re-points its slots (each to the layer it prefers).
		next.seatIdx = -1
		next.reported = src.reported
	}
	return next == nil
}
