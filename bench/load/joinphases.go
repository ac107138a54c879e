package load

import (
	"time"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/stats"
)

// JoinPhases breaks a viewer's join → first keyframe down, each phase
// timed from the same start (the answer applied): ICE connected, the
// connection (DTLS, so SRTP) connected, the first media packet and the
// first keyframe. What lies between two of them is where the time went.
type JoinPhases struct {
	ICEP50Ms         float64 `json:"iceP50Ms"`
	ICEP95Ms         float64 `json:"iceP95Ms"`
	ConnectedP50Ms   float64 `json:"connectedP50Ms"`
	ConnectedP95Ms   float64 `json:"connectedP95Ms"`
	FirstPacketP50Ms float64 `json:"firstPacketP50Ms"`
	FirstPacketP95Ms float64 `json:"firstPacketP95Ms"`
	// ConnectedToKeyP50Ms / P95 are per viewer: first keyframe minus
	// connected, the server's share after the handshake.
	ConnectedToKeyP50Ms float64 `json:"connectedToKeyframeP50Ms"`
	ConnectedToKeyP95Ms float64 `json:"connectedToKeyframeP95Ms"`
}

// phaseClock is a viewer that records its connection phases (peer.Viewer;
// the raw baselines' viewers have no ICE or DTLS).
type phaseClock interface {
	ConnectedNs() (ice, conn int64)
}

// viewerPhases are one viewer's phase instants (CLOCK_MONOTONIC, 0 unknown).
type viewerPhases struct{ ice, conn int64 }

func phasesOf(v Viewer) viewerPhases {
	if pc, ok := v.(phaseClock); ok {
		ice, conn := pc.ConnectedNs()
		return viewerPhases{ice, conn}
	}
	return viewerPhases{}
}

// tallyPhases fills r.JoinPhases; nil when no viewer recorded phases.
func (r *Result) tallyPhases(reports [][]peer.TrackReport, subscribed []int64, phases []viewerPhases) {
	var ice, conn, first, connKey stats.Histogram
	for i, ph := range phases {
		if i >= len(reports) || ph.conn == 0 {
			continue
		}
		sub := subscribed[i]
		if ph.ice != 0 {
			ice.Record(time.Duration(ph.ice - sub))
		}
		conn.Record(time.Duration(ph.conn - sub))
		var firstPkt, firstKey int64
		for _, t := range reports[i] {
			if t.FirstNs != 0 && (firstPkt == 0 || t.FirstNs < firstPkt) {
				firstPkt = t.FirstNs
			}
			if t.FirstKeyNs != 0 && (firstKey == 0 || t.FirstKeyNs < firstKey) {
				firstKey = t.FirstKeyNs
			}
		}
		if firstPkt != 0 {
			first.Record(time.Duration(firstPkt - sub))
		}
		if firstKey != 0 {
			connKey.Record(time.Duration(max(firstKey-ph.conn, 0)))
		}
	}
	if conn.Count() == 0 {
		return
	}
	r.JoinPhases = &JoinPhases{
		ICEP50Ms: ms(ice.Quantile(0.5)), ICEP95Ms: ms(ice.Quantile(0.95)),
		ConnectedP50Ms: ms(conn.Quantile(0.5)), ConnectedP95Ms: ms(conn.Quantile(0.95)),
		FirstPacketP50Ms: ms(first.Quantile(0.5)), FirstPacketP95Ms: ms(first.Quantile(0.95)),
		ConnectedToKeyP50Ms: ms(connKey.Quantile(0.5)), ConnectedToKeyP95Ms: ms(connKey.Quantile(0.95)),
	}
}
