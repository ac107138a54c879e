package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Joining viewers.
//
// A viewer's slots are bound to their sources as soon as it subscribes, but
// its connection needs ICE and DTLS before anything it is sent arrives:
// Pion drops earlier writes silently. Offering it packets meanwhile costs as
// much as forwarding them — a queue push and a writer wake-up per packet,
// and for video a walk of the cached group and a failed keyframe write each
// time — which, when hundreds of viewers join at once, is CPU the node
// needs for their handshakes. And once the connection is up the slot would
// still wait for its source's next packet before it started.
//
// So a subscriber's viewer is gated until its connection is up: its slots
// are offered nothing, and the moment the connection reaches connected its
// writer starts every video slot on its source's cached group (pace.go
// sends the keyframe at once). Audio starts with its next packet, 20 ms
// away at most.

// viewerDTLS makes a subscriber connection's DTLS handshake shorter by a
// round trip and a half. The server answers as the DTLS server (setup:
// passive; RFC 5763 allows either role to an actpass offer, and the offerer
// cannot start before the answer anyway: it needs our ICE credentials), so
// it finishes first and its media follows its last flight at once, instead
// of the viewer finishing and the server waiting for the viewer's last
// flight; and it skips the HelloVerifyRequest cookie round trip, which
// guards against spoofed source addresses — by the time DTLS starts, ICE's
// connectivity check has already proved the viewer's address, and a
// ClientHello from any other address never reaches the handshake.
func viewerDTLS(se *webrtc.SettingEngine) {
	_ = se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer) // only fails for DTLSRoleAuto
	se.SetDTLSInsecureSkipHelloVerify(true)
}

// gate holds the viewer's media back until connected. Called before the
// viewer is attached to its room.
func (v *viewer) gate() { v.up.Store(false) }

// connected asks the viewer's writer to start its slots (on a Pion
// goroutine, each time the connection reaches connected).
func (v *viewer) connected() {
	v.starting.Store(true)
	v.schedule()
}

// startSlots opens the gate and starts each video slot on its source's
// cached group, once connected asked for it. Called by the writer serving
// v, before it drains the queue.
func (v *viewer) startSlots() {
	if !v.starting.Swap(false) {
		return
	}
	v.up.Store(true)
	v.room.s.viewerUp(v)
	now := time.Now()
	for _, sl := range v.slots {
		if sl.kind == videoIdx {
			sl.start(now)
		}
	}
}

// start points the slot's writing at its binding and begins the replay of
// the source's cached group; with no group, the slot waits for a keyframe
// as after any switch (forward asks for one).
func (sl *slot) start(now time.Time) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	b := sl.binding.Load()
	if b == nil || sl.cur == b || b.src.gop == nil {
		return
	}
	bt := sl.bound.Load()
	if bt == nil {
		return
	}
	sl.begin(b, bt)
	if sl.startReplay(now) {
		sl.waitKey = false
	}
}
