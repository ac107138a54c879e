package baseline

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/peer"
)

// RawProfile is the SRTP profile of the raw path: AES-GCM, what seatsfu
// offers first.
const RawProfile = srtp.ProtectionProfileAeadAes128Gcm

// RawSubscribe is the raw path's /subscribe request: where to send.
type RawSubscribe struct {
	Addr string `json:"addr"`
}

// RawKeys is the /subscribe response: the SRTP master key and salt the
// server encrypts this viewer's packets with.
type RawKeys struct {
	Key  []byte `json:"key"`
	Salt []byte `json:"salt"`
}

// Raw is the machine's limit: decrypt once, then per viewer one SRTP
// encryption and one sendmsg, from the publisher track's reader goroutine,
// on one socket.
type Raw struct {
	api  *webrtc.API
	log  *slog.Logger
	conn *net.UDPConn

	viewers atomic.Pointer[[]*rawViewer] // copy-on-write: the hot path takes no lock

	// batched selects the raw-batched path (rawbatch.go); gso is on
	// until the kernel refuses a UDP GSO send.
	batched bool
	gso     atomic.Bool

	peers // its mutex also serialises viewer registration
}

type rawViewer struct {
	addr *net.UDPAddr
	mu   sync.Mutex // one context, written by every track's goroutine
	ctx  *srtp.Context
	buf  []byte
}

// NewRaw binds the send socket on loopback: the per-packet sendmsg path.
func NewRaw(log *slog.Logger) (*Raw, error) { return newRaw(log, false) }

// NewRawBatched is the raw path with sendmmsg batches and UDP GSO
// (rawbatch.go).
func NewRawBatched(log *slog.Logger) (*Raw, error) { return newRaw(log, true) }

func newRaw(log *slog.Logger, batched bool) (*Raw, error) {
	api, err := peer.NewAPI()
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("baseline: raw socket: %w", err)
	}
	_ = conn.SetWriteBuffer(4 << 20)
	r := &Raw{api: api, log: log, conn: conn, batched: batched}
	r.gso.Store(batched)
	r.viewers.Store(&[]*rawViewer{})
	return r, nil
}

// Publish accepts a publisher; every packet it sends is forwarded to every
// raw viewer.
func (r *Raw) Publish(offer string) (string, error) {
	pc, err := r.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	if err := r.add(pc); err != nil {
		_ = pc.Close()
		return "", err
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		r.startTrack(nil, func() {
			buf := make([]byte, 1500)
			if r.batched {
				b := newBatcher(r)
				for {
					n, _, err := remote.Read(buf) // decrypted once
					if err != nil {
						return
					}
					b.add(buf[:n])
				}
			}
			for {
				n, _, err := remote.Read(buf) // decrypted once
				if err != nil {
					return
				}
				r.fanOut(buf[:n])
			}
		})
	})
	return answer(pc, offer)
}

func (r *Raw) fanOut(pkt []byte) {
	for _, v := range *r.viewers.Load() {
		v.mu.Lock()
		out, err := v.ctx.EncryptRTP(v.buf[:0], pkt, nil)
		if err == nil {
			v.buf = out[:cap(out)]
			_, _ = r.conn.WriteToUDP(out, v.addr)
		}
		v.mu.Unlock()
	}
}

// Subscribe registers a viewer's address and answers its keys.
func (r *Raw) Subscribe(body []byte, want int) ([]byte, string, error) {
	var req RawSubscribe
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, "", fmt.Errorf("baseline: raw subscribe: %w", err)
	}
	addr, err := net.ResolveUDPAddr("udp4", req.Addr)
	if err != nil || !addr.IP.IsLoopback() {
		return nil, "", fmt.Errorf("baseline: raw subscribe wants a loopback address, got %q", req.Addr)
	}
	if err := r.waitTracks(want, 5*time.Second); err != nil {
		return nil, "", err
	}
	keys := RawKeys{Key: make([]byte, 16), Salt: make([]byte, 12)}
	_, _ = rand.Read(keys.Key)
	_, _ = rand.Read(keys.Salt)
	ctx, err := srtp.CreateContext(keys.Key, keys.Salt, RawProfile)
	if err != nil {
		return nil, "", err
	}
	v := &rawViewer{addr: addr, ctx: ctx, buf: make([]byte, 1600)}
	r.mu.Lock()
	old := *r.viewers.Load()
	next := append(append(make([]*rawViewer, 0, len(old)+1), old...), v)
	r.viewers.Store(&next)
	r.mu.Unlock()
	resp, err := json.Marshal(keys)
	return resp, "application/json", err
}

// Close ends the publishers and the socket.
func (r *Raw) Close() error {
	r.closeAll()
	return r.conn.Close()
}
