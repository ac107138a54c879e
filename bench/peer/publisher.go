package peer

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/synth"
)

// Publisher is a send-only Pion peer carrying one synthetic VP8 stream and
// one synthetic Opus stream. A Pacer drives it; it answers PLI/FIR by making
// the next video frame a keyframe, as a real encoder does.
type Publisher struct {
	pc     *webrtc.PeerConnection
	video  *outStream
	audio  *outStream
	wg     sync.WaitGroup
	closed atomic.Bool
}

// outStream is one synthetic stream and the local track it is written to.
type outStream struct {
	gen      *synth.Stream
	track    *webrtc.TrackLocalStaticRTP
	ssrc     uint32
	seq      uint16
	next     time.Time
	keyAsked atomic.Bool
	pkt      rtp.Packet
	sent     atomic.Uint64
	forced   atomic.Uint64 // keyframes sent early because of PLI/FIR
}

// NewPublisher builds a publisher for the two specs and returns its offer.
func NewPublisher(api *webrtc.API, video, audio synth.Spec) (*Publisher, string, error) {
	p := &Publisher{}
	var err error
	if p.video, err = newOutStream(video, webrtc.MimeTypeVP8, 90000, 0); err != nil {
		return nil, "", err
	}
	if p.audio, err = newOutStream(audio, webrtc.MimeTypeOpus, 48000, 2); err != nil {
		return nil, "", err
	}
	if p.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, "", fmt.Errorf("peer: new publisher: %w", err)
	}
	for _, s := range []*outStream{p.audio, p.video} {
		tr, err := p.pc.AddTransceiverFromTrack(s.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = p.pc.Close()
			return nil, "", fmt.Errorf("peer: publisher track: %w", err)
		}
		p.wg.Add(1)
		go p.readRTCP(tr.Sender(), s)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		_ = p.Close()
		return nil, "", fmt.Errorf("peer: publisher offer: %w", err)
	}
	sdp, err := gathered(p.pc, offer, 5*time.Second)
	if err != nil {
		_ = p.Close()
		return nil, "", err
	}
	return p, sdp, nil
}

func newOutStream(spec synth.Spec, mime string, rate uint32, channels uint16) (*outStream, error) {
	gen, err := synth.NewStream(spec)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("s%d", spec.StreamID)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: rate, Channels: channels}, string(spec.Kind), id)
	if err != nil {
		return nil, fmt.Errorf("peer: local track: %w", err)
	}
	return &outStream{gen: gen, track: track, seq: uint16(spec.StreamID * 1000)}, nil
}

// readRTCP turns keyframe requests into a forced keyframe. It ends when the
// connection closes.
func (p *Publisher) readRTCP(s *webrtc.RTPSender, o *outStream) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				o.keyAsked.Store(true)
			}
		}
	}
}

// Accept applies the server's answer.
func (p *Publisher) Accept(answer string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("peer: publisher answer: %w", err)
	}
	return nil
}

// WaitConnected waits until ICE+DTLS are up.
func (p *Publisher) WaitConnected(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		switch p.pc.ConnectionState() {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return errors.New("peer: publisher connection failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("peer: publisher not connected after %v", timeout)
}

// Sent is the number of RTP packets written so far.
func (p *Publisher) Sent() uint64 { return p.video.sent.Load() + p.audio.sent.Load() }

// ForcedKeyframes counts keyframes sent early because the server asked
// (PLI/FIR). Many of them mean the SFU keeps losing video and asking again.
func (p *Publisher) ForcedKeyframes() uint64 { return p.video.forced.Load() }

// StreamIDs returns the video and audio stream ids.
func (p *Publisher) StreamIDs() (video, audio uint32) {
	return p.video.gen.Spec().StreamID, p.audio.gen.Spec().StreamID
}

// PacketsPerSecond is the publisher's average packet rate.
func (p *Publisher) PacketsPerSecond() float64 {
	return p.video.gen.PacketsPerSecond() + p.audio.gen.PacketsPerSecond()
}

// Close ends the connection and waits for its RTCP readers.
func (p *Publisher) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	err := p.pc.Close()
	p.wg.Wait()
	return err
}

// sendDue writes every frame of o due at now. Frames are timed from their
// schedule, not from now, so a late tick catches up instead of drifting.
func (o *outStream) sendDue(now time.Time) {
	if o.next.IsZero() {
		o.next = now
	}
	for !o.next.After(now) {
		if o.keyAsked.Swap(false) {
			o.gen.ForceKeyframe()
			o.forced.Add(1)
		}
		f := o.gen.Next(synth.MonoNow())
		for i, payload := range f.Payloads {
			o.pkt.Header = rtp.Header{
				Version:        2,
				SequenceNumber: o.seq,
				Timestamp:      f.Timestamp,
				Marker:         i == len(f.Payloads)-1,
			}
			o.pkt.Payload = payload
			o.seq++
			if err := o.track.WriteRTP(&o.pkt); err == nil {
				o.sent.Add(1)
			}
		}
		o.next = o.next.Add(f.Duration)
	}
}
