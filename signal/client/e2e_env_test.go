package client_test

import (
	"testing"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// newEnv starts a whole edge on 127.0.0.1 with the suite's short grace.
// Each test gets its own server, so parallel tests share no state.
func newEnv(t *testing.T, opts ...signaltest.Option) *env {
	t.Helper()
	if n := clusterNodes(t); n > 0 {
		return newClusterEnv(t, n, opts...) // cluster_env_test.go
	}
	st := signaltest.Start(t, append([]signaltest.Option{signaltest.WithGrace(grace)}, opts...)...)
	return &env{
		t:     t,
		st:    st,
		wsURL: st.WSURL,
		token: func(room, user string, role proto.Role) string { return st.Token(room, user, role) },
	}
}
