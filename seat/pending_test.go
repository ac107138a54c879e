package seat

import (
	"fmt"
	"testing"
)

// A crowd of applicants stops at MaxPending; invitations count too; the
// refusal changes nothing, and an ended request makes room again.
func TestPendingRequestsAreCapped(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxPending = 3 })
	for i := 0; i < 3; i++ {
		u := user(fmt.Sprintf("fan%d", i), RoleAudience)
		f.join(u)
		if i < 2 {
			_, _, err := f.room.Apply(u.UserID, NoSeat, 0, "")
			f.must(err)
		}
	}
	_, _, err := f.room.Invite("owner", "fan2", NoSeat, 0, "")
	f.must(err)
	f.refuse(ErrRequestsFull, func() ([]Delivery, error) { _, ds, err := f.room.Apply("aud1", NoSeat, 0, ""); return ds, err })
	f.refuse(ErrRequestsFull, func() ([]Delivery, error) { _, ds, err := f.room.Invite("adm1", "aud2", NoSeat, 0, ""); return ds, err })
	// The rules that name the caller's own fault still come first.
	f.refuse(ErrAlreadyApplied, func() ([]Delivery, error) { _, ds, err := f.room.Apply("fan0", NoSeat, 0, ""); return ds, err })
	_, err = f.room.CancelApplication("fan0")
	f.must(err)
	_, _, err = f.room.Apply("aud1", NoSeat, 0, "")
	f.must(err)
	if f.room.PendingCount() != 3 {
		t.Fatalf("pending = %d, want 3", f.room.PendingCount())
	}
}

// A host's snapshot lists the oldest SnapshotRequests and the total;
// Requests pages through all of them exactly once, in creation order, even
// while requests end between pages.
func TestHostSnapshotAndRequestsPaging(t *testing.T) {
	f := newFixture(t)
	const n = SnapshotRequests + 30
	for i := 0; i < n; i++ {
		u := user(fmt.Sprintf("fan%03d", i), RoleAudience)
		f.join(u)
		_, _, err := f.room.Apply(u.UserID, NoSeat, 0, "")
		f.must(err)
	}
	snap, _, err := f.room.Join(adm1) // a resume answers a snapshot too
	f.must(err)
	if len(snap.Requests) != SnapshotRequests || snap.RequestsTotal == nil || *snap.RequestsTotal != n {
		t.Fatalf("host snapshot: %d requests, total %v", len(snap.Requests), snap.RequestsTotal)
	}
	if snap.Requests[0].From.UserID != "fan000" || snap.Requests[SnapshotRequests-1].From.UserID != fmt.Sprintf("fan%03d", SnapshotRequests-1) {
		t.Fatalf("snapshot is not the oldest requests: first %s", snap.Requests[0].From.UserID)
	}
	aud, _, err := f.room.Join(aud1)
	f.must(err)
	if aud.RequestsTotal != nil {
		t.Fatalf("audience snapshot carries requestsTotal %d", *aud.RequestsTotal)
	}

	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		page, next, err := f.room.Requests("adm1", cursor, 40)
		f.must(err)
		pages++
		for _, q := range page {
			seen[q.From.UserID]++
		}
		if pages == 1 {
			// Requests on both sides of the cursor end meanwhile.
			_, err := f.room.CancelApplication("fan000")
			f.must(err)
			_, err = f.room.CancelApplication("fan100")
			f.must(err)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 4 || len(seen) != n-1 {
		t.Fatalf("%d pages, %d distinct requests", pages, len(seen))
	}
	for id, c := range seen {
		if c != 1 || id == "fan100" {
			t.Fatalf("%s listed %d times", id, c)
		}
	}

	f.refuse(ErrPermission, func() ([]Delivery, error) { _, _, err := f.room.Requests("aud1", "", 10); return nil, err })
	f.refuse(ErrInvalidParams, func() ([]Delivery, error) { _, _, err := f.room.Requests("owner", "", 101); return nil, err })
	for _, bad := range []string{"x", "q", "q0", "q99999", "m1"} {
		f.refuse(ErrInvalidParams, func() ([]Delivery, error) { _, _, err := f.room.Requests("owner", bad, 10); return nil, err })
	}
}
