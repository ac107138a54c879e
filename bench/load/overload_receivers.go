package load

import "slices"

// Receivers is how a window's packets were spread over its viewers: each
// viewer's arrivals against what it was due (every publisher's packets
// over the window). The loss figures cannot see a viewer that got nothing
// — it saw no sequence numbers, so it expected none — so a window can
// read "0 % loss" while half its viewers are dark (bench/README.md,
// overload run 20). These counts show it.
type Receivers struct {
	Viewers int `json:"viewers"`
	// By share of the due packets received in the window.
	None      int `json:"none"`      // 0
	UnderHalf int `json:"underHalf"` // > 0, < 50 %
	Partial   int `json:"halfTo90"`  // 50 – 90 %
	Full      int `json:"atLeast90"` // ≥ 90 %
	// NotConnected viewers had not completed ICE + DTLS by the window's
	// end (the generator's own connection state), of any bucket above.
	// NoICE of them had not even completed ICE.
	NotConnected int `json:"notConnected"`
	NoICE        int `json:"noICE"`
	// P10, P50, P90 of the received share, percent.
	P10 float64 `json:"p10Pct"`
	P50 float64 `json:"p50Pct"`
	P90 float64 `json:"p90Pct"`
}

// arrivals is every packet a viewer received so far (duplicates and
// retransmissions included).
func arrivals(v Viewer) uint64 {
	var n uint64
	for _, tr := range v.Report() {
		n += tr.Wire.Packets
	}
	return n
}

// receiveMark is the viewers and their arrivals at a window's start.
type receiveMark struct {
	views []Viewer
	got   []uint64
}

func markReceivers(views []Viewer) receiveMark {
	m := receiveMark{views: views, got: make([]uint64, len(views))}
	for i, v := range views {
		m.got[i] = arrivals(v)
	}
	return m
}

// spread counts, for the viewers present at the mark, what each received
// since, against due packets each.
func (m receiveMark) spread(due float64) Receivers {
	r := Receivers{Viewers: len(m.views)}
	if len(m.views) == 0 || due <= 0 {
		return r
	}
	shares := make([]float64, len(m.views))
	for i, v := range m.views {
		got := arrivals(v) - m.got[i]
		s := 100 * float64(got) / due
		shares[i] = s
		switch {
		case got == 0:
			r.None++
		case s < 50:
			r.UnderHalf++
		case s < 90:
			r.Partial++
		default:
			r.Full++
		}
		if c, ok := v.(phaseClock); ok {
			ice, conn := c.ConnectedNs()
			if conn == 0 {
				r.NotConnected++
			}
			if ice == 0 {
				r.NoICE++
			}
		}
	}
	slices.Sort(shares)
	at := func(p float64) float64 { return shares[min(len(shares)-1, int(p*float64(len(shares))))] }
	r.P10, r.P50, r.P90 = at(0.1), at(0.5), at(0.9)
	return r
}
