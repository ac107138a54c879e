package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// packet is one received RTP packet, shared read-only by every viewer it is
// queued for: the reader copies it off the wire once, viewers hold
// references, and the last release returns it to the pool. In steady state
// the forwarding path allocates nothing.
type packet struct {
	refs     atomic.Int32
	hdr      rtp.Header
	payload  []byte // slice of buf, padding stripped
	keyframe bool
	buf      [defaultReceiveMTU]byte
}

var packetPool = sync.Pool{New: func() any { return new(packet) }}

func getPacket() *packet {
	p := packetPool.Get().(*packet)
	p.refs.Store(1)
	return p
}

func (p *packet) retain() { p.refs.Add(1) }

func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		p.payload = nil
		p.keyframe = false
		packetPool.Put(p)
	}
}

// parse reads the header of the n bytes in buf and points payload past it,
// without the padding. It reports false for packets not worth forwarding.
func (p *packet) parse(n int) bool {
	hlen, err := p.hdr.Unmarshal(p.buf[:n])
	if err != nil || p.hdr.Version != 2 {
		// pion/rtp does not check the version; forwarding a version-0
		// header would hand viewers something that is not RTP (found by
		// FuzzForward; the crasher is kept in testdata).
		return false
	}
	end := n
	if p.hdr.Padding {
		pad := int(p.buf[n-1])
		if pad == 0 || hlen+pad > n {
			return false
		}
		end -= pad
	}
	p.payload = p.buf[hlen:end]
	return len(p.payload) > 0
}
