package signal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/token"
)

// BenchmarkAPIListRooms pages through 10 000 live rooms with the server
// API, 100 a page, through the HTTP handler (token check, the rooms'
// locks, JSON): one op is the whole listing, 100 requests.
//
//	go test ./signal -run '^$' -bench APIListRooms -benchtime 20x
func BenchmarkAPIListRooms(b *testing.B) {
	const rooms, limit = 10_000, 100
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	media, err := sfu.New(sfu.Config{ListenIP: "127.0.0.1", IPs: []string{"127.0.0.1"}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer media.Close()
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, err := New(Config{Secret: secret, SFU: media, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	for i := range rooms {
		id := fmt.Sprintf("room-%05d", i)
		if _, _, err := s.openOrFind(seat.User{UserID: "owner-" + id, Role: seat.RoleOwner}, id, nil); err != nil {
			b.Fatal(err)
		}
	}
	svc, _ := token.MintService(secret, "bench", time.Hour)
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cursor, n, pages := "", 0, 0
		for {
			req := httptest.NewRequest("GET", "/v1/api/rooms?limit=100&cursor="+cursor, nil)
			req.Header.Set("Authorization", "Bearer "+svc)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("page %d: %d %s", pages, w.Code, w.Body.String())
			}
			var page struct {
				Rooms      []struct{ RoomID string }
				NextCursor string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
				b.Fatal(err)
			}
			n += len(page.Rooms)
			pages++
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if n != rooms || pages != rooms/limit {
			b.Fatalf("listed %d rooms in %d pages", n, pages)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rooms/limit)/1e6, "ms/page")
}
