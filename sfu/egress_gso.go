package sfu

import (
	"encoding/binary"
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// UDP generic segmentation offload (UDP_SEGMENT, Linux ≥ 4.18): a run of
// consecutive datagrams in a writer's batch to one viewer, all of one size
// but the last (which may be shorter), goes to the kernel as one sendmmsg
// entry that it cuts into datagrams past the UDP layer, so the run pays
// for one trip down the stack.
//
// Where it applies: a writer's turn on a viewer that writes several
// packets of one frame in a row — a keyframe's burst, a paced replay, a
// viewer whose queue grew while the writers were busy (so it bites more
// as load rises) — from a publisher that packetises a frame into
// equal-sized packets (the bench's synthetic publisher, GStreamer). Where
// it does not: audio (a packet a turn, sizes vary); a turn that
// interleaves slots; libwebrtc publishers, which spread a frame's payload
// evenly so its packets differ by a byte and runs stop at the first
// shorter one; and any kernel or device that refuses it, on which the
// first refusal turns it off for the node (metric egress_gso: 0).

const (
	gsoMaxSegments = 64    // UDP_MAX_SEGMENTS of older kernels
	gsoMaxBytes    = 65000 // a UDP datagram's payload before segmentation
)

var gsoCmsgLen = unix.CmsgSpace(2)

// coalesce lays the batch out as wire messages, GSO runs merged, and says
// whether any run was merged. start and span map each wire message back
// to the batch's datagrams.
func (b *egressBatch) coalesce() ([]ipv4.Message, bool) {
	w, merged := 0, false
	for i := 0; i < b.n; {
		size := len(b.one[i][0])
		limit := gsoMaxSegments
		if size > 0 {
			limit = min(limit, gsoMaxBytes/size)
		}
		j := i + 1
		for j < b.n && j-i < limit && b.msgs[j].Addr == b.msgs[i].Addr &&
			len(b.one[j-1][0]) == size && len(b.one[j][0]) <= size {
			j++
		}
		m := &b.wire[w]
		m.Addr = b.msgs[i].Addr
		if j-i == 1 {
			m.Buffers, m.OOB = b.one[i][:], nil
		} else {
			for k := i; k < j; k++ {
				b.iov[k] = b.one[k][0]
			}
			m.Buffers, m.OOB = b.iov[i:j:j], b.oob[i]
			putSegmentSize(m.OOB, size)
			merged = true
		}
		b.start[w], b.span[w] = i, j-i
		w++
		i = j
	}
	return b.wire[:w], merged
}

// putSegmentSize writes the UDP_SEGMENT control message into oob
// (gsoCmsgLen bytes).
func putSegmentSize(oob []byte, size int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(size))
}

// gsoRefused: the kernel or the device cannot segment (no checksum
// offload: EIO; an old kernel: EINVAL, ENOPROTOOPT).
func gsoRefused(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	return errno == unix.EIO || errno == unix.EINVAL || errno == unix.ENOPROTOOPT || errno == unix.EOPNOTSUPP
}
