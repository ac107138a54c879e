package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/webhook"
)

// BenchmarkThroughput delivers b.N events of 100 rooms to a local receiver
// that answers 200 at once: end-to-end events per second with the default
// 8 workers (JSON, HMAC, one HTTP/1.1 POST each over kept-alive
// connections).
//
//	go test ./signal/webhook -run '^$' -bench Throughput -benchtime 20000x
func BenchmarkThroughput(b *testing.B) {
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
	defer rcv.Close()
	d, err := webhook.New(webhook.Config{URLs: []string{rcv.URL}, Secret: secret, QueueSize: 1 << 20, RoomQueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	rooms := make([]string, 100)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("room-%d", i)
	}
	data := map[string]any{"user": map[string]string{"userId": "ann", "name": "Ann", "avatar": "", "role": "audience"}, "seatIndex": 3}
	b.ResetTimer()
	for i := range b.N {
		d.Emit(rooms[i%len(rooms)], webhook.SeatTaken, data)
	}
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEmit is what a room pays per event under its lock while the
// receiver hangs: Emit only queues (or drops and counts).
func BenchmarkEmit(b *testing.B) {
	release := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer rcv.Close()
	defer close(release)
	d, err := webhook.New(webhook.Config{URLs: []string{rcv.URL}, Secret: secret, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d.Emit("room", webhook.SeatLeft, i)
	}
}
