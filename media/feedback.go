package media

import (
	"fmt"

	"github.com/pion/rtcp"
)

// Bounds on what one RTCP compound packet may make us do: a hostile peer can
// fit thousands of NACK pairs or report blocks in a datagram.
const (
	MaxFeedbackNacks     = 1024 // sequence numbers
	MaxFeedbackReports   = 64   // reception report blocks
	MaxFeedbackKeyframes = 32   // SSRCs asking for a keyframe
	// MaxFeedbackTransportCC bounds transport-wide feedback packets kept
	// from one compound packet (a receiver sends one per interval).
	MaxFeedbackTransportCC = 4
)

// Nack is one packet a peer asks to be sent again.
type Nack struct {
	MediaSSRC uint32
	Seq       uint16
}

// Feedback is what one RTCP compound packet asks of us, flattened and
// bounded. Reuse one per reader goroutine: Parse keeps its slices' capacity.
type Feedback struct {
	Keyframes     []uint32 // media SSRCs with a PLI or FIR
	Nacks         []Nack
	Reports       []rtcp.ReceptionReport // from RRs and SRs
	SenderReports []rtcp.SenderReport    // without their report blocks
	Estimates     []uint64               // REMB bitrates, bit/s
	TWCC          int                    // transport-wide feedback packets
	// TransportCC are the first MaxFeedbackTransportCC of them, for a
	// DownlinkEstimator.
	TransportCC []*rtcp.TransportLayerCC
	Truncated   int // times a bound cut the input short
}

func (f *Feedback) reset() {
	f.Keyframes = f.Keyframes[:0]
	f.Nacks = f.Nacks[:0]
	f.Reports = f.Reports[:0]
	f.SenderReports = f.SenderReports[:0]
	f.Estimates = f.Estimates[:0]
	clear(f.TransportCC)
	f.TransportCC = f.TransportCC[:0]
	f.TWCC, f.Truncated = 0, 0
}

// Parse decodes an RTCP compound packet into f, replacing its contents.
// Unknown packet types are ignored; a buffer that is not RTCP is an error and
// leaves f empty.
func (f *Feedback) Parse(buf []byte) error {
	f.reset()
	pkts, err := rtcp.Unmarshal(buf)
	if err != nil {
		return fmt.Errorf("media: bad RTCP: %w", err)
	}
	f.Collect(pkts)
	return nil
}

// Collect adds already-decoded RTCP packets to f (for callers that read
// []rtcp.Packet from Pion), honouring the same bounds.
func (f *Feedback) Collect(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication:
			f.keyframe(p.MediaSSRC)
		case *rtcp.FullIntraRequest:
			for _, e := range p.FIR {
				f.keyframe(e.SSRC)
			}
		case *rtcp.TransportLayerNack:
			f.nacks(p)
		case *rtcp.ReceiverReport:
			f.reports(p.Reports)
		case *rtcp.SenderReport:
			if len(f.SenderReports) < MaxFeedbackReports {
				sr := *p
				sr.Reports, sr.ProfileExtensions = nil, nil
				f.SenderReports = append(f.SenderReports, sr)
			} else {
				f.Truncated++
			}
			f.reports(p.Reports)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if len(f.Estimates) < MaxFeedbackReports {
				f.Estimates = append(f.Estimates, uint64(p.Bitrate))
			} else {
				f.Truncated++
			}
		case *rtcp.TransportLayerCC:
			f.TWCC++
			if len(f.TransportCC) < MaxFeedbackTransportCC {
				f.TransportCC = append(f.TransportCC, p)
			} else {
				f.Truncated++
			}
		}
	}
}

func (f *Feedback) keyframe(ssrc uint32) {
	for _, s := range f.Keyframes {
		if s == ssrc {
			return
		}
	}
	if len(f.Keyframes) >= MaxFeedbackKeyframes {
		f.Truncated++
		return
	}
	f.Keyframes = append(f.Keyframes, ssrc)
}

func (f *Feedback) nacks(p *rtcp.TransportLayerNack) {
	for _, pair := range p.Nacks {
		if len(f.Nacks) >= MaxFeedbackNacks {
			f.Truncated++
			return
		}
		f.Nacks = append(f.Nacks, Nack{p.MediaSSRC, pair.PacketID})
		for b := uint16(0); b < 16; b++ {
			if pair.LostPackets&(1<<b) == 0 {
				continue
			}
			if len(f.Nacks) >= MaxFeedbackNacks {
				f.Truncated++
				return
			}
			f.Nacks = append(f.Nacks, Nack{p.MediaSSRC, pair.PacketID + b + 1})
		}
	}
}

func (f *Feedback) reports(rs []rtcp.ReceptionReport) {
	for _, r := range rs {
		if len(f.Reports) >= MaxFeedbackReports {
			f.Truncated++
			return
		}
		f.Reports = append(f.Reports, r)
	}
}
