package signal

import (
	"encoding/json"
	"net/http"

	"github.com/seatsfu/seatsfu/seat"
)

// LinkClient exposes the node's linkClient to the cluster tests.
func LinkClient(s *Server) *http.Client { return s.cl.linkClient() }

// RelayedQueue is one client socket this node relays: the frames from
// the room's host waiting for the client, and whether the relay has ended.
type RelayedQueue struct {
	Queued int
	Ended  bool
}

// RelayedQueues lists the client sockets this node relays (relay.go).
func RelayedQueues(s *Server) []RelayedQueue {
	lk := s.cl.links
	lk.mu.Lock()
	defer lk.mu.Unlock()
	var out []RelayedQueue
	for _, e := range lk.edges {
		out = append(out, RelayedQueue{Queued: e.out.len(), Ended: e.ctx.Err() != nil})
	}
	return out
}

// AddPanickingMethod registers method, which panics, for the test's life
// (upgrade_test.go: a panic ends the socket, not the process).
func AddPanickingMethod(t interface{ Cleanup(func()) }, name string) {
	methods[name] = method{
		decode: func(json.RawMessage) (any, *seat.Error) { return nil, nil },
		run:    func(*session, json.RawMessage, any) (any, error) { panic("test: " + name) },
	}
	t.Cleanup(func() { delete(methods, name) })
}
