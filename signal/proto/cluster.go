package proto

// NodesResult is GET /v1/nodes (PROTOCOL.md §12): the cluster's live nodes
// that clients may connect to.
type NodesResult struct {
	Nodes []NodeURL `json:"nodes"`
}

// NodeURL is one live node: its id and the base URL clients reach it at.
type NodeURL struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}
