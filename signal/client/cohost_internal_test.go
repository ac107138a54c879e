package client

import (
	"encoding/json"
	"testing"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// An owner's socket that joins while a co-host request to its room is being
// made finds the request in its snapshot and may then get its
// cohost.requestReceived too: the store keeps it once.
func TestCohostRequestFromSnapshotAndNotificationIsKeptOnce(t *testing.T) {
	req := proto.CohostRequest{RequestID: "r1", From: proto.CohostFrom{RoomID: "a"}}
	snap, _ := json.Marshal(proto.CohostSnapshot{CohostRequests: []proto.CohostRequest{req}})
	var s cohostState
	s.join(snap)
	params, _ := json.Marshal(proto.CohostRequestReceived{Request: req})
	if _, err := s.apply(Event{Method: proto.NoteCohostRequestReceived, Params: params}); err != nil {
		t.Fatal(err)
	}
	if len(s.received) != 1 {
		t.Fatalf("received = %+v, want the one request", s.received)
	}
}
