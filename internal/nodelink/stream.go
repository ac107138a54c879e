package nodelink

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Frame kinds a Stream sends and reads. The relay above adds its own
// (open, close, resume…) for what is not the session's ordered traffic.
const (
	KindMsg = "msg" // one message of the session, numbered
	KindAck = "ack" // "I have every message up to a"
)

// ErrBacklog: more messages await the peer's acknowledgement than the
// stream may keep for a resume. The session is too far behind to be
// resumed exactly, so it must end.
var ErrBacklog = errors.New("nodelink: too many unacknowledged messages")

// ErrGap: a message arrived out of order, so one was lost. Links are
// ordered and a resume re-sends from the peer's last acknowledged message,
// so this means a broken peer; the session must end.
var ErrGap = errors.New("nodelink: a message of the session was lost")

// Msg is the payload of a KindMsg frame. Text travels as a string (JSON
// escapes what needs escaping), binary as base64.
type Msg struct {
	Seq  uint64 `json:"q"`
	Ack  uint64 `json:"a"`
	Text string `json:"d,omitempty"`
	Bin  []byte `json:"b,omitempty"`
}

// ackPayload is a KindAck frame's payload, and the resume handshake's.
type ackPayload struct {
	Ack uint64 `json:"a"`
}

// Stream is one relayed session's ordered channel over whichever link
// currently joins its two nodes. Every message is numbered and kept until
// the peer acknowledges it, so when a link drops the session continues on
// a new one (Attach) without losing or repeating a message — a network
// break costs a relayed client nothing but latency. What it may keep is
// bounded (max messages); beyond that Send fails with ErrBacklog.
type Stream struct {
	id  string
	max int

	mu      sync.Mutex
	link    *Link  // nil while detached
	sent    uint64 // seq of the last message sent
	unacked []Msg  // sent, not yet acknowledged, oldest first
	got     uint64 // seq of the last message received
	pending int    // messages received since the last acknowledgement
}

// NewStream makes the stream of session id, keeping at most max
// unacknowledged messages (at least 4).
func NewStream(id string, limit int) *Stream {
	return &Stream{id: id, max: max(limit, 4)}
}

// ID is the session's id, the Session of every frame.
func (s *Stream) ID() string { return s.id }

// Link is the link the stream uses now, nil while detached.
func (s *Stream) Link() *Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link
}

// Send numbers a message, keeps it and sends it when a link is attached
// (while detached it waits for Attach). A link whose Send fails is
// detached: the stream waits for the next one.
func (s *Stream) Send(text string, bin []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unacked) >= s.max {
		return ErrBacklog
	}
	s.sent++
	m := Msg{Seq: s.sent, Text: text, Bin: bin}
	s.unacked = append(s.unacked, m)
	s.sendLocked(m)
	return nil
}

// sendLocked sends m over the current link with the latest acknowledgement.
func (s *Stream) sendLocked(m Msg) {
	if s.link == nil {
		return
	}
	m.Ack = s.got
	s.pending = 0
	p, err := json.Marshal(m)
	if err == nil {
		err = s.link.Send(Frame{Session: s.id, Kind: KindMsg, Payload: p})
	}
	if err != nil {
		s.link = nil
	}
}

// Control sends an unnumbered frame of the relay's own (open, close…) over
// the current link; ErrClosed while detached.
func (s *Stream) Control(kind string, payload any) error {
	p, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	s.mu.Lock()
	l := s.link
	s.mu.Unlock()
	if l == nil {
		return ErrClosed
	}
	return l.Send(Frame{Session: s.id, Kind: kind, Payload: p})
}

// Receive reads a KindMsg or KindAck frame. It returns the message to
// deliver and true for a new message, false for an ack or a message
// already delivered (re-sent after a resume); ErrGap when one was lost.
func (s *Stream) Receive(f Frame) (Msg, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Kind {
	case KindAck:
		var a ackPayload
		if json.Unmarshal(f.Payload, &a) != nil {
			return Msg{}, false, fmt.Errorf("nodelink: a bad ack on session %s", s.id)
		}
		s.trimLocked(a.Ack)
		return Msg{}, false, nil
	case KindMsg:
	default:
		return Msg{}, false, fmt.Errorf("nodelink: %q is not a stream frame", f.Kind)
	}
	var m Msg
	if json.Unmarshal(f.Payload, &m) != nil {
		return Msg{}, false, fmt.Errorf("nodelink: a bad message on session %s", s.id)
	}
	s.trimLocked(m.Ack)
	switch {
	case m.Seq <= s.got:
		return Msg{}, false, nil // a re-sent one: delivered already
	case m.Seq != s.got+1:
		return Msg{}, false, ErrGap
	}
	s.got = m.Seq
	s.pending++
	// Acknowledge now and then even when this end sends nothing (a viewer
	// only receives notifications): the peer's backlog must drain.
	if s.pending >= s.max/4 && s.link != nil {
		s.pending = 0
		p, _ := json.Marshal(ackPayload{Ack: s.got})
		if s.link.Send(Frame{Session: s.id, Kind: KindAck, Payload: p}) != nil {
			s.link = nil
		}
	}
	return m, true, nil
}

// trimLocked drops the messages the peer has.
func (s *Stream) trimLocked(ack uint64) {
	i := 0
	for i < len(s.unacked) && s.unacked[i].Seq <= ack {
		i++
	}
	if i > 0 {
		s.unacked = append(s.unacked[:0], s.unacked[i:]...)
	}
}

// Got is the seq of the last message received: what a resume tells the
// peer it has.
func (s *Stream) Got() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// Attach moves the stream onto l. peerGot is the last message the peer
// received (from its resume frame): the ones after it are sent again, in
// order, before anything new.
func (s *Stream) Attach(l *Link, peerGot uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link = l
	s.trimLocked(peerGot)
	for _, m := range s.unacked {
		s.sendLocked(m)
	}
}

// Detach leaves l, if the stream is on it, and reports whether it was.
func (s *Stream) Detach(l *Link) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != l || l == nil {
		return false
	}
	s.link = nil
	return true
}

// ResumePayload is the payload of the resume handshake's frames.
func (s *Stream) ResumePayload() json.RawMessage {
	p, _ := json.Marshal(ackPayload{Ack: s.Got()})
	return p
}

// ParseResume reads the peer's last received seq from a resume frame.
func ParseResume(p json.RawMessage) (uint64, error) {
	var a ackPayload
	if err := json.Unmarshal(p, &a); err != nil {
		return 0, fmt.Errorf("nodelink: bad resume: %w", err)
	}
	return a.Ack, nil
}
