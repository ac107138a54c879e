package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// The node links end to end (PROTOCOL.md §12): real in-process nodes, a
// real redis-server, and a TCP proxy standing for the network between two
// nodes where a test needs to break it.

// linkProxy forwards TCP to a node's link listener and can cut every
// connection it carries, as a network break would.
type linkProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newLinkProxy(t *testing.T) *linkProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			target := p.target
			p.mu.Unlock()
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// cut closes every connection through the proxy; new ones still pass.
func (p *linkProxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// proxiedNode is a node the other nodes reach through p.
func proxiedNode(t *testing.T, rd *redistest.Server, secret []byte, p *linkProxy, opts ...signaltest.Option) *signaltest.Env {
	opts = append(opts, signaltest.WithSignalConfig(func(c *signal.Config) {
		p.mu.Lock()
		p.target = c.Cluster.Listener.Addr().String()
		p.mu.Unlock()
		c.Cluster.Node.Info.NodeAddr = p.ln.Addr().String()
	}))
	return clusterNode(t, rd, secret, opts...)
}

// joinVia joins room on env (a node that relays it) once env has learnt
// where the room is hosted.
func joinVia(t *testing.T, env *signaltest.Env, room, user string) *signaltest.Conn {
	t.Helper()
	return joinViaAs(t, env, room, user, proto.RoleAudience)
}

// joinViaAs is joinVia with a token of role.
func joinViaAs(t *testing.T, env *signaltest.Env, room, user string, role proto.Role) *signaltest.Conn {
	t.Helper()
	var c *signaltest.Conn
	eventually(t, user+" joining through the relaying node", func() bool {
		conn, err := env.Dial(testCtx(t), env.Token(room, user, role))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Call(testCtx(t), proto.MethodRoomJoin, nil, nil); err != nil {
			conn.Close()
			return false
		}
		c = conn
		return true
	})
	t.Cleanup(c.Close)
	return c
}

// counterOf reads a counter of env's registry, by its labels.
func counterOf(t *testing.T, env *signaltest.Env, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := env.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func messageFrom(text string) func(json.RawMessage) bool {
	return func(p json.RawMessage) bool {
		var m proto.RoomMessage
		return json.Unmarshal(p, &m) == nil && m.Text != nil && *m.Text == text
	}
}

// TestClusterOneLinkPerPair: eight clients of node b in a room node a
// hosts share one link: each node counts exactly one, the host serves all
// eight, and a notification for the room reaches every one of them.
func TestClusterOneLinkPerPair(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)

	const n = 8
	guests := make([]*signaltest.Conn, n)
	for i := range guests {
		guests[i] = joinVia(t, b, "r1", fmt.Sprint("guest", i))
	}
	if got := gaugeValue(t, b, "seatsfu_cluster_relayed_sockets"); got != n {
		t.Fatalf("node b relays %v sockets, want %d", got, n)
	}
	for name, env := range map[string]*signaltest.Env{"a": a, "b": b} {
		if got := gaugeValue(t, env, "seatsfu_cluster_links"); got != 1 {
			t.Fatalf("node %s has %v links for %d relayed clients, want 1", name, got, n)
		}
	}
	if got := a.RoomState(t, "r1").Members; got != n+1 {
		t.Fatalf("the host counts %d members, want %d", got, n+1)
	}
	call(t, owner, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("hello all")}, nil)
	for _, g := range guests {
		wait(t, g, proto.NoteRoomMessage, messageFrom("hello all"))
	}
	if out := counterOf(t, a, "seatsfu_cluster_link_frames_total", map[string]string{"direction": "out"}); out < n {
		t.Fatalf("node a sent %v link frames, want at least one per guest", out)
	}
}

// TestClusterLinkResumes: the network between the nodes breaks while a
// relayed client is in the room, and a message is sent to the room during
// the break. The edge dials again and resumes the session: the client's
// socket stays open, the host never saw it leave, the message arrives
// exactly once, and the client's next request is answered.
func TestClusterLinkResumes(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	proxy := newLinkProxy(t)
	a := proxiedNode(t, rd, secret, proxy)
	b := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)
	guest := joinVia(t, b, "r1", "guest")
	call(t, guest, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("before")}, nil)
	wait(t, owner, proto.NoteRoomMessage, messageFrom("before"))

	proxy.cut()
	call(t, owner, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("during")}, nil)
	wait(t, guest, proto.NoteRoomMessage, messageFrom("during"))

	var req proto.RequestIDResult
	call(t, guest, proto.MethodSeatApply, map[string]any{"seatIndex": 1}, &req)
	wait(t, owner, proto.NoteApplicationReceived, nil)
	eventually(t, "node b counting the resume", func() bool {
		return counterOf(t, b, "seatsfu_cluster_link_resumes_total", map[string]string{"outcome": "resumed"}) >= 1
	})
	if err := guest.Err(); err != nil {
		t.Fatalf("the relayed socket closed: %v", err)
	}
	during := 0
	for _, note := range guest.Notes() {
		if note.Method == proto.NoteRoomMessage && messageFrom("during")(note.Params) {
			during++
		}
	}
	if during != 1 {
		t.Fatalf("the message sent during the break arrived %d times", during)
	}
	if n := owner.Count(proto.NoteMemberLeft); n != 0 {
		t.Fatalf("the host saw the relayed member leave (%d member.left)", n)
	}
	if got := counterOf(t, b, "seatsfu_cluster_link_drops_total", nil); got < 1 {
		t.Fatalf("node b counted %v link drops", got)
	}
}

// TestClusterLinkRefusesBadTokens: a node's link listener opens no link for
// a token signed with another secret, an expired one, one made for another
// node, or one from a node the registry does not list; a valid one opens.
func TestClusterLinkRefusesBadTokens(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	store := openStore(t, rd)
	var addr string
	eventually(t, "both nodes registered", func() bool {
		nodes, err := store.Nodes(testCtx(t))
		if err != nil {
			return false
		}
		ids := map[string]string{}
		for _, n := range nodes {
			ids[n.ID] = n.NodeAddr
		}
		addr = ids[a.Server.NodeID()]
		return addr != "" && ids[b.Server.NodeID()] != ""
	})
	url := "ws://" + addr + nodelink.Path
	aID, bID := a.Server.NodeID(), b.Server.NodeID()
	now := time.Now()
	mint := func(secret []byte, from, to string, at time.Time) string {
		tok, err := cluster.MintLinkToken(secret, from, to, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for name, tc := range map[string]struct {
		tok    string
		status int
	}{
		"other secret": {mint([]byte("not the cluster's"), bID, aID, now), http.StatusUnauthorized},
		"expired":      {mint(secret, bID, aID, now.Add(-2*cluster.LinkTokenTTL)), http.StatusUnauthorized},
		"other node":   {mint(secret, bID, bID, now), http.StatusUnauthorized},
		"unknown node": {mint(secret, "n-stranger", aID, now), http.StatusForbidden},
		"no token":     {"", http.StatusUnauthorized},
		"client token": {b.Token("r1", "owner", proto.RoleOwner), http.StatusUnauthorized},
	} {
		h := http.Header{}
		if tc.tok != "" {
			h.Set("Authorization", "Bearer "+tc.tok)
		}
		conn, resp, err := websocket.Dial(testCtx(t), url, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			conn.CloseNow()
			t.Errorf("%s: the link opened", name)
			continue
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v, want HTTP %d", name, err, tc.status)
		}
	}
	if got := gaugeValue(t, a, "seatsfu_cluster_links"); got != 0 {
		t.Fatalf("node a has %v links after refusing every dial", got)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 5*time.Second)
	defer cancel()
	l, err := nodelink.Dial(ctx, url, secret, bID, aID, 0, func(*nodelink.Link, nodelink.Frame) {})
	if err != nil {
		t.Fatalf("a valid link token was refused: %v", err)
	}
	l.Close()
}

// TestClusterAPIAcrossNodes: the server API of node c serves rooms hosted
// on a and b — a merged, paged list, get, members, kick, unban, end — with
// the answers and the errors one node gives (PROTOCOL.md §11, §12).
func TestClusterAPIAcrossNodes(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	c := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"title": "On a"}})
	join(t, b, "r2", "owner2", proto.RoleOwner, nil)
	guest, _ := join(t, a, "r1", "guest", proto.RoleAudience, nil)

	var list proto.APIRoomList
	eventually(t, "node c listing the rooms of a and b", func() bool {
		status, raw := apiDo(t, c, "GET", "/v1/api/rooms", "")
		return status == 200 && json.Unmarshal(raw, &list) == nil && len(list.Rooms) == 2
	})
	if list.Rooms[0].RoomID != "r1" || list.Rooms[1].RoomID != "r2" || list.NextCursor != "" {
		t.Fatalf("list via c: %+v", list)
	}
	var page proto.APIRoomList
	_ = json.Unmarshal(apiWant(t, c, "GET", "/v1/api/rooms?limit=1", "", 200, ""), &page)
	if len(page.Rooms) != 1 || page.Rooms[0].RoomID != "r1" || page.NextCursor != "r1" {
		t.Fatalf("first page of one via c: %+v", page)
	}
	_ = json.Unmarshal(apiWant(t, c, "GET", "/v1/api/rooms?limit=1&cursor=r1", "", 200, ""), &page)
	if len(page.Rooms) != 1 || page.Rooms[0].RoomID != "r2" || page.NextCursor != "" {
		t.Fatalf("second page via c: %+v", page)
	}

	var room proto.APIRoom
	_ = json.Unmarshal(apiWant(t, c, "GET", "/v1/api/rooms/r1", "", 200, ""), &room)
	if room.Title != "On a" || room.Owner.UserID != "owner" || room.MemberCount != 2 {
		t.Fatalf("r1 via c: %+v", room)
	}
	var members proto.APIMemberList
	_ = json.Unmarshal(apiWant(t, c, "GET", "/v1/api/rooms/r1/members", "", 200, ""), &members)
	if len(members.Members) != 2 {
		t.Fatalf("r1's members via c: %+v", members)
	}

	apiWant(t, c, "POST", "/v1/api/rooms/r1/members/guest/kickOut", "", 200, "")
	wait(t, guest, proto.NoteKickedOut, nil)
	apiWant(t, c, "POST", "/v1/api/rooms/r1/members/nobody/kickOut", "", 404, "not_joined")
	apiWant(t, c, "POST", "/v1/api/rooms/r1/members/owner/kickOut", "", 409, "permission_denied")
	apiWant(t, c, "DELETE", "/v1/api/rooms/r1/bans/guest", "", 200, "")
	apiWant(t, c, "DELETE", "/v1/api/rooms/r1/bans/guest", "", 404, "not_banned")

	apiWant(t, c, "POST", "/v1/api/rooms/r1/end", "", 200, "")
	wait(t, owner, proto.NoteRoomEnded, nil)
	eventually(t, "r1 gone for node c", func() bool {
		status, _ := apiDo(t, c, "GET", "/v1/api/rooms/r1", "")
		return status == 404
	})
	apiWant(t, c, "GET", "/v1/api/rooms/r1", "", 404, "room_not_found")
	apiWant(t, c, "GET", "/v1/api/rooms/nowhere", "", 404, "room_not_found")
}

// TestClusterSaveOrderUnderConcurrentOps: four admins toggle the locks of
// their own seats at once, so the room's states are staged, written and
// answered concurrently. Whenever an admin holds an answer, Redis already
// holds its seat as that answer left it; and a reader polling Redis
// meanwhile never sees the state's version go back.
func TestClusterSaveOrderUnderConcurrentOps(t *testing.T) {
	rd := redistest.Start(t)
	reader := openStore(t, rd)
	node := clusterNode(t, rd, newSecret(t), signaltest.WithSignalConfig(func(c *signal.Config) { c.RequestRate = -1 }))
	join(t, node, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 8}})
	const admins, rounds = 4, 25
	conns := make([]*signaltest.Conn, admins)
	for i := range conns {
		conns[i], _ = join(t, node, "r1", fmt.Sprint("admin", i), proto.RoleAdmin, nil)
	}

	stop := make(chan struct{})
	polled := make(chan error, 1)
	go func() {
		var last uint64
		for {
			select {
			case <-stop:
				polled <- nil
				return
			default:
			}
			saved, err := reader.Load(context.Background(), "r1")
			if err != nil {
				polled <- err
				return
			}
			if saved.Version < last {
				polled <- fmt.Errorf("Redis went from version %d back to %d", last, saved.Version)
				return
			}
			last = saved.Version
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, admins)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			index := i + 1
			for r := range rounds {
				lock := r%2 == 0
				if err := c.Call(testCtx(t), proto.MethodSeatLock, proto.LockParams{SeatIndex: &index, LockSeat: &lock}, nil); err != nil {
					errs <- err
					return
				}
				saved, err := reader.Load(context.Background(), "r1")
				if err != nil {
					errs <- err
					return
				}
				st, err := cluster.DecodeState(saved.Blob)
				if err != nil {
					errs <- err
					return
				}
				if st.Seats[index].Locked != lock {
					errs <- fmt.Errorf("admin%d was answered lock=%v for seat %d, but Redis (version %d) holds %v", i, lock, index, saved.Version, st.Seats[index].Locked)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
}

// TestClusterLinkClient: a socket the node itself opens through its
// linkClient (the cascade's join) reaches a room another node hosts over
// the node's one link, like a relayed client's.
func TestClusterLinkClient(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)
	joinVia(t, b, "r1", "guest") // b now routes r1 to a

	hc := signal.LinkClient(b.Server)
	ws, _, err := websocket.Dial(testCtx(t), "ws://node-b/v1/rtc", &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + b.Token("r1", "node.b", proto.RoleAudience)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := signaltest.NewConn(ws)
	defer c.Close()
	call(t, c, proto.MethodRoomJoin, nil, nil)
	call(t, c, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("from b itself")}, nil)
	wait(t, owner, proto.NoteRoomMessage, messageFrom("from b itself"))
	if b.SFU.Room("r1") != nil {
		t.Fatal("node b opened the room instead of relaying its own socket")
	}
	if got := gaugeValue(t, b, "seatsfu_cluster_relayed_sockets"); got != 2 {
		t.Fatalf("node b relays %v sockets, want 2", got)
	}
	if got := gaugeValue(t, b, "seatsfu_cluster_links"); got != 1 {
		t.Fatalf("node b has %v links, want 1", got)
	}
}

// TestClusterLinkResumeGivesUp: when the host stays unreachable for
// --link-resume after the link broke, the edge closes the relayed client's
// socket with 1001, so the client reconnects (to any node) within its
// grace instead of waiting on a session nobody serves.
func TestClusterLinkResumeGivesUp(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	proxy := newLinkProxy(t)
	shortResume := signaltest.WithSignalConfig(func(c *signal.Config) { c.Cluster.LinkResume = 300 * time.Millisecond })
	a := proxiedNode(t, rd, secret, proxy)
	b := clusterNode(t, rd, secret, shortResume)
	join(t, a, "r1", "owner", proto.RoleOwner, nil)
	guest := joinVia(t, b, "r1", "guest")

	proxy.ln.Close() // no new connection reaches a's link listener
	proxy.cut()
	code, err := guest.Closed(testCtx(t))
	if err != nil || code != websocket.StatusGoingAway {
		t.Fatalf("the relayed socket closed with %v %v, want 1001", code, err)
	}
	if got := counterOf(t, b, "seatsfu_cluster_link_resumes_total", map[string]string{"outcome": "lost"}); got != 1 {
		t.Fatalf("node b counted %v lost sessions, want 1", got)
	}
}
