package signal_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// joinRTC joins and returns the snapshot's rtc member as the wire has it.
func joinRTC(t *testing.T, env *signaltest.Env, user string, role proto.Role) (raw json.RawMessage, info proto.RTCInfo) {
	t.Helper()
	c := dial(t, env, "r1", user, role)
	var snap struct{ RTC json.RawMessage }
	call(t, c, "room.join", map[string]any{"create": map[string]any{}}, &snap)
	if err := json.Unmarshal(snap.RTC, &info); err != nil {
		t.Fatalf("snapshot rtc %s: %v", snap.RTC, err)
	}
	return snap.RTC, info
}

func TestSnapshotWithoutTURNListsNoICEServers(t *testing.T) {
	env := signaltest.Start(t)
	raw, _ := joinRTC(t, env, "boss", proto.RoleOwner)
	if string(raw) != `{"iceServers":[]}` {
		t.Fatalf("rtc %s, want an empty iceServers list", raw)
	}
}

// TestSnapshotTURNCredentialsWork: the snapshot's TURN entry names the
// embedded server over UDP and TCP, its credentials are the user's and
// expire with the token, and a client given them gets a relay allocation.
func TestSnapshotTURNCredentialsWork(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithSFUConfig(func(c *sfu.Config) {
		c.TURN, c.TURNSecret = true, []byte("turn key of the test, 32 bytes!!")
	}))
	_, info := joinRTC(t, env, "boss", proto.RoleOwner)
	if len(info.ICEServers) != 1 {
		t.Fatalf("iceServers %+v, want the embedded TURN server", info.ICEServers)
	}
	is := info.ICEServers[0]
	port := env.SFU.TURNPort()
	want := []string{fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", port), fmt.Sprintf("turn:127.0.0.1:%d?transport=tcp", port)}
	if strings.Join(is.URLs, " ") != strings.Join(want, " ") {
		t.Fatalf("urls %v, want %v", is.URLs, want)
	}
	exp, user, ok := strings.Cut(is.Username, ":")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || user != "boss" {
		t.Fatalf("username %q, want <expiry>:boss", is.Username)
	}
	// signaltest's tokens live one hour.
	if d := time.Until(time.Unix(unix, 0)); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("credentials expire in %v, want the token's hour", d)
	}

	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay,
		ICEServers: []webrtc.ICEServer{{URLs: is.URLs[:1], Username: is.Username, Credential: is.Credential}}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if !strings.Contains(pc.LocalDescription().SDP, "typ relay") {
		t.Fatal("the snapshot's TURN credentials got no relay allocation")
	}
}
