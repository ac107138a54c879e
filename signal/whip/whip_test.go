package whip_test

// WHIP end to end: real Pion publishers through POST /whip/{room}, real
// viewers (rtc.subscribe and WHEP), members through the SDK.

import (
	"net/http"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// roomEnded waits for c's room.ended and returns its reason.
func roomEnded(t *testing.T, c *client.Client) string {
	t.Helper()
	ev, err := c.NextEvent(signaltest.Ctx10(t), client.MethodRoomEnded)
	if err != nil {
		t.Fatalf("no room.ended: %v", err)
	}
	p, err := client.Decode[struct {
		Reason string `json:"reason"`
	}](ev)
	if err != nil {
		t.Fatal(err)
	}
	return p.Reason
}

// subscribeWS plays a room through rtc.subscribe with pairs m-line pairs.
func subscribeWS(t *testing.T, c *client.Client, pairs int) *signaltest.Viewer {
	t.Helper()
	v := signaltest.NewViewer(t, pairs)
	answer, _, err := c.Subscribe(signaltest.Ctx10(t), v.Offer)
	if err != nil {
		t.Fatalf("rtc.subscribe: %v", err)
	}
	v.Answer(t, answer)
	return v
}

// An encoder with the owner's token and no signalling socket opens the room
// over WHIP; a WebSocket viewer gets its audio and video on seat 0's slots.
// Ending the WHIP session with no socket left disconnects the owner: after
// the grace the room ends with owner_timeout.
func TestWHIPOwnerOpensRoomAndWebSocketViewerReceives(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithGrace(300*time.Millisecond))
	pub := signaltest.NewPublisher(t)
	loc := env.StartWHIP(t, "live", env.Token("live", "host", proto.RoleOwner), pub)
	if env.SFU.Room("live") == nil {
		t.Fatal("the owner's WHIP POST did not open the room")
	}

	fan := env.Member(t, "live", "fan", proto.RoleAudience, nil)
	v := subscribeWS(t, fan, 2)
	a0, v0 := v.Mid(t, webrtc.RTPCodecTypeAudio, 0), v.Mid(t, webrtc.RTPCodecTypeVideo, 0)
	signaltest.WaitFor(t, 10*time.Second, "owner's audio and video at the WebSocket viewer", func() bool {
		return v.Count(a0) >= 20 && v.Count(v0) >= 20
	})
	if n := v.Count(v.Mid(t, webrtc.RTPCodecTypeAudio, 1)); n != 0 {
		t.Fatalf("seat 1 (empty) delivered %d packets", n)
	}

	del := signaltest.DoHTTP(t, http.MethodDelete, env.URL+loc, env.Token("live", "host", proto.RoleOwner), "", "")
	if del.Status != http.StatusOK {
		t.Fatalf("DELETE: %d %q", del.Status, del.Body)
	}
	if again := signaltest.DoHTTP(t, http.MethodDelete, env.URL+loc, env.Token("live", "host", proto.RoleOwner), "", ""); again.Status != http.StatusNotFound {
		t.Fatalf("second DELETE: %d, want 404", again.Status)
	}
	if reason := roomEnded(t, fan); reason != "owner_timeout" {
		t.Fatalf("room.ended reason %q, want owner_timeout", reason)
	}
	signaltest.WaitFor(t, 5*time.Second, "sessions forgotten", func() bool { return env.Server.MediaSessions() == 0 })
}

// While the owner's WHIP session lives it is the owner's presence: the
// owner's socket dropping starts no grace. The WHIP session ending then
// does.
func TestWHIPSessionKeepsOwnerPresentAfterSocketDrops(t *testing.T) {
	const grace = 200 * time.Millisecond
	env := signaltest.Start(t, signaltest.WithGrace(grace))
	host := env.Member(t, "live", "host", proto.RoleOwner, nil)
	fan := env.Member(t, "live", "fan", proto.RoleAudience, nil)
	pub := signaltest.NewPublisher(t)
	ownerTok := env.Token("live", "host", proto.RoleOwner)
	loc := env.StartWHIP(t, "live", ownerTok, pub)
	v := subscribeWS(t, fan, 1)
	a0 := v.Mid(t, webrtc.RTPCodecTypeAudio, 0)
	signaltest.WaitFor(t, 10*time.Second, "owner's media flowing", func() bool { return v.Count(a0) >= 10 })

	host.Drop()
	// Several graces pass and media keeps flowing: the room is alive.
	dropped := time.Now()
	before := v.Count(a0)
	signaltest.WaitFor(t, 10*time.Second, "4 graces of flowing media", func() bool {
		return time.Since(dropped) > 4*grace && v.Count(a0) >= before+30
	})
	if env.SFU.Room("live") == nil || len(fan.Events(client.MethodRoomEnded)) != 0 {
		t.Fatal("the room ended while the owner's WHIP session lived")
	}

	if res := signaltest.DoHTTP(t, http.MethodDelete, env.URL+loc, ownerTok, "", ""); res.Status != http.StatusOK {
		t.Fatalf("DELETE: %d", res.Status)
	}
	if reason := roomEnded(t, fan); reason != "owner_timeout" {
		t.Fatalf("room.ended reason %q, want owner_timeout", reason)
	}
}

// An owner inside its reconnect grace who comes back over WHIP is resumed:
// the room outlives the grace.
func TestWHIPResumesOwnerInsideGrace(t *testing.T) {
	const grace = 400 * time.Millisecond
	env := signaltest.Start(t, signaltest.WithGrace(grace))
	host := env.Member(t, "live", "host", proto.RoleOwner, nil)
	fan := env.Member(t, "live", "fan", proto.RoleAudience, nil)
	host.Drop()
	pub := signaltest.NewPublisher(t)
	env.StartWHIP(t, "live", env.Token("live", "host", proto.RoleOwner), pub)
	v := subscribeWS(t, fan, 1)
	a0 := v.Mid(t, webrtc.RTPCodecTypeAudio, 0)
	start := time.Now()
	signaltest.WaitFor(t, 10*time.Second, "media flowing past three graces", func() bool {
		return time.Since(start) > 3*grace && v.Count(a0) >= 30
	})
	if len(fan.Events(client.MethodRoomEnded)) != 0 || env.SFU.Room("live") == nil {
		t.Fatal("the room ended although the owner came back over WHIP")
	}
}

// A guest must hold a seat to publish (403 before, and nothing changes);
// seated, its WHIP media reaches a WHEP viewer of its seat; kicked, not one
// more packet arrives and its session is gone (DELETE → 404).
func TestWHIPGuestGatedBySeatAndKickEndsSession(t *testing.T) {
	env := signaltest.Start(t)
	host := env.Member(t, "live", "host", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree, MaxSeats: 3})
	guest := env.Member(t, "live", "guest", proto.RoleAudience, nil)
	guestTok := env.Token("live", "guest", proto.RoleAudience)

	early := signaltest.NewPublisher(t)
	res := env.PostSDP(t, "/whip/live", guestTok, early.Offer)
	if res.Status != http.StatusForbidden {
		t.Fatalf("unseated WHIP: %d %q, want 403", res.Status, res.Body)
	}
	if env.Server.MediaSessions() != 0 {
		t.Fatal("a refused POST left a session")
	}

	if _, err := guest.TakeSeat(signaltest.Ctx10(t), 1); err != nil {
		t.Fatal(err)
	}
	pub := signaltest.NewPublisher(t)
	loc := env.StartWHIP(t, "live", guestTok, pub)
	v := signaltest.NewViewer(t, 1)
	env.StartWHEP(t, "live", env.Token("live", "player", proto.RoleAudience), "?seat=1", v)
	a, vid := v.Mid(t, webrtc.RTPCodecTypeAudio, 0), v.Mid(t, webrtc.RTPCodecTypeVideo, 0)
	signaltest.WaitFor(t, 10*time.Second, "guest's media at the WHEP viewer", func() bool { return v.Count(a) >= 20 && v.Count(vid) >= 5 })

	if err := host.KickUserOutOfSeat(signaltest.Ctx10(t), "guest"); err != nil {
		t.Fatal(err)
	}
	kickedAt := time.Now()
	lastSent := pub.Sent()
	signaltest.WaitFor(t, 5*time.Second, "the kicked guest's WHIP session forgotten", func() bool { return env.Server.MediaSessions() == 1 })
	// Watch for over a second: nothing sent after the kick may arrive.
	signaltest.WaitFor(t, 5*time.Second, "1.2 s after the kick", func() bool { return time.Since(kickedAt) > 1200*time.Millisecond })
	for _, mid := range []string{a, vid} {
		for _, p := range v.Packets(mid) {
			if p.Counter > lastSent {
				t.Fatalf("packet %d sent after the kick (last before: %d) reached the viewer", p.Counter, lastSent)
			}
			if p.At.After(kickedAt.Add(100 * time.Millisecond)) {
				t.Fatalf("a packet arrived %v after the kick", p.At.Sub(kickedAt))
			}
		}
	}
	if res := signaltest.DoHTTP(t, http.MethodDelete, env.URL+loc, guestTok, "", ""); res.Status != http.StatusNotFound {
		t.Fatalf("DELETE of the kicked session: %d, want 404", res.Status)
	}
}

// A WebSocket publisher (rtc.publish) reaches a WHEP player who is not a
// member; the player's session ends with DELETE.
func TestWebSocketPublisherToWHEPViewer(t *testing.T) {
	env := signaltest.Start(t)
	host := env.Member(t, "live", "host", proto.RoleOwner, nil)
	pub := signaltest.NewPublisher(t)
	answer, err := host.Publish(signaltest.Ctx10(t), pub.Offer)
	if err != nil {
		t.Fatalf("rtc.publish: %v", err)
	}
	pub.Start(t, answer)

	v := signaltest.NewViewer(t, 1)
	playerTok := env.Token("live", "player", proto.RoleAudience)
	loc := env.StartWHEP(t, "live", playerTok, "", v)
	a, vid := v.Mid(t, webrtc.RTPCodecTypeAudio, 0), v.Mid(t, webrtc.RTPCodecTypeVideo, 0)
	signaltest.WaitFor(t, 10*time.Second, "owner's audio and video at the WHEP player", func() bool {
		return v.Count(a) >= 20 && v.Count(vid) >= 20
	})
	members, err := host.AllMembers(signaltest.Ctx10(t), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 {
		t.Fatalf("a WHEP player became a member: %+v", members)
	}
	if res := signaltest.DoHTTP(t, http.MethodDelete, env.URL+loc, playerTok, "", ""); res.Status != http.StatusOK {
		t.Fatalf("DELETE: %d", res.Status)
	}
	if env.Server.MediaSessions() != 0 {
		t.Fatal("the deleted session is still listed")
	}
	// The server closed the player's connection: its media stops.
	signaltest.WaitFor(t, 5*time.Second, "300 ms without a packet at the deleted player", func() bool {
		ps := v.Packets(a)
		return time.Since(ps[len(ps)-1].At) > 300*time.Millisecond
	})
}

// A user kicked out of the room cannot keep watching through WHEP, which
// needs no membership: the ban covers playing too.
func TestWHEPRefusesAUserKickedOutOfTheRoom(t *testing.T) {
	env := signaltest.Start(t)
	host := env.Member(t, "live", "host", proto.RoleOwner, nil)
	env.Member(t, "live", "troll", proto.RoleAudience, nil)
	if err := host.KickOut(signaltest.Ctx10(t), "troll"); err != nil {
		t.Fatalf("room.kickOut: %v", err)
	}

	v := signaltest.NewViewer(t, 1)
	res := env.PostSDP(t, "/whep/live", env.Token("live", "troll", proto.RoleAudience), v.Offer)
	if res.Status != http.StatusForbidden {
		t.Fatalf("WHEP by a kicked-out user: %d %s, want 403", res.Status, res.Body)
	}
	if n := env.Server.MediaSessions(); n != 0 {
		t.Fatalf("%d media sessions after a refused WHEP", n)
	}
	// Anyone else still plays.
	other := signaltest.NewViewer(t, 1)
	env.StartWHEP(t, "live", env.Token("live", "fan", proto.RoleAudience), "", other)
}
