package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// slogFactory routes Pion's logs to slog, keeping WARN and ERROR for what an
// operator can act on. Pion is chatty: its Info and Debug go to Debug, and
// the messages in pionNoise — normal events of a working server that Pion
// logs as warnings or errors — go to Debug too.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

// pionNoise lists Pion warnings and errors that say nothing is wrong, each matched by
// the start of its message and, when set, a part of it, with the reason it
// is not worth an operator's attention.
var pionNoise = []struct{ prefix, contains, why string }{
	// ice: every candidate's read loop ends this way when its peer
	// connection closes (the mux hands it a pipe that is closed then).
	{"Failed to read from candidate", "closed pipe", "a closing connection"},
	// ice: the media port's reader hands a packet to a connection that has
	// just closed (Pion says this one at ERROR).
	{"Failed to write packet", "closed pipe", "a packet for a closed connection"},
	// webrtc: browsers send receiver reports for an SSRC before the track
	// it belongs to is set up; the next ones are handled.
	{"Incoming unhandled RTCP", "", "RTCP ahead of its track"},
	// ice: one UDP socket for every interface is this SFU's design (it
	// advertises the configured addresses, engine.go); Pion's advice is for
	// servers that gather from the socket's own address.
	{"UDPMuxDefault should not listening on unspecified address", "", "one media port by design"},
	// ice: connectivity checks start before the peer's candidates arrive
	// (a trickled one, or the offer's being applied); a connection that
	// never gets any fails ICE and is closed, which is what matters.
	{"Failed to ping without candidate pairs", "", "candidates not yet known"},
	// webrtc: the accept loops of a peer connection end this way when it
	// closes (a viewer leaving, a publisher losing the seat).
	{"Failed to accept RTP", "stream is already closed", "a closing connection"},
	{"Failed to accept RTCP", "stream is already closed", "a closing connection"},
	// srtp: opening the RTCP stream of an RTP stream that arrived as its
	// connection closed (Pion's "failed to cast child" is the closed
	// session's refusal).
	{"Failed to open RTCP stream for", "failed to cast child", "a closing connection"},
	// ice: a STUN message without USERNAME from an address no connection
	// owns — a browser's late binding response or indication to a
	// connection that just closed (a guest reconnecting, a viewer leaving).
	// Nothing routes it and nothing is lost; a request, which does carry a
	// USERNAME, still reaches its connection.
	{"No Username attribute in STUN message", "", "STUN for a connection that closed"},
	// webrtc: a browser's first DTLS packet can beat the server's DTLS
	// transport by a moment; Pion queues it and hands it over (a full
	// queue — "not adding to queue" — still warns).
	{"Warning: mux: no endpoint for packet", ", adding to queue", "queued for the DTLS transport"},
}

// at logs a Pion warning or error at level — or at Debug, saying why, when
// it is known noise.
func (l pionLogger) at(level slog.Level, msg string) {
	for _, n := range pionNoise {
		if strings.HasPrefix(msg, n.prefix) && strings.Contains(msg, n.contains) {
			l.log.Debug(msg, "noise", n.why)
			return
		}
	}
	l.log.Log(context.Background(), level, msg)
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) Trace(string)                      {}
func (l pionLogger) Tracef(string, ...any)             {}
func (l pionLogger) Debug(msg string)                  { l.log.Debug(msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Info(msg string)                   { l.log.Debug(msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Warn(msg string)                   { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.at(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.at(slog.LevelError, fmt.Sprintf(format, args...))
}
