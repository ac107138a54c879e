package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/signal/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// received is one POST as the receiver saw it.
type received struct {
	env       webhook.Envelope
	raw       []byte
	signature string
	status    int
}

// receiver is a test webhook endpoint; answer decides each status.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(webhook.Envelope) int
}

func newReceiver(t *testing.T, answer func(webhook.Envelope) int) *receiver {
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var env webhook.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Errorf("receiver: body %q: %v", raw, err)
		}
		status := http.StatusOK
		if r.answer != nil {
			status = r.answer(env)
		}
		r.mu.Lock()
		r.got = append(r.got, received{env: env, raw: raw, signature: req.Header.Get(webhook.SignatureHeader), status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// acked lists the events answered 2xx, in arrival order.
func (r *receiver) acked() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if g.status/100 == 2 {
			out = append(out, g)
		}
	}
	return out
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
