package cluster

// The key layout, under a prefix (default "seatsfu:") so several clusters,
// or several tests, can share one Redis:
//
//	node:<id>           string  the node's NodeInfo (JSON), PX NodeTTL
//	nodes               zset    node id → heartbeat expiry (ms, Redis time)
//	room:<id>:lease     string  "<fence>:<node id>", PX LeaseTTL
//	room:<id>:fence     string  the room's fencing counter (INCR)
//	room:<id>:state     hash    v (version), f (fence of the writer), b (blob)
//	leases              zset    room id → lease expiry (ms, Redis time)
//
// The three room suffixes have the same length, so no two room ids map to
// the same key whatever characters they hold. Scripts touch a room's keys
// and the global leases set together, so the layout needs one Redis
// (standalone, or a primary with replicas), not Redis Cluster.
type keys struct{ prefix string }

func (k keys) node(id string) string    { return k.prefix + "node:" + id }
func (k keys) nodes() string            { return k.prefix + "nodes" }
func (k keys) leases() string           { return k.prefix + "leases" }
func (k keys) lease(room string) string { return k.prefix + "room:" + room + ":lease" }
func (k keys) fence(room string) string { return k.prefix + "room:" + room + ":fence" }
func (k keys) state(room string) string { return k.prefix + "room:" + room + ":state" }
