package signal

import "net/http"

// LinkClient exposes the node's linkClient to the cluster tests.
func LinkClient(s *Server) *http.Client { return s.cl.linkClient() }
