// Package livekit is seatbench's livekit target: it drives a LiveKit server
// (its v1 signalling over WebSocket, protobuf messages from
// github.com/livekit/protocol) with the bench's own synthetic publishers
// and viewers, so LiveKit is measured under exactly the load seatsfu is.
// It is its own Go module: seatsfu never depends on LiveKit.
package livekit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/livekit/protocol/auth"
	lkp "github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"
)

// protocolVersion is the client protocol the bench speaks: subscriber
// connection primary (the server offers to viewers), the signalling
// LiveKit's Go SDK uses.
const protocolVersion = "16"

// signal is one participant's signalling connection. A reader goroutine
// hands every server message to handle; a pinger keeps the participant
// alive (LiveKit drops a client that stops pinging). Close ends both.
type signal struct {
	ws     *websocket.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sendMu sync.Mutex

	join   chan *lkp.JoinResponse // the first message, once
	handle func(*signal, *lkp.SignalResponse)
	errMu  sync.Mutex
	err    error
}

// token mints a join token for identity in room.
func token(key, secret, room, identity string, publish bool) (string, error) {
	canPublish, canSubscribe := publish, !publish
	at := auth.NewAccessToken(key, secret).
		SetIdentity(identity).
		SetValidFor(2 * time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanPublish: &canPublish, CanSubscribe: &canSubscribe})
	return at.ToJWT()
}

// dial joins room as identity. handle runs on the reader goroutine for
// every message after the join response.
func dial(ctx context.Context, wsURL, tok string, handle func(*signal, *lkp.SignalResponse)) (*signal, *lkp.JoinResponse, error) {
	q := url.Values{}
	q.Set("access_token", tok)
	q.Set("protocol", protocolVersion)
	q.Set("auto_subscribe", "1")
	q.Set("sdk", "go")
	q.Set("version", "seatbench")
	ws, _, err := websocket.Dial(ctx, wsURL+"/rtc?"+q.Encode(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("livekit: dial: %w", err)
	}
	ws.SetReadLimit(4 << 20)
	rctx, cancel := context.WithCancel(context.Background())
	s := &signal{ws: ws, cancel: cancel, join: make(chan *lkp.JoinResponse, 1), handle: handle}
	s.wg.Add(1)
	go s.read(rctx)
	var jr *lkp.JoinResponse
	select {
	case jr = <-s.join:
	case <-ctx.Done():
		s.Close()
		return nil, nil, ctx.Err()
	case <-time.After(10 * time.Second):
		s.Close()
		return nil, nil, fmt.Errorf("livekit: no join response in 10 s (%v)", s.failure())
	}
	if jr == nil {
		s.Close()
		return nil, nil, fmt.Errorf("livekit: join failed: %v", s.failure())
	}
	every := time.Duration(jr.PingInterval) * time.Second
	if every <= 0 {
		every = 5 * time.Second
	}
	s.wg.Add(1)
	go s.ping(rctx, every)
	return s, jr, nil
}

func (s *signal) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *signal) failure() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *signal) read(ctx context.Context) {
	defer s.wg.Done()
	joined := false
	defer func() {
		if !joined {
			close(s.join)
		}
	}()
	for {
		_, b, err := s.ws.Read(ctx)
		if err != nil {
			s.fail(err)
			return
		}
		var m lkp.SignalResponse
		if err := proto.Unmarshal(b, &m); err != nil {
			s.fail(fmt.Errorf("livekit: bad signal message: %w", err))
			continue
		}
		if jr := m.GetJoin(); jr != nil && !joined {
			joined = true
			s.join <- jr
			continue
		}
		if lv := m.GetLeave(); lv != nil {
			s.fail(fmt.Errorf("livekit: server asked to leave: %v", lv.Reason))
		}
		if s.handle != nil {
			s.handle(s, &m)
		}
	}
}

func (s *signal) ping(ctx context.Context, every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			_ = s.send(ctx, &lkp.SignalRequest{Message: &lkp.SignalRequest_Ping{Ping: now.UnixMilli()}})
		}
	}
}

func (s *signal) send(ctx context.Context, m *lkp.SignalRequest) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.ws.Write(wctx, websocket.MessageBinary, b)
}

func (s *signal) sendSDP(ctx context.Context, answer bool, sdp string) error {
	d := &lkp.SessionDescription{Type: "offer", Sdp: sdp}
	if answer {
		d.Type = "answer"
		return s.send(ctx, &lkp.SignalRequest{Message: &lkp.SignalRequest_Answer{Answer: d}})
	}
	return s.send(ctx, &lkp.SignalRequest{Message: &lkp.SignalRequest_Offer{Offer: d}})
}

// Close leaves the room and ends the goroutines.
func (s *signal) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = s.send(ctx, &lkp.SignalRequest{Message: &lkp.SignalRequest_Leave{Leave: &lkp.LeaveRequest{}}})
	cancel()
	s.cancel()
	_ = s.ws.Close(websocket.StatusNormalClosure, "")
	s.wg.Wait()
}

// candidate decodes a trickled candidate (JSON RTCIceCandidateInit).
func candidate(t *lkp.TrickleRequest) (webrtc.ICECandidateInit, error) {
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal([]byte(t.CandidateInit), &c); err != nil {
		return c, fmt.Errorf("livekit: bad candidate: %w", err)
	}
	return c, nil
}

// withCandidates adds candidate lines to every media section of sdp, for a
// peer whose remote description the bench cannot reach after the fact
// (the publisher answers come back as a string).
func withCandidates(sdp string, cands []webrtc.ICECandidateInit) string {
	if len(cands) == 0 {
		return sdp
	}
	var extra strings.Builder
	for _, c := range cands {
		line := strings.TrimPrefix(c.Candidate, "a=")
		extra.WriteString("a=" + line + "\r\n")
	}
	lines := strings.SplitAfter(sdp, "\n")
	var out strings.Builder
	inMedia := false
	for _, l := range lines {
		if strings.HasPrefix(l, "m=") {
			if inMedia {
				out.WriteString(extra.String())
			}
			inMedia = true
		}
		out.WriteString(l)
	}
	if inMedia {
		if !strings.HasSuffix(out.String(), "\n") {
			out.WriteString("\r\n")
		}
		out.WriteString(extra.String())
	}
	return out.String()
}

var errClosed = errors.New("livekit: target closed")
