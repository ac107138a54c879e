package livekit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	lkp "github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/peer"
)

// Target is a LiveKit room as a load.Target: every publisher is its own
// participant ("host", "guest1", …) publishing the synthetic audio and
// video; every viewer a participant that only subscribes (auto-subscribe
// to every track), answering the server's offers with a bench viewer.
type Target struct {
	srv    load.Server
	lk     *Server
	room   string
	mu     sync.Mutex
	sigs   []*signal // the publishers' signalling
	closed bool
}

// NewTarget drives room on lk; srv is what the scenario measures.
func NewTarget(srv load.Server, lk *Server, room string) *Target {
	return &Target{srv: srv, lk: lk, room: room}
}

func (t *Target) Server() load.Server { return t.srv }

// offerTrack is one track of a publisher's offer: its kind and the track
// id of its a=msid, which LiveKit matches to an AddTrack request's cid.
type offerTrack struct{ kind, id string }

func offerTracks(sdp string) []offerTrack {
	var out []offerTrack
	kind := ""
	for _, l := range strings.Split(sdp, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "m="):
			kind = strings.Fields(l[2:])[0]
		case strings.HasPrefix(l, "a=msid:") && kind != "":
			if f := strings.Fields(l[len("a=msid:"):]); len(f) == 2 {
				out = append(out, offerTrack{kind, f[1]})
			}
		}
	}
	return out
}

// publishing is one publisher participant's state, fed by its signal
// reader.
type publishing struct {
	mu        sync.Mutex
	answer    chan string
	published chan string // cid of each TrackPublished
	cands     []webrtc.ICECandidateInit
	udp       chan struct{} // closed at the first UDP candidate
	udpOnce   sync.Once
}

func (p *publishing) handle(_ *signal, m *lkp.SignalResponse) {
	switch {
	case m.GetAnswer() != nil:
		select {
		case p.answer <- m.GetAnswer().Sdp:
		default:
		}
	case m.GetTrackPublished() != nil:
		select {
		case p.published <- m.GetTrackPublished().Cid:
		default:
		}
	case m.GetTrickle() != nil && m.GetTrickle().Target == lkp.SignalTarget_PUBLISHER:
		c, err := candidate(m.GetTrickle())
		if err != nil {
			return
		}
		p.mu.Lock()
		p.cands = append(p.cands, c)
		p.mu.Unlock()
		if strings.Contains(strings.ToLower(c.Candidate), " udp ") {
			p.udpOnce.Do(func() { close(p.udp) })
		}
	}
}

// Publish joins a publisher participant for seat, announces the offer's
// tracks, and returns LiveKit's answer with the candidates it trickled.
func (t *Target) Publish(ctx context.Context, seat int, offer string) (string, error) {
	identity := "host"
	if seat > 0 {
		identity = fmt.Sprintf("guest%d", seat)
	}
	tok, err := token(t.lk.Key, t.lk.Secret, t.room, identity, true)
	if err != nil {
		return "", err
	}
	p := &publishing{answer: make(chan string, 1), published: make(chan string, 8), udp: make(chan struct{})}
	s, _, err := dial(ctx, t.lk.WSURL, tok, p.handle)
	if err != nil {
		return "", err
	}
	if err := t.keep(s); err != nil {
		return "", err
	}
	tracks := offerTracks(offer)
	if len(tracks) == 0 {
		return "", errors.New("livekit: the offer has no tracks")
	}
	for _, tr := range tracks {
		req := &lkp.AddTrackRequest{Cid: tr.id, Name: identity + "-" + tr.kind}
		if tr.kind == "video" {
			req.Type, req.Source, req.Width, req.Height = lkp.TrackType_VIDEO, lkp.TrackSource_CAMERA, 1280, 720
		} else {
			req.Type, req.Source, req.DisableRed = lkp.TrackType_AUDIO, lkp.TrackSource_MICROPHONE, true
		}
		if err := s.send(ctx, &lkp.SignalRequest{Message: &lkp.SignalRequest_AddTrack{AddTrack: req}}); err != nil {
			return "", fmt.Errorf("livekit: add track: %w", err)
		}
	}
	deadline := time.After(10 * time.Second)
	for range tracks {
		select {
		case <-p.published:
		case <-deadline:
			return "", fmt.Errorf("livekit: tracks not published in 10 s (%v)", s.failure())
		}
	}
	if err := s.sendSDP(ctx, false, offer); err != nil {
		return "", err
	}
	var answer string
	select {
	case answer = <-p.answer:
	case <-deadline:
		return "", fmt.Errorf("livekit: no answer in 10 s (%v)", s.failure())
	}
	select {
	case <-p.udp:
	case <-deadline:
		return "", errors.New("livekit: no UDP candidate trickled for the publisher in 10 s")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return withCandidates(answer, p.cands), nil
}

func (t *Target) keep(s *signal) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		s.Close()
		return errClosed
	}
	t.sigs = append(t.sigs, s)
	return nil
}

// viewer is a subscribing participant: a bench viewer answering the
// server's offers, and its signalling.
type viewer struct {
	*peer.Viewer
	sig      *signal
	answered chan struct{}
	once     sync.Once
	errMu    sync.Mutex
	err      error
}

func (v *viewer) handle(s *signal, m *lkp.SignalResponse) {
	switch {
	case m.GetOffer() != nil:
		answer, err := v.Answer(m.GetOffer().Sdp)
		if err == nil {
			err = s.sendSDP(context.Background(), true, answer)
		}
		if err != nil {
			v.errMu.Lock()
			v.err = err
			v.errMu.Unlock()
			return
		}
		v.once.Do(func() { close(v.answered) })
	case m.GetTrickle() != nil && m.GetTrickle().Target == lkp.SignalTarget_SUBSCRIBER:
		if c, err := candidate(m.GetTrickle()); err == nil {
			_ = v.AddICECandidate(c)
		}
	}
}

// AddViewer joins viewer n; it returns once the server's first offer is
// answered (LiveKit subscribes it to every published track).
func (t *Target) AddViewer(ctx context.Context, api *webrtc.API, sink *peer.Sink, n, _ int) (load.Viewer, error) {
	pv, err := peer.NewAnsweringViewer(api, sink)
	if err != nil {
		return nil, err
	}
	v := &viewer{Viewer: pv, answered: make(chan struct{})}
	tok, err := token(t.lk.Key, t.lk.Secret, t.room, fmt.Sprintf("viewer%d", n), false)
	if err != nil {
		_ = pv.Close()
		return nil, err
	}
	s, _, err := dial(ctx, t.lk.WSURL, tok, v.handle)
	if err != nil {
		_ = pv.Close()
		return nil, err
	}
	v.sig = s
	select {
	case <-v.answered:
		return v, nil
	case <-ctx.Done():
		_ = v.Close()
		return nil, ctx.Err()
	case <-time.After(15 * time.Second):
		v.errMu.Lock()
		err := v.err
		v.errMu.Unlock()
		_ = v.Close()
		return nil, fmt.Errorf("livekit: viewer %d got no offer in 15 s (%v; signal %v)", n, err, s.failure())
	}
}

// Close leaves and closes the viewer.
func (v *viewer) Close() error {
	if v.sig != nil {
		v.sig.Close()
	}
	return v.Viewer.Close()
}

// Close makes the publishers leave (their peer connections are the
// scenario's).
func (t *Target) Close() error {
	t.mu.Lock()
	sigs := t.sigs
	t.sigs, t.closed = nil, true
	t.mu.Unlock()
	for _, s := range sigs {
		s.Close()
	}
	return nil
}
