package sfu

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/seat"
)

// syncBuffer is a log destination safe for the goroutines that log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPionNoiseIsDebugRealWarningsStay(t *testing.T) {
	var buf syncBuffer
	l := slogFactory{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}.NewLogger("ice")
	l.Warnf("Failed to read from candidate %s: %v", "udp4 host 10.0.0.1:7882", "io: read/write on closed pipe")
	l.Warnf("Incoming unhandled RTCP ssrc(%d), OnTrack will not be fired", 1234)
	l.Warn("UDPMuxDefault should not listening on unspecified address, use NewMultiUDPMuxFromPort instead")
	l.Warn("Failed to ping without candidate pairs. Connection is not possible yet.")
	l.Warnf("Failed to accept RTP %v", "stream is already closed")
	l.Warnf("Failed to accept RTCP %v", "stream is already closed")
	l.Warnf("Warning: mux: no endpoint for packet starting with %d, adding to queue size(%d)", 21, 0)
	l.Errorf("Failed to write packet: %v", "io: read/write on closed pipe")
	l.Warnf("Failed to open RTCP stream for %d: %v", 3096214366, "failed to cast child")
	l.Warnf("No Username attribute in STUN message from %s", "[fd00::2]:54307")
	l.Info("a Pion info line")
	if got := buf.String(); got != "" {
		t.Fatalf("known noise reached WARN:\n%s", got)
	}
	l.Warnf("Failed to read from candidate %s: %v", "udp4 host 10.0.0.1:7882", "connection reset by peer")
	l.Warnf("Discard request with wrong username from (%s)", "10.0.0.2:5000")
	l.Errorf("Failed to close relay connection: %v", "boom")
	l.Warnf("Warning: mux: no endpoint for packet starting with %d, not adding to queue size(%d)", 21, 64)
	got := buf.String()
	for _, want := range []string{"level=WARN msg=\"Failed to read from candidate", "connection reset by peer", "level=WARN msg=\"Discard request", "level=ERROR", "pion=ice", "not adding to queue"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

// An operator reads a room's life in INFO lines with ids: opened, hosts in,
// seats taken and left (with why), ended (with why); audience joins stay
// at DEBUG.
func TestRoomLifeIsLogged(t *testing.T) {
	var buf syncBuffer
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true,
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _ := openTestRoom(t, s, 4, seat.ModeFree)
	seatUser(t, r, "ann", 2)
	do(t, r, func(sr *seat.Room) ([]seat.Delivery, error) {
		_, ds, err := sr.Join(seat.User{UserID: "adam", Role: seat.RoleAdmin})
		return ds, err
	})
	do(t, r, func(sr *seat.Room) ([]seat.Delivery, error) { return sr.Kick("owner", "ann") })
	do(t, r, func(sr *seat.Room) ([]seat.Delivery, error) { return sr.End("owner") })
	got := buf.String()
	for _, want := range []string{
		`msg="room opened" component=sfu room=r1 max_seats=4 owner=owner`,
		`msg="member joined" component=sfu room=r1 user=adam role=admin`,
		`msg="seat taken" component=sfu room=r1 user=ann seat=2`,
		`msg="seat left" component=sfu room=r1 user=ann seat=2 reason=kicked`,
		`msg="room ended" component=sfu room=r1 reason=ended_by_owner`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "user=ann role=audience") {
		t.Errorf("an audience join was logged at INFO:\n%s", got)
	}
}

// OpenRoom and Close racing: every room opened is ended by the Close, and
// none keeps a deadline timer armed (OpenRoom arms it outside SFU.mu, and
// not for a room Close already ended).
func TestOpenRoomRacingClose(t *testing.T) {
	for i := range 20 {
		s, err := New(Config{ListenIP: "127.0.0.1", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		opened := make(chan *Room, 1)
		go func() {
			r, err := s.OpenRoom(RoomConfig{Notifier: &recorder{}, Seat: seat.Config{
				RoomID: "r", MaxSeats: 4, Clock: realClock{}, Grace: time.Second,
				Owner: seat.User{UserID: "owner", Role: seat.RoleOwner},
			}})
			if err != nil {
				r = nil
			}
			opened <- r
		}()
		if i%2 == 0 {
			time.Sleep(time.Duration(i) * 50 * time.Microsecond)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		r := <-opened
		if r == nil {
			continue // Close came first: refused
		}
		// Opened before Close took the registry: Close ended it.
		select {
		case <-r.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a room opened during Close was never ended")
		}
		r.mu.Lock()
		armed := r.timer != nil
		r.mu.Unlock()
		if armed {
			t.Fatal("an ended room keeps a deadline timer")
		}
	}
}

func TestNetworkTypesFollowTheConfiguredAddresses(t *testing.T) {
	for _, tc := range []struct {
		ips  []string
		want string
	}{
		{nil, "[udp4 udp6]"},
		{[]string{"203.0.113.7"}, "[udp4]"},
		{[]string{"2001:db8::1"}, "[udp6]"},
		{[]string{"203.0.113.7", "2001:db8::1"}, "[udp4 udp6]"},
	} {
		if got := fmt.Sprint(networkTypes(tc.ips, false)); got != tc.want {
			t.Errorf("networkTypes(%v) = %s, want %s", tc.ips, got, tc.want)
		}
	}
}
