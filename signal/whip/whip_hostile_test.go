package whip_test

// Hostile HTTP against WHIP and WHEP: every refusal has its status, and
// leaves rooms, seats and sessions exactly as they were.

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// expiredToken is a correctly signed token whose exp has passed.
func expiredToken(t *testing.T, env *signaltest.Env, room, user string, role proto.Role) string {
	t.Helper()
	past := time.Now().Add(-time.Hour)
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "room": room, "role": string(role),
		"iat": past.Add(-time.Hour).Unix(), "exp": past.Unix(),
	}).SignedString(env.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// offerWith builds an offer from a Pion connection with the given codecs
// and send-only transceivers of kinds.
func offerWith(t *testing.T, codecs []webrtc.RTPCodecParameters, kinds ...webrtc.RTPCodecType) string {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range codecs {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := me.RegisterCodec(c, kind); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

var (
	opusCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	vp8Codec  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	h264Codec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102}
)

func TestWHIPAndWHEPRefusalsChangeNothing(t *testing.T) {
	env := signaltest.Start(t)
	env.Member(t, "live", "host", proto.RoleOwner, nil)
	env.Member(t, "live", "fan", proto.RoleAudience, nil)

	good := offerWith(t, []webrtc.RTPCodecParameters{opusCodec, vp8Codec}, webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo)
	play := strings.ReplaceAll(good, "a=sendonly", "a=recvonly")
	three := offerWith(t, []webrtc.RTPCodecParameters{opusCodec, vp8Codec}, webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo)
	owner := env.Token("live", "host", proto.RoleOwner)
	fan := env.Token("live", "fan", proto.RoleAudience)
	forged, err := token.Mint([]byte("not the server's secret"), token.Identity{UserID: "host", Room: "live", Role: proto.RoleOwner}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, path, tok, ctype, body string
		want                         int
	}{
		{"whip no token", "/whip/live", "", "application/sdp", good, 401},
		{"whip forged token", "/whip/live", forged, "application/sdp", good, 401},
		{"whip expired token", "/whip/live", expiredToken(t, env, "live", "host", proto.RoleOwner), "application/sdp", good, 401},
		{"whip garbage token", "/whip/live", "abc.def.ghi", "application/sdp", good, 401},
		{"whip other room's token", "/whip/live", env.Token("other", "host", proto.RoleOwner), "application/sdp", good, 401},
		{"whip wrong content type", "/whip/live", owner, "text/plain", good, 415},
		{"whip json content type", "/whip/live", owner, "application/json", `{"sdp":"x"}`, 415},
		{"whip no content type", "/whip/live", owner, "", good, 415},
		{"whip empty body", "/whip/live", owner, "application/sdp", "", 400},
		{"whip huge body", "/whip/live", owner, "application/sdp", good + strings.Repeat("a=x-pad:0123456789abcdef\r\n", 3000), 413},
		{"whip garbage sdp", "/whip/live", owner, "application/sdp", "hello, I am not SDP", 400},
		{"whip sdp without m-lines", "/whip/live", owner, "application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400},
		{"whip too many m-lines", "/whip/live", owner, "application/sdp", three, 422},
		{"whip unseated audience", "/whip/live", fan, "application/sdp", good, 403},
		{"whip unknown room", "/whip/nowhere", env.Token("nowhere", "fan", proto.RoleAudience), "application/sdp", good, 404},
		{"whip other owner's room", "/whip/live", env.Token("live", "intruder", proto.RoleOwner), "application/sdp", good, 403},
		{"whep no token", "/whep/live", "", "application/sdp", play, 401},
		{"whep other room's token", "/whep/live", env.Token("other", "fan", proto.RoleAudience), "application/sdp", play, 401},
		{"whep wrong content type", "/whep/live", fan, "text/plain", play, 415},
		{"whep garbage sdp", "/whep/live", fan, "application/sdp", "\x00\x01garbage", 400},
		{"whep unknown room", "/whep/nowhere", env.Token("nowhere", "fan", proto.RoleAudience), "application/sdp", play, 404},
		{"whep seat not a number", "/whep/live?seat=x", fan, "application/sdp", play, 400},
		{"whep negative seat", "/whep/live?seat=-1", fan, "application/sdp", play, 400},
		{"whep seat beyond the room", "/whep/live?seat=10", fan, "application/sdp", play, 400},
		{"whep two seats", "/whep/live?seat=1&seat=2", fan, "application/sdp", play, 400},
	}
	before := env.RoomState(t, "live")
	for _, c := range cases {
		res := signaltest.DoHTTP(t, http.MethodPost, env.URL+c.path, c.tok, c.ctype, c.body)
		if res.Status != c.want {
			t.Errorf("%s: %d %q, want %d", c.name, res.Status, res.Body, c.want)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header on the refusal", c.name)
		}
		if res.Status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
		if after := env.RoomState(t, "live"); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s changed the state:\n%+v\n→ %+v", c.name, before, after)
		}
	}
	// A charset parameter is tolerated, and the same good offer then works.
	res := signaltest.DoHTTP(t, http.MethodPost, env.URL+"/whip/live", owner, "application/sdp; charset=utf-8", good)
	if res.Status != http.StatusCreated {
		t.Fatalf("good offer with charset: %d %q", res.Status, res.Body)
	}
}

// An owner's refused offer must not leave behind the room its POST opened.
func TestWHIPRefusedOwnerOfferLeavesNoRoom(t *testing.T) {
	env := signaltest.Start(t)
	owner := env.Token("fresh", "host", proto.RoleOwner)
	for _, c := range []struct {
		name, offer string
		want        int
	}{
		{"garbage", "nonsense", 400},
		{"too many m-lines", offerWith(t, []webrtc.RTPCodecParameters{opusCodec, vp8Codec}, webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeVideo), 422},
		// Parses and fits, but the room forwards VP8: refused by the sfu
		// after the room was opened for it.
		{"unsupported codec", offerWith(t, []webrtc.RTPCodecParameters{opusCodec, h264Codec}, webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo), 422},
	} {
		res := env.PostSDP(t, "/whip/fresh", owner, c.offer)
		if res.Status != c.want {
			t.Fatalf("%s: %d %q, want %d", c.name, res.Status, res.Body, c.want)
		}
		signaltest.WaitFor(t, 5*time.Second, c.name+": no room left open", func() bool { return len(env.SFU.Rooms()) == 0 })
		if env.Server.MediaSessions() != 0 {
			t.Fatalf("%s left a session", c.name)
		}
	}
}

// Session resources: only their creator may end or patch them; an unknown
// id is 404; PATCH needs the trickle type, applies candidates (204),
// refuses an ICE restart (422) and a stale If-Match (412).
func TestSessionResourceRefusals(t *testing.T) {
	env := signaltest.Start(t)
	env.Member(t, "live", "host", proto.RoleOwner, nil)
	v := signaltest.NewViewer(t, 1)
	fanTok := env.Token("live", "fan", proto.RoleAudience)
	res := env.PostSDP(t, "/whep/live", fanTok, v.Offer)
	loc := signaltest.MustCreate(t, res, "whep", "live")
	etag := res.Header.Get("ETag")
	v.Answer(t, res.Body)
	url := env.URL + loc
	frag := "a=ice-ufrag:" + ufragOf(v.Offer) + "\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"
	restart := "a=ice-ufrag:brandnew\r\na=ice-pwd:brandnewpasswordbrandnew\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host\r\n"
	other := env.Token("live", "stranger", proto.RoleAudience)
	bogus := env.URL + "/whep/live/" + strings.Repeat("ab", 16)

	checks := []struct {
		name, method, url, tok, ctype, body string
		extra                               []string
		want                                int
	}{
		{"delete without token", http.MethodDelete, url, "", "", "", nil, 401},
		{"delete with other room's token", http.MethodDelete, url, env.Token("other", "fan", proto.RoleAudience), "", "", nil, 401},
		{"delete someone else's", http.MethodDelete, url, other, "", "", nil, 403},
		{"delete unknown", http.MethodDelete, bogus, fanTok, "", "", nil, 404},
		{"delete malformed id", http.MethodDelete, env.URL + "/whep/live/../../x", fanTok, "", "", nil, 404},
		{"delete through the other protocol", http.MethodDelete, strings.Replace(url, "/whep/", "/whip/", 1), fanTok, "", "", nil, 404},
		{"patch someone else's", http.MethodPatch, url, other, "application/trickle-ice-sdpfrag", frag, nil, 403},
		{"patch wrong type", http.MethodPatch, url, fanTok, "application/sdp", frag, nil, 415},
		{"patch huge", http.MethodPatch, url, fanTok, "application/trickle-ice-sdpfrag", strings.Repeat("a=x\r\n", 20000), nil, 413},
		{"patch garbage", http.MethodPatch, url, fanTok, "application/trickle-ice-sdpfrag", "not a fragment", nil, 400},
		{"patch stale etag", http.MethodPatch, url, fanTok, "application/trickle-ice-sdpfrag", frag, []string{"If-Match", `"stale"`}, 412},
		{"patch ice restart", http.MethodPatch, url, fanTok, "application/trickle-ice-sdpfrag", restart, []string{"If-Match", "*"}, 422},
		{"patch candidates", http.MethodPatch, url, fanTok, "application/trickle-ice-sdpfrag", frag, []string{"If-Match", etag}, 204},
		{"patch unknown", http.MethodPatch, bogus, fanTok, "application/trickle-ice-sdpfrag", frag, nil, 404},
	}
	for _, c := range checks {
		res := signaltest.DoHTTP(t, c.method, c.url, c.tok, c.ctype, c.body, c.extra...)
		if res.Status != c.want {
			t.Errorf("%s: %d %q, want %d", c.name, res.Status, res.Body, c.want)
		}
		if env.Server.MediaSessions() != 1 {
			t.Fatalf("%s: the session is gone", c.name)
		}
	}
	if res := signaltest.DoHTTP(t, http.MethodDelete, url, fanTok, "", ""); res.Status != http.StatusOK {
		t.Fatalf("creator's DELETE: %d", res.Status)
	}
	if env.Server.MediaSessions() != 0 {
		t.Fatal("session still listed after DELETE")
	}
}

func ufragOf(sdp string) string {
	for _, l := range strings.Split(sdp, "\r\n") {
		if u, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok {
			return u
		}
	}
	return ""
}

func TestOptionsAnswersCORSPreflight(t *testing.T) {
	env := signaltest.Start(t)
	for _, c := range []struct {
		path, methods string
		endpoint      bool
	}{
		{"/whip/live", "POST", true},
		{"/whep/live", "POST", true},
		{"/whip/live/" + strings.Repeat("0", 32), "DELETE", false},
		{"/whep/live/" + strings.Repeat("0", 32), "PATCH", false},
	} {
		res := signaltest.DoHTTP(t, http.MethodOptions, env.URL+c.path, "", "", "",
			"Origin", "https://player.example", "Access-Control-Request-Method", "POST")
		h := res.Header
		if res.Status != http.StatusNoContent && res.Status != http.StatusOK {
			t.Fatalf("OPTIONS %s: %d", c.path, res.Status)
		}
		if h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), c.methods) ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "If-Match") ||
			!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Location") ||
			!strings.Contains(h.Get("Access-Control-Expose-Headers"), "ETag") {
			t.Fatalf("OPTIONS %s: CORS headers %v", c.path, h)
		}
		if got := h.Get("Accept-Post"); (got == "application/sdp") != c.endpoint {
			t.Fatalf("OPTIONS %s: Accept-Post %q", c.path, got)
		}
	}
	if len(env.SFU.Rooms()) != 0 {
		t.Fatal("OPTIONS opened a room")
	}
}

// Each client IP has a POST budget; beyond it 429 with Retry-After, and the
// budget refills with time (an injected clock makes this exact).
func TestPostRateLimit(t *testing.T) {
	clock := signaltest.NewClock()
	env := signaltest.Start(t, signaltest.WithClock(clock))
	const budget = 30 // postBurst
	for i := range budget {
		if res := env.PostSDP(t, "/whip/live", "", "x"); res.Status != http.StatusUnauthorized {
			t.Fatalf("POST %d: %d, want 401 (within the budget)", i+1, res.Status)
		}
	}
	res := env.PostSDP(t, "/whep/live", "", "x")
	if res.Status != http.StatusTooManyRequests {
		t.Fatalf("POST over the budget: %d, want 429", res.Status)
	}
	if res.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q, want 1", res.Header.Get("Retry-After"))
	}
	// Other methods are not limited: DELETE still reaches its check.
	if res := signaltest.DoHTTP(t, http.MethodDelete, env.URL+"/whip/live/"+strings.Repeat("0", 32), "", "", ""); res.Status != http.StatusUnauthorized {
		t.Fatalf("DELETE while POSTs are limited: %d, want 401", res.Status)
	}
	// 10 tokens a second: after one second exactly 10 more fit.
	clock.Advance(time.Second)
	for i := range 10 {
		if res := env.PostSDP(t, "/whip/live", "", "x"); res.Status != http.StatusUnauthorized {
			t.Fatalf("POST %d after a 1 s refill: %d, want 401", i+1, res.Status)
		}
	}
	if res := env.PostSDP(t, "/whip/live", "", "x"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("11th POST after a 1 s refill: %d, want 429", res.Status)
	}
}

// A WHIP POST's owner check uses the token's user, not its role alone:
// another user's owner token cannot take seat 0 (403 above); and a
// kicked-out (banned) member cannot publish over WHIP either.
func TestWHIPBannedUserRefused(t *testing.T) {
	env := signaltest.Start(t)
	host := env.Member(t, "live", "host", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	guest := env.Member(t, "live", "guest", proto.RoleAudience, nil)
	if _, err := guest.TakeSeat(signaltest.Ctx10(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := host.KickOut(signaltest.Ctx10(t), "guest"); err != nil {
		t.Fatal(err)
	}
	before := env.RoomState(t, "live")
	res := env.PostSDP(t, "/whip/live", env.Token("live", "guest", proto.RoleAudience), signaltest.NewPublisher(t).Offer)
	if res.Status != http.StatusForbidden {
		t.Fatalf("banned user's WHIP: %d %q, want 403", res.Status, res.Body)
	}
	if after := env.RoomState(t, "live"); !reflect.DeepEqual(after, before) {
		t.Fatalf("refusal changed the state: %+v → %+v", before, after)
	}
}
