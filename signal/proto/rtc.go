package proto

// The wire types of real networks (PROTOCOL.md §9): how to reach the media
// when UDP is blocked, and per-viewer layer selection on simulcast slots.

// RTCInfo is the snapshot's "rtc" member: what a client should give its
// RTCPeerConnection.
type RTCInfo struct {
	// ICEServers is empty (never null) when the server runs no TURN.
	ICEServers []ICEServer `json:"iceServers"`
}

// ICEServer is one RTCIceServer, as browsers take it. The TURN credentials
// are valid until the token they were derived from expires.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Quality is what a viewer asks for on one slot (rtc.setQuality).
type Quality string

const (
	QualityHigh   Quality = "high"
	QualityMedium Quality = "medium"
	QualityLow    Quality = "low"
	QualityOff    Quality = "off"
)

// SetQualityParams are rtc.setQuality's params; the result is {}.
type SetQualityParams struct {
	SeatIndex *int    `json:"seatIndex"`
	Quality   Quality `json:"quality"`
}

// Layer is what a viewer's slot carries now (rtc.quality).
type Layer string

const (
	LayerHigh   Layer = "high"
	LayerMedium Layer = "medium"
	LayerLow    Layer = "low"
	LayerPaused Layer = "paused" // the seat has video but this viewer gets none
	LayerNone   Layer = "none"   // the seat sends no video
)

// Why a slot is below what the viewer asked for, or paused.
const (
	ReasonBandwidth = "bandwidth"
	ReasonRequested = "requested"
)

// SlotQuality is one slot of an rtc.quality notification.
type SlotQuality struct {
	SeatIndex int    `json:"seatIndex"`
	Layer     Layer  `json:"layer"`
	Reason    string `json:"reason,omitempty"`
}

// QualityNote is the rtc.quality notification: the slots whose layer
// changed since the last one (at most 2 a second).
type QualityNote struct {
	Slots []SlotQuality `json:"slots"`
}

// PublisherLayersNote is the rtc.publisherLayers notification: which of the
// publisher's simulcast layers at least one viewer receives.
type PublisherLayersNote struct {
	High   bool `json:"high"`
	Medium bool `json:"medium"`
	Low    bool `json:"low"`
}
