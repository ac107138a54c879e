package client

import (
	"context"
	"encoding/json"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Real networks (PROTOCOL.md §9): the ICE servers the snapshot lists, the
// per-slot quality a viewer asks for, and what the server says back.

// ICEServers is the last snapshot's rtc.iceServers: give them to the
// client's peer connections (the embedded TURN server, when the server
// runs one; empty otherwise).
func (c *Client) ICEServers() []proto.ICEServer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]proto.ICEServer(nil), c.iceServers...)
}

// onJoinRTC keeps the snapshot's rtc member. Run by the reader with c.mu
// held, like every onOK.
func (c *Client) onJoinRTC(result json.RawMessage) {
	var snap struct {
		RTC proto.RTCInfo `json:"rtc"`
	}
	if err := json.Unmarshal(result, &snap); err != nil {
		c.logger.Warn("room.join result with unexpected rtc", "err", err)
		return
	}
	c.iceServers = snap.RTC.ICEServers
}

// SetQuality is rtc.setQuality: the most this viewer wants of seat
// seatIndex's video; proto.QualityOff pauses that slot's video for this
// viewer only. It needs a subscription (Subscribe first).
func (c *Client) SetQuality(ctx context.Context, seatIndex int, q proto.Quality) error {
	return c.Call(ctx, proto.MethodRTCSetQuality, proto.SetQualityParams{SeatIndex: &seatIndex, Quality: q}, nil)
}

// OnQuality registers f for rtc.quality: the subscription's slots whose
// layer changed (at most two notifications a second). The returned func
// removes it.
func (c *Client) OnQuality(f func(proto.QualityNote)) (remove func()) {
	return c.OnEvent(func(ev Event) {
		if ev.Method != proto.NoteRTCQuality {
			return
		}
		if v, err := Decode[proto.QualityNote](ev); err == nil {
			f(v)
		} else {
			c.logger.Warn("notification with unexpected params", "method", ev.Method, "err", err)
		}
	})
}

// OnPublisherLayers registers f for rtc.publisherLayers: which simulcast
// layers of this client's publication some viewer receives; an encoder may
// stop the others. The returned func removes it.
func (c *Client) OnPublisherLayers(f func(proto.PublisherLayersNote)) (remove func()) {
	return c.OnEvent(func(ev Event) {
		if ev.Method != proto.NoteRTCPublisherLayers {
			return
		}
		if v, err := Decode[proto.PublisherLayersNote](ev); err == nil {
			f(v)
		} else {
			c.logger.Warn("notification with unexpected params", "method", ev.Method, "err", err)
		}
	})
}
