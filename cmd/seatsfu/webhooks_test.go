package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The binary wires --webhook-url and the server API: a room opened over
// the socket and ended with a service token reaches the receiver as
// signed room.started … room.ended.
func TestServeWebhooksAndAPI(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	var mu sync.Mutex
	var events []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.ParseWebhook([]byte(secret), r)
		if err != nil {
			t.Errorf("webhook: %v", err)
			return
		}
		mu.Lock()
		events = append(events, ev.Event)
		mu.Unlock()
	}))
	defer rcv.Close()

	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	args := []string{"serve", "--http", httpAddr, "--secret", secret, "--webhook-url", rcv.URL,
		"--rtc-udp-port", strconv.Itoa(freeRTCPort(t)), "--rtc-listen-ip", "127.0.0.1", "--rtc-ip", "127.0.0.1"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, args, nil, io.Discard, io.Discard) }()

	owner, _ := token.Mint([]byte(secret), token.Identity{UserID: "olive", Room: "r", Role: proto.RoleOwner}, time.Hour)
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	var ws *websocket.Conn
	for {
		var err error
		ws, _, err = websocket.Dial(dctx, "ws://"+httpAddr+"/v1/rtc?token="+owner, nil)
		if err == nil {
			break
		}
		if dctx.Err() != nil {
			t.Fatalf("dial: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer ws.CloseNow()
	join := `{"jsonrpc":"2.0","id":1,"method":"room.join","params":{"create":{"title":"T"}}}`
	if err := ws.Write(dctx, websocket.MessageText, []byte(join)); err != nil {
		t.Fatal(err)
	}
	if _, frame, err := ws.Read(dctx); err != nil || !strings.Contains(string(frame), `"title":"T"`) {
		t.Fatalf("join: %s %v", frame, err)
	}

	service, _ := token.MintService([]byte(secret), "backend", time.Hour)
	req, _ := http.NewRequestWithContext(dctx, "POST", "http://"+httpAddr+"/v1/api/rooms/r/end", nil)
	req.Header.Set("Authorization", "Bearer "+service)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("end: %d", resp.StatusCode)
	}
	want := []string{"room.started", "member.joined", "seat.taken", "seat.left", "room.ended"}
	for {
		mu.Lock()
		got := append([]string(nil), events...)
		mu.Unlock()
		if len(got) >= len(want) {
			b, _ := json.Marshal(got)
			if string(b) != `["`+strings.Join(want, `","`)+`"]` {
				t.Fatalf("webhooks %s, want %v", b, want)
			}
			break
		}
		if dctx.Err() != nil {
			t.Fatalf("webhooks so far %v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit within 5 s")
	}
	http.DefaultClient.CloseIdleConnections()
}
