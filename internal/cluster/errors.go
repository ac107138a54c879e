package cluster

import (
	"errors"
	"fmt"
)

// Errors the store returns. Compare with errors.Is.
var (
	// ErrUnavailable: Redis did not answer in time (down, unreachable,
	// loading or read-only). The operation did not happen, or its outcome
	// is unknown; a node keeps running the rooms it has and retries on its
	// next tick.
	ErrUnavailable = errors.New("cluster: redis unavailable")
	// ErrFenced: this node no longer holds the room's lease (another node
	// took the room over). It must stop hosting the room: nothing it
	// writes is accepted any more.
	ErrFenced = errors.New("cluster: the room's lease is held by another node")
	// ErrHeld: another live node hosts the room. A *HeldError says which.
	ErrHeld = errors.New("cluster: the room is hosted by another node")
	// ErrNoState: the room has no saved state (never saved, or ended).
	ErrNoState = errors.New("cluster: no saved state for the room")
	// ErrNoHolder: nobody holds the room's lease.
	ErrNoHolder = errors.New("cluster: no node hosts the room")
)

// HeldError is ErrHeld with the node that hosts the room.
type HeldError struct {
	Room  string
	Node  string
	Fence uint64
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("cluster: room %q is hosted by node %q (fence %d)", e.Room, e.Node, e.Fence)
}

func (e *HeldError) Is(target error) bool { return target == ErrHeld }
