package signal

import (
	"encoding/json"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Per-viewer layers (PROTOCOL.md §9): rtc.setQuality, and the rtc.quality
// and rtc.publisherLayers notifications the media side raises.

// checkQuality is rtc.setQuality's params check (methods.go's check).
func checkQuality(p *proto.SetQualityParams) error {
	if err := needSeat(p.SeatIndex); err != nil {
		return err
	}
	switch p.Quality {
	case proto.QualityHigh, proto.QualityMedium, proto.QualityLow, proto.QualityOff:
		return nil
	}
	return invalidParams(`quality must be "high", "medium", "low" or "off"`)
}

func setQuality(s *session, _ json.RawMessage, p *proto.SetQualityParams) (any, error) {
	if s.sub == nil {
		return nil, invalidParams("no subscribe connection: call rtc.subscribe first")
	}
	if err := s.sub.SetQuality(*p.SeatIndex, sfu.Quality(p.Quality)); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// qualityHook sends a subscriber's slot changes as rtc.quality.
func (s *session) qualityHook() sfu.PeerOption {
	return sfu.OnQuality(func(slots []sfu.SlotQuality) {
		note := proto.QualityNote{Slots: make([]proto.SlotQuality, len(slots))}
		for i, q := range slots {
			note.Slots[i] = proto.SlotQuality{SeatIndex: q.SeatIndex, Layer: proto.Layer(q.Layer), Reason: q.Reason}
		}
		s.notify(proto.NoteRTCQuality, note)
	})
}

// layersHook sends a simulcast publisher's wanted layers as
// rtc.publisherLayers.
func (s *session) layersHook() sfu.PeerOption {
	return sfu.OnPublisherLayers(func(l sfu.LayerSet) {
		s.notify(proto.NoteRTCPublisherLayers, proto.PublisherLayersNote{High: l.High, Medium: l.Medium, Low: l.Low})
	})
}
