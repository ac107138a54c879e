package signal_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// goroutinesIn counts the goroutines running fn (a frame of their stacks,
// not the "created by" line).
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if strings.Contains(line, fn+"(") && !strings.HasPrefix(line, "created by") {
				count++
				break
			}
		}
	}
	return count
}

// A quiet socket parks one goroutine, its session's reader (issue 16):
// the HTTP handler that upgraded it has returned, and no writer waits on
// an empty queue. A notification afterwards starts a writer, which
// delivers it and exits again.
func TestAQuietSocketParksOnlyItsReader(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	a, _ := join(t, env, "r1", "a", proto.RoleAudience, nil)
	b, _ := join(t, env, "r1", "b", proto.RoleAudience, nil)

	quiet := func() bool {
		return goroutinesIn("signal.(*session).readLoop") == 3 &&
			goroutinesIn("signal.(*frameQueue).drain") == 0 &&
			goroutinesIn("signal.(*Server).serveRTC") == 0
	}
	eventually(t, "three sockets parked on their readers alone", quiet)

	call(t, owner, "seat.lock", map[string]any{"seatIndex": 2, "lockAudio": true}, nil)
	for _, c := range []*signaltest.Conn{a, b} {
		wait(t, c, "seat.changed", func(json.RawMessage) bool { return true })
	}
	eventually(t, "the writers exit once the notification is written", quiet)
}

// A request that panics — no input may make one, but should a bug — ends
// its socket, not the server: the socket closes and the room, and every
// other socket, go on.
func TestAPanickingRequestEndsItsSocketOnly(t *testing.T) {
	signal.AddPanickingMethod(t, "test.panic")
	env := signaltest.Start(t, signaltest.WithGrace(time.Millisecond))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	victim, _ := join(t, env, "r1", "v", proto.RoleAudience, nil)

	if err := victim.Send(testCtx(t), []byte(`{"jsonrpc":"2.0","id":1,"method":"test.panic"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.Closed(testCtx(t)); err != nil {
		t.Fatalf("the panicking socket did not close: %v", err)
	}
	wait(t, owner, "room.memberLeft", userIs("v"))
	call(t, owner, "seat.lock", map[string]any{"seatIndex": 2, "lockAudio": true}, nil)
}

// A frame larger than the socket's read buffer is read whole, and a
// notification larger than its write buffer is written whole.
func TestFramesLargerThanTheSocketBuffers(t *testing.T) {
	env := signaltest.Start(t)
	join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	sender, _ := join(t, env, "r1", "s", proto.RoleAudience, nil)
	receiver, _ := join(t, env, "r1", "r", proto.RoleAudience, nil)

	data := strings.Repeat("0123456789abcdef", 256) // 4 KiB, §3.2's most
	call(t, sender, "room.sendMessage", map[string]any{"cmd": "big", "data": data}, nil)
	n := wait(t, receiver, "room.message", func(json.RawMessage) bool { return true })
	var msg proto.RoomMessage
	if err := json.Unmarshal(n.Params, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Data == nil || *msg.Data != data {
		t.Fatalf("the message's data arrived cut or changed (%d bytes)", len(deref(msg.Data)))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A client may send its first frame right behind the upgrade request,
// before the 101: those bytes, read by net/http with the request, are the
// socket's first frame all the same.
func TestAFrameSentWithTheUpgradeIsRead(t *testing.T) {
	env := signaltest.Start(t)
	addr := strings.TrimPrefix(strings.TrimSuffix(env.WSURL, "/v1/rtc"), "ws://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))

	req := "GET /v1/rtc?token=" + env.Token("r1", "early", proto.RoleAudience) + " HTTP/1.1\r\n" +
		"Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	frame := maskedText([]byte(`{"jsonrpc":"2.0","id":7,"method":"no.such"}`))
	if _, err := conn.Write(append([]byte(req), frame...)); err != nil { // one write: both arrive together
		t.Fatal(err)
	}

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	payload := readServerFrame(t, br)
	var answer struct {
		ID    int          `json:"id"`
		Error *proto.Error `json:"error"`
	}
	if err := json.Unmarshal(payload, &answer); err != nil || answer.ID != 7 || answer.Error == nil || answer.Error.Code != -32601 {
		t.Fatalf("answer to the early frame: %s (%v)", payload, err)
	}
}

// maskedText is a client's one-frame text message (RFC 6455 §5.2), small.
func maskedText(p []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(p)), key[0], key[1], key[2], key[3]}
	for i, c := range p {
		f = append(f, c^key[i%4])
	}
	return f
}

// readServerFrame reads one unmasked frame's payload.
func readServerFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		t.Fatal("an answer over 64 KiB")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatal(err)
	}
	return p
}
