package cluster

import (
	"reflect"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/seat"
)

// FuzzRestoreBlob feeds arbitrary bytes where a room's saved state goes: a
// takeover reads what Redis holds, so the blob is input. Decoding and
// restoring must never panic, and a blob that does restore gives a room
// whose own state survives the blob again unchanged.
func FuzzRestoreBlob(f *testing.F) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	st, _ := busyRoom(f, clock).Export()
	seed, err := EncodeState(st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":1,"roomId":"r","maxSeats":2,"mode":"apply","members":[{"user":{"id":"o","role":"owner"},"seq":1,"connected":true}],"lastMemberSeq":1,"seats":[{"userId":"o"},{}]}`))
	f.Fuzz(func(t *testing.T, blob []byte) {
		r, err := RestoreRoom(Saved{Blob: blob}, seat.Config{Grace: time.Second, Clock: clock})
		if err != nil {
			return
		}
		st, ok := r.Export()
		if !ok {
			return
		}
		again, err := EncodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeState(again)
		if err != nil || !reflect.DeepEqual(normal(back), normal(st)) {
			t.Fatalf("a restored room's state does not survive the blob: %v", err)
		}
	})
}
