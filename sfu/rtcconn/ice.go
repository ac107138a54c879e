package rtcconn

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// The ICE side of a viewer (RFC 8445, controlled: the viewer offered, so
// it controls). Every request is authenticated before it changes anything:
// a bad MESSAGE-INTEGRITY, FINGERPRINT or USERNAME is counted and dropped.

// localPriority is what our checks claim as PRIORITY (RFC 8445 §7.1.1):
// a host candidate's type preference, one local preference, component 1.
const localPriority = 126<<24 | 65535<<8 | 255

func (t *Transport) handleSTUN(b []byte, addr Path) {
	var msg stun.Message
	msg.Raw = append([]byte(nil), b...) // Decode keeps Raw; b is the read loop's
	if err := msg.Decode(); err != nil {
		return
	}
	switch msg.Type {
	case stun.BindingRequest:
		t.handleRequest(&msg, addr)
	case stun.BindingSuccess:
		t.handleResponse(&msg, addr)
	}
}

func (t *Transport) handleRequest(msg *stun.Message, addr Path) {
	checks := t.m.cfg.Metrics.Checks
	var user stun.Username
	if err := user.GetFrom(msg); err != nil || string(user) != t.p.LocalUfrag+":"+t.p.RemoteUfrag ||
		stun.NewShortTermIntegrity(t.p.LocalPwd).Check(msg) != nil || stun.Fingerprint.Check(msg) != nil {
		checks.WithLabelValues("refused").Inc()
		return
	}
	checks.WithLabelValues("ok").Inc()
	resp, err := stun.Build(msg, stun.BindingSuccess,
		&stun.XORMappedAddress{IP: net.IP(addr.Addr.Addr().AsSlice()), Port: int(addr.Addr.Port())},
		stun.NewShortTermIntegrity(t.p.LocalPwd), stun.Fingerprint)
	if err != nil {
		return
	}
	t.send(resp.Raw, addr)
	if !addr.TCP && !t.m.learn(t, addr.Addr) {
		return
	}
	now := t.m.now()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	trigger := !t.probed[addr] && len(t.probed) < maxAddrsPerViewer*2
	if trigger {
		t.probed[addr] = true
	}
	var moved bool
	if ice.UseCandidate().IsSet(msg) && t.selected != addr {
		// Nominated (RFC 8445 §7.3.1.5). The request just proved the
		// viewer's agent is there and knows our password: consent starts.
		moved = t.phase >= dtlsUp && t.selected.Valid()
		t.selected, t.lastConsent, t.nextCheck = addr, now, now.Add(t.m.jitter())
	}
	t.mu.Unlock()
	if trigger {
		t.sendCheck(addr, now) // the triggered check (RFC 8445 §7.3.1.4)
	}
	if moved {
		t.h.Moved(addr)
	}
}

func (t *Transport) handleResponse(msg *stun.Message, addr Path) {
	t.mu.Lock()
	c, ok := t.pending[msg.TransactionID]
	t.mu.Unlock()
	if !ok || c.addr != addr || stun.NewShortTermIntegrity(t.p.RemotePwd).Check(msg) != nil {
		return
	}
	now := t.m.now()
	t.mu.Lock()
	delete(t.pending, msg.TransactionID)
	if addr == t.selected {
		t.lastConsent = now // consent refreshed (RFC 7675 §5.1)
		if !t.leaving.IsZero() && !c.sent.Before(t.leaveCheck) {
			t.leaving = time.Time{} // it answered after its goodbye: still there
		}
	}
	t.mu.Unlock()
}

// sendCheck sends a Binding request to addr as the controlled agent:
// triggered checks and consent checks alike.
func (t *Transport) sendCheck(addr Path, now time.Time) {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(t.p.RemoteUfrag+":"+t.p.LocalUfrag),
		ice.AttrControlled(t.tiebrk), ice.PriorityAttr(localPriority),
		stun.NewShortTermIntegrity(t.p.RemotePwd), stun.Fingerprint)
	if err != nil {
		return
	}
	t.mu.Lock()
	if t.closed || len(t.pending) >= maxPending {
		t.mu.Unlock()
		return
	}
	t.pending[req.TransactionID] = check{addr: addr, sent: now}
	t.mu.Unlock()
	t.send(req.Raw, addr)
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}
