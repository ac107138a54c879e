package signal

import (
	"net"
	"net/http"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// How a client reaches the media when UDP is blocked (PROTOCOL.md §9): the
// snapshot's rtc.iceServers lists the embedded TURN server with credentials
// derived from the socket's token and expiring with it.

// rtcAccess is what a session keeps from its upgrade request to mint them.
type rtcAccess struct {
	expires time.Time // the token's expiry
	host    string    // the host the client reached us by, without port
}

func accessOf(r *http.Request, expires time.Time) rtcAccess {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return rtcAccess{expires: expires, host: host}
}

// rtcInfo is the snapshot's rtc member for this session's user.
func (s *session) rtcInfo() proto.RTCInfo {
	info := proto.RTCInfo{ICEServers: []proto.ICEServer{}}
	for _, is := range s.srv.cfg.SFU.ICEServers(s.user.UserID, s.access.expires, s.access.host) {
		info.ICEServers = append(info.ICEServers, proto.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	return info
}

// withRTC gives room.join's snapshot its rtc member.
func withRTC(snap proto.Snapshot, info proto.RTCInfo) proto.Snapshot {
	snap.RTC = &info
	return snap
}
