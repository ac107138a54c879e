package abuse

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func target(env *signaltest.Env) Target {
	return Target{
		BaseURL: env.URL,
		Secret:  env.Secret,
		Metric: func(name string) (float64, error) {
			hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := hc.Get(env.URL + "/metrics")
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			return proc.SumMetric(resp.Body, name)
		},
	}
}

// The attacks at toy scale against an in-process edge: the report counts
// what the caps let through and what they refused.
func TestAttacksAtToyScale(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithLimits(signal.Limits{MaxConnsPerIP: 10, MaxPendingRequests: 5}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c, err := Conns(ctx, target(env), 60, 1, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if c.Served != 10 || c.Served+c.Refused+c.Cut != 60 || c.HonestErr != nil || c.Probe.Failed != 0 || c.Probe.OK == 0 {
		t.Fatalf("conns: %+v", c)
	}
	a, err := Applicants(ctx, target(env), 12, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a.Accepted != 5 || a.RequestsFull != 7 || a.Other != 0 || !a.OwnerResumed || a.OwnerErr != nil ||
		a.SnapshotRequests != 5 || a.RequestsTotal != 5 || a.Paged != 5 || a.HonestErr != nil {
		t.Fatalf("applicants: %+v", a)
	}
}
