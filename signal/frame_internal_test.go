package signal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// unjoinedSession is a session with no socket: what it would write stays in
// its queue.
func unjoinedSession(t testing.TB) *session {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Clock: realClock{}, RequestRate: -1, RequestBurst: 1}
	if err := cfg.Limits.fill(); err != nil {
		t.Fatal(err)
	}
	caps, err := newCaps(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv := &Server{
		cfg:     cfg,
		caps:    caps,
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		metrics: m,
		ctx:     ctx,
		cancel:  cancel,
	}
	s := newSession(srv, nil, seat.User{UserID: "u", Role: seat.RoleAudience}, "r")
	s.out = newFrameQueue(outQueue, nil) // no socket: the test takes the frames (pop)
	return s
}

// FuzzFrame drives the frame decoder, every method's params decoder and the
// dispatcher of a socket that has not joined: no input may panic, and every
// frame gets exactly one well-formed answer that changes nothing.
func FuzzFrame(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"room.join","params":{"create":{"maxSeats":4,"seatMode":"free"}}}`,
		`{"jsonrpc":"2.0","id":"a","method":"seat.apply","params":{"seatIndex":-1,"timeout":30,"extraInfo":"x"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"seat.lock","params":{"seatIndex":1,"lockAudio":true}}`,
		`{"jsonrpc":"2.0","id":3,"method":"rtc.candidate","params":{"pc":"publish","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"room.sendMessage","params":{"cmd":"c","data":"d"}}`,
		`{"jsonrpc":"2.0","id":5,"method":"media.setMuted","params":{"kind":"audio","muted":false}}`,
		`{"jsonrpc":"2.0","id":6,"method":"room.members","params":{"cursor":"x","limit":5}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"x"}]`, `{"id":null}`, `nul`, ``, `{"jsonrpc":"2.0","id":1e400,"method":"a"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, ferr := decodeFrame(frame)
		if ferr != nil {
			if c := proto.Reason(ferr.Reason).Code(); c != -32700 && c != -32600 {
				t.Fatalf("frame error code %d", c)
			}
		} else {
			if !validID(req.ID) || req.Method == "" {
				t.Fatalf("accepted request %+v", req)
			}
			if m, ok := methods[req.Method]; ok {
				if _, perr := m.decode(req.Params); perr != nil && proto.Reason(perr.Reason).Code() != -32602 && perr.Reason != "invalid_params" {
					t.Fatalf("params error %+v", perr)
				}
			}
			if req.Method == "room.join" {
				return // joining needs a media server; the decoders above are what is fuzzed
			}
		}
		s := unjoinedSession(t)
		s.handle(websocket.MessageText, frame)
		if n := s.out.len(); n != 1 {
			t.Fatalf("%d answers to one frame", n)
		}
		out, _ := s.out.pop()
		var resp struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Error   *proto.Error    `json:"error"`
			Result  json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(out.data, &resp); err != nil || resp.JSONRPC != "2.0" {
			t.Fatalf("answer %s: %v", out.data, err)
		}
		if resp.Error == nil || resp.Result != nil || resp.Error.Data.Reason == "" {
			t.Fatalf("a socket that has not joined got %s", out.data)
		}
		if ferr == nil && !bytes.Equal(bytes.TrimSpace(resp.ID), bytes.TrimSpace(req.ID)) {
			// The id is echoed as sent (json.Marshal may compact it).
			var a, b any
			if json.Unmarshal(resp.ID, &a) != nil || json.Unmarshal(req.ID, &b) != nil {
				t.Fatalf("id %s echoed as %s", req.ID, resp.ID)
			}
		}
		if s.joined || s.room != nil {
			t.Fatal("a refused frame changed the session")
		}
	})
}

// A socket that stops reading is cut off once its queue is full; sending to
// it never blocks.
func TestFullQueueClosesSocket(t *testing.T) {
	s := unjoinedSession(t)
	for i := 0; i < outQueue; i++ {
		s.send([]byte("{}"))
	}
	if s.ctx.Err() != nil {
		t.Fatal("closed before the queue was full")
	}
	s.send([]byte("{}"))
	if s.ctx.Err() == nil {
		t.Fatal("a full queue did not close the socket")
	}
}

func TestDecodeFrameIDs(t *testing.T) {
	for frame, want := range map[string]string{
		`{"jsonrpc":"2.0","id":"x","method":"m"}`: `"x"`,
		`{"jsonrpc":"2.0","id":-7,"method":"m"}`:  `-7`,
		`{"jsonrpc":"2.0","id":[1],"method":"m"}`: ``,
	} {
		req, _ := decodeFrame([]byte(frame))
		if string(req.ID) != want {
			t.Errorf("%s: id %q, want %q", frame, req.ID, want)
		}
	}
}
