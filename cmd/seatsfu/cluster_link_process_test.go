package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// metricValue reads one unlabelled metric from the node's /metrics.
func (n *node) metricValue(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("node %s has no metric %s", n.url, name)
	return 0
}

// TestClusterLinksBetweenProcesses: three seatsfu processes. Five clients
// of node b in a room node a hosts share b's one link to a, served on
// a's --node-addr; a message in the room reaches them all; node c's server
// API answers for the room, which it neither hosts nor relays. Then a is
// SIGKILLed: b stops trying to resume its sessions as soon as Redis says a
// no longer holds the room — about the lease's expiry, well before the
// 10 s --link-resume — so its clients reconnect to the room's next host.
func TestClusterLinksBetweenProcesses(t *testing.T) {
	rd := redistest.Start(t)
	secret := clusterSecret(t)
	a := startNode(t, rd.URL(), secret)
	b := startNode(t, rd.URL(), secret)
	c := startNode(t, rd.URL(), secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, _, err := a.join(ctx, t, secret, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"title": "three"}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	guests := make([]*signaltest.Conn, n)
	for i := range guests {
		for guests[i] == nil {
			g, _, err := b.join(ctx, t, secret, "r1", fmt.Sprint("guest", i), proto.RoleAudience, nil)
			switch {
			case err == nil:
				guests[i] = g
			case !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) || ctx.Err() != nil:
				t.Fatalf("guest%d joining through b: %v", i, err) // b not yet aware of a: retried
			default:
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if got := b.metricValue(t, "seatsfu_cluster_links"); got != 1 {
		t.Fatalf("node b has %v links for %d relayed clients, want 1", got, n)
	}
	if got := b.metricValue(t, "seatsfu_cluster_relayed_sockets"); got != n {
		t.Fatalf("node b relays %v sockets, want %d", got, n)
	}
	text := "to everyone"
	if err := owner.Call(ctx, proto.MethodRoomSendMessage, proto.MessageParams{Text: &text}, nil); err != nil {
		t.Fatal(err)
	}
	for i, g := range guests {
		if _, err := g.Wait(ctx, proto.NoteRoomMessage, nil); err != nil {
			t.Fatalf("guest%d: %v", i, err)
		}
	}

	raw, err := token.MintService([]byte(secret), "backend", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.url+"/v1/api/rooms/r1", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var room proto.APIRoom
		err = json.NewDecoder(resp.Body).Decode(&room)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && err == nil {
			if room.Title != "three" || room.MemberCount != n+1 {
				t.Fatalf("r1 through node c: %+v", room)
			}
			break
		}
		if resp.StatusCode != http.StatusNotFound || ctx.Err() != nil {
			t.Fatalf("GET r1 through node c: %d", resp.StatusCode) // 404 until c lists a: retried
		}
		time.Sleep(20 * time.Millisecond)
	}

	a.kill(t)
	killed := time.Now()
	for i, g := range guests {
		code, err := g.Closed(ctx)
		if err != nil || code != 1001 {
			t.Fatalf("guest%d's socket on b closed with %v %v, want 1001", i, code, err)
		}
	}
	closed := time.Since(killed)
	t.Logf("b closed its relayed sockets %v after the host's SIGKILL", closed.Round(time.Millisecond))
	if limit := defaultCluster().LinkResume - 2*time.Second; closed > limit {
		t.Fatalf("b held its relayed sockets %v after the host died (lease-ttl is %v), want under %v", closed, defaultCluster().LeaseTTL, limit)
	}
	for {
		_, _, err := b.join(ctx, t, secret, "r1", "guest0", proto.RoleAudience, nil)
		if err == nil {
			break
		}
		if !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) || ctx.Err() != nil {
			t.Fatalf("guest0 back through b: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
