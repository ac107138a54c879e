package signal

import (
	"encoding/json"
	"net/http"

	"github.com/seatsfu/seatsfu/seat"
)

// LinkClient exposes the node's linkClient to the cluster tests.
func LinkClient(s *Server) *http.Client { return s.cl.linkClient() }

// AddPanickingMethod registers method, which panics, for the test's life
// (upgrade_test.go: a panic ends the socket, not the process).
func AddPanickingMethod(t interface{ Cleanup(func()) }, name string) {
	methods[name] = method{
		decode: func(json.RawMessage) (any, *seat.Error) { return nil, nil },
		run:    func(*session, json.RawMessage, any) (any, error) { panic("test: " + name) },
	}
	t.Cleanup(func() { delete(methods, name) })
}
