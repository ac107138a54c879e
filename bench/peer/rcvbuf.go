package peer

import (
	"net"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// viewerReadBuffer is each generator socket's SO_RCVBUF. The kernel's
// default (net.core.rmem_default, 208 KiB here) holds about 90 loopback
// datagrams of video — 200 ms of a viewer's steady stream, but less than
// one replayed keyframe group, which a joining viewer is sent at up to
// 16 Mbit/s. Hundreds of viewers joining at once on the generator's one
// core cannot all be read that fast, and their sockets overflowed: in a
// 450-viewer burst the generator's sockets dropped 377 000 datagrams in a
// 6 s window, 73 % of all the loss (bench/README.md, issue 16). That is the
// bench's own loss, not the server's; a browser's socket is not shared
// with 450 others. 1 MiB, as the raw viewers use; the kernel caps it at
// net.core.rmem_max.
const viewerReadBuffer = 1 << 20

// bufferedNet is Pion's standard network whose UDP sockets ask for
// viewerReadBuffer.
type bufferedNet struct{ *stdnet.Net }

func newBufferedNet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return bufferedNet{n}, nil
}

func (n bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err == nil {
		_ = c.SetReadBuffer(viewerReadBuffer) // best effort: the default still works
	}
	return c, err
}

func (n bufferedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if u, ok := c.(*net.UDPConn); ok && err == nil {
		_ = u.SetReadBuffer(viewerReadBuffer)
	}
	return c, err
}
