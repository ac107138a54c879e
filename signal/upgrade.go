package signal

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// What a signalling socket keeps after its upgrade (issue 16: a viewer's
// memory). net/http gives a hijacked connection its own 4 KiB read and
// write buffers and holds them, with the request and the response, for
// as long as the handler runs; coder/websocket keeps the two buffers for
// the socket's life. A signalling socket carries a few small frames a
// minute, so:
//   - the socket's buffers are small ones of its own (lightHijack), and
//   - the session runs on a goroutine of its own (serveSession), so the
//     handler returns and net/http lets go of the connection's state.

const (
	// sockReadBuffer and sockWriteBuffer size a socket's buffers. Most
	// frames fit; a larger one (a snapshot of a big room) passes through
	// in an extra read or write call, never truncated.
	sockReadBuffer  = 1 << 10
	sockWriteBuffer = 1 << 10
)

// lightHijack wraps w so that a WebSocket upgrade through it hijacks the
// connection with buffers of sockReadBuffer and sockWriteBuffer bytes
// instead of net/http's.
func lightHijack(w http.ResponseWriter) http.ResponseWriter {
	return &lightHijacker{ResponseWriter: w}
}

type lightHijacker struct{ http.ResponseWriter }

func (h *lightHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// Hijack takes the connection from net/http. Bytes the client sent right
// behind its request (its first frames) are already in net/http's read
// buffer: they are copied into the new one, still buffered, so they are
// read first. net/http's write buffer holds nothing by now (it flushes the
// 101 response before handing the connection over).
func (h *lightHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		early = bytes.Clone(b)
	}
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(early), conn), max(sockReadBuffer, len(early)))
	if len(early) > 0 {
		// One fill takes them all (the buffer holds them), and nothing of
		// conn: the peek cannot block.
		if _, err := br.Peek(len(early)); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, sockWriteBuffer)), nil
}

// serveSession serves an upgraded socket until it closes, on the session's
// own goroutine, and releases the server's hold on it (serveRTC's enter).
func (s *Server) serveSession(sess *session) {
	defer s.wg.Done()
	sess.run()
	sess.endLife()

	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	sess.relayHandedOver() // handover.go: a join another node answers
}
