package rtcconn

import (
	"net"
	"net/netip"
	"time"
)

// pionConn is the socket as Pion's UDP mux sees it: reads are the
// datagrams the demux did not claim, through a bounded queue; writes go
// straight to the socket. It implements Pion's allocation-free
// ReadFromAddrPort/WriteToAddrPort, so the demux costs publishers one
// queue hop and a copy per datagram, nothing more.
type pionConn struct {
	*queue
	conn *net.UDPConn
	m    *Metrics
}

func newPionConn(conn *net.UDPConn, size int, m *Metrics) *pionConn {
	return &pionConn{queue: newQueue(size), conn: conn, m: m}
}

func (p *pionConn) push(b []byte, addr netip.AddrPort) {
	if !p.queue.push(b, addr) {
		p.m.PionDrops.Inc()
	}
}

func (p *pionConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) { return p.read(b) }

func (p *pionConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := p.read(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(a), nil
}

func (p *pionConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return p.conn.WriteToUDPAddrPort(b, addr)
}

func (p *pionConn) WriteTo(b []byte, addr net.Addr) (int, error) { return p.conn.WriteTo(b, addr) }

// Close is Pion's mux closing: its reader returns; the socket is the
// SFU's and stays open until the Mux is closed.
func (p *pionConn) Close() error {
	p.shut()
	return nil
}

func (p *pionConn) LocalAddr() net.Addr { return p.conn.LocalAddr() }

func (p *pionConn) SetDeadline(t time.Time) error {
	p.setReadDeadline(t)
	return p.conn.SetWriteDeadline(t)
}

func (p *pionConn) SetReadDeadline(t time.Time) error {
	p.setReadDeadline(t)
	return nil
}

func (p *pionConn) SetWriteDeadline(t time.Time) error { return p.conn.SetWriteDeadline(t) }
