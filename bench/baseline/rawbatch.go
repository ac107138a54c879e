package baseline

import (
	"errors"
	"net"
	"sync/atomic"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The raw-batched path is the raw path at the best this machine can do:
// each publisher track's packets are gathered until the end of a frame
// (the RTP marker bit; an Opus frame is one packet), then, viewer by
// viewer, SRTP-encrypted back to back into one buffer and handed to the
// kernel as one UDP GSO send — one datagram per packet on the wire, one
// segmentation offload per viewer and frame — with the sends for up to
// batchViewers viewers in one sendmmsg. Where GSO cannot take a run of
// packets (segments must be equal-sized, the last may be shorter), or the
// kernel refuses it, each datagram is its own message in the same
// sendmmsg batches.

const (
	// batchViewers is how many viewers' messages one sendmmsg carries at
	// most (with GSO: up to maxSegments datagrams each).
	batchViewers = 64
	// maxSegments and maxGSOBytes are the kernel's limits for one GSO send
	// (UDP_MAX_SEGMENTS 64, and a datagram's 64 KiB).
	maxSegments = 64
	maxGSOBytes = 65000
	// framePackets bounds a frame's gathered packets before a flush.
	framePackets = 48
	// srtpOverhead is what AES-GCM SRTP adds to an RTP packet (16-byte tag).
	srtpOverhead = 16
)

// batcher gathers one track's packets and sends them to every viewer in
// batches. One per publisher track, used by that track's reader goroutine
// only.
type batcher struct {
	r     *Raw
	pc    *ipv4.PacketConn
	gso   *atomic.Bool // shared by the forwarder: off once the kernel refuses GSO
	frame [][]byte     // the gathered packets (copies)
	store []byte       // backing for frame
	arena []byte       // encrypted packets of the current viewer chunk
	msgs  []ipv4.Message
	oob   []byte // one UDP_SEGMENT cmsg per message, carved per message
}

func newBatcher(r *Raw) *batcher {
	return &batcher{r: r, pc: ipv4.NewPacketConn(r.conn), gso: &r.gso, store: make([]byte, 0, framePackets*1500)}
}

// add gathers pkt (copied) and flushes at the end of a frame.
func (b *batcher) add(pkt []byte) {
	if len(pkt) < 12 || len(b.store)+len(pkt) > cap(b.store) {
		b.flush()
		if len(pkt) < 12 || len(pkt) > cap(b.store) {
			return
		}
	}
	start := len(b.store)
	b.store = append(b.store, pkt...)
	b.frame = append(b.frame, b.store[start:len(b.store):len(b.store)])
	if pkt[1]&0x80 != 0 || len(b.frame) >= framePackets { // marker: the frame is complete
		b.flush()
	}
}

// flush sends the gathered frame to every viewer.
func (b *batcher) flush() {
	if len(b.frame) == 0 {
		return
	}
	defer func() { b.frame, b.store = b.frame[:0], b.store[:0] }()
	viewers := *b.r.viewers.Load()
	for len(viewers) > 0 {
		n := min(len(viewers), batchViewers)
		b.sendChunk(viewers[:n])
		viewers = viewers[n:]
	}
}

// sendChunk encrypts the frame for each viewer of chunk and sends it all
// with as few sendmmsg calls as the batch takes.
func (b *batcher) sendChunk(chunk []*rawViewer) {
	frameBytes := 0
	for _, p := range b.frame {
		frameBytes += len(p) + srtpOverhead
	}
	if need := len(chunk) * frameBytes; cap(b.arena) < need {
		b.arena = make([]byte, need)
	}
	gso := b.gso.Load()
	b.msgs = b.msgs[:0]
	b.oob = b.oob[:0]
	arena := b.arena[:0]
	for _, v := range chunk {
		v.mu.Lock()
		msgStart, segSize, segs := len(arena), 0, 0
		for _, p := range b.frame {
			free := arena[len(arena):len(arena)]
			out, err := v.ctx.EncryptRTP(free, p, nil)
			if err != nil || len(out) == 0 || unsafe.SliceData(out) != unsafe.SliceData(free) {
				continue // encrypted elsewhere: the arena is sized so this cannot happen
			}
			size := len(out)
			// Close the open message when GSO cannot extend it: a size
			// change, a shorter segment already ended it, or a limit.
			if segs > 0 && (!gso || size > segSize || lastShorter(arena[msgStart:], segSize, segs) || segs == maxSegments || len(arena)+size-msgStart > maxGSOBytes) {
				b.addMsg(arena[msgStart:len(arena)], segSize, segs, v.addr)
				msgStart, segs = len(arena), 0
			}
			if segs == 0 {
				segSize = size
			}
			arena = arena[:len(arena)+size]
			segs++
		}
		if segs > 0 {
			b.addMsg(arena[msgStart:], segSize, segs, v.addr)
		}
		v.mu.Unlock()
	}
	b.write()
}

// lastShorter says whether the open message's last segment is shorter
// than segSize, which ends a GSO run.
func lastShorter(msg []byte, segSize, segs int) bool {
	return len(msg) < segSize*segs
}

// addMsg queues one message: a single datagram, or segs datagrams of
// segSize bytes (the last may be shorter) for the kernel to segment.
func (b *batcher) addMsg(buf []byte, segSize, segs int, addr *net.UDPAddr) {
	m := ipv4.Message{Buffers: [][]byte{buf}, Addr: addr}
	if segs > 1 {
		start := len(b.oob)
		b.oob = appendSegmentCmsg(b.oob, uint16(segSize))
		m.OOB = b.oob[start:len(b.oob):len(b.oob)]
	}
	b.msgs = append(b.msgs, m)
}

// write sends the queued messages; when the kernel rejects a GSO message,
// GSO is switched off for the forwarder and the rest go datagram by
// datagram from the next frame on.
func (b *batcher) write() {
	msgs := b.msgs
	for len(msgs) > 0 {
		n, err := b.pc.WriteBatch(msgs, 0)
		if err != nil {
			if len(msgs[0].OOB) > 0 && (errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)) {
				b.gso.Store(false)
				b.r.log.Warn("raw-batched: the kernel refused UDP GSO; sending datagram by datagram", "err", err)
			}
			msgs = msgs[max(n, 1):] // skip what failed; loss is counted at the viewers
			continue
		}
		msgs = msgs[n:]
	}
}

// appendSegmentCmsg appends a UDP_SEGMENT control message carrying the
// segment size.
func appendSegmentCmsg(oob []byte, size uint16) []byte {
	start := len(oob)
	oob = append(oob, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[start]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[start+unix.CmsgLen(0)])) = size // host byte order, as the kernel reads it
	return oob
}
