package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// NodeInfo is what a node tells the others about itself on every
// heartbeat: how to reach it and how loaded it is.
type NodeInfo struct {
	ID string `json:"id"`
	// NodeAddr is the node-to-node listener (--node-addr): where other
	// nodes open their one link to this node.
	NodeAddr string `json:"nodeAddr"`
	// HTTPAddr is where clients reach the node (WebSocket, WHIP, WHEP), for
	// the client retry lists.
	HTTPAddr string `json:"httpAddr"`
	Load     Load   `json:"load"`
}

// Load figures, for placing new rooms and takeovers on lighter nodes.
type Load struct {
	Rooms   int `json:"rooms"`   // rooms this node hosts
	Clients int `json:"clients"` // WebSocket, WHIP and WHEP clients connected here
	// CPU is the node's busy fraction over the last interval, 0..1 per core
	// summed (2 cores fully busy = 2).
	CPU float64 `json:"cpu"`
}

// NewNodeID returns a fresh node id. A node takes a new one at every start,
// so a restarted node is never mistaken for its earlier self: whatever the
// old process held, the new one must claim again.
func NewNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Heartbeat registers the node until ttl from now, by Redis's clock.
func (s *Store) Heartbeat(ctx context.Context, info NodeInfo, ttl time.Duration) error {
	if info.ID == "" {
		return fmt.Errorf("cluster: heartbeat without a node id")
	}
	blob, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return s.do(ctx, opHeartbeat, func(ctx context.Context) error {
		return heartbeatScript.Run(ctx, s.rdb, []string{s.keys.node(info.ID), s.keys.nodes()},
			info.ID, blob, ttl.Milliseconds()).Err()
	})
}

// Nodes lists the live nodes (whose last heartbeat has not expired), by
// id, and sets the nodes gauge.
func (s *Store) Nodes(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	err := s.do(ctx, opNodes, func(ctx context.Context) error {
		ids, err := liveNodesScript.Run(ctx, s.rdb, []string{s.keys.nodes()}).StringSlice()
		if err != nil || len(ids) == 0 {
			return err
		}
		ks := make([]string, len(ids))
		for i, id := range ids {
			ks[i] = s.keys.node(id)
		}
		blobs, err := s.rdb.MGet(ctx, ks...).Result()
		if err != nil {
			return err
		}
		for i, b := range blobs {
			str, ok := b.(string)
			if !ok {
				continue // expired between the two reads
			}
			var n NodeInfo
			if err := json.Unmarshal([]byte(str), &n); err != nil || n.ID != ids[i] {
				continue // not one of ours: never route to it
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	s.m.nodes.Set(float64(len(out)))
	return out, nil
}

// Leave unregisters the node at once (a clean shutdown), so others stop
// routing to it without waiting for its heartbeat to expire.
func (s *Store) Leave(ctx context.Context, id string) error {
	return s.do(ctx, opLeave, func(ctx context.Context) error {
		_, err := s.rdb.TxPipelined(ctx, func(p redisPipe) error {
			p.Del(ctx, s.keys.node(id))
			p.ZRem(ctx, s.keys.nodes(), id)
			return nil
		})
		return err
	})
}
