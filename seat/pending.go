package seat

import (
	"strconv"
	"strings"
)

// The bound on a room's pending requests (PROTOCOL.md §3.4). Without it, a
// crowd applying with 1 KiB of extraInfo each makes every host's snapshot
// and every notification list grow without limit.

// ErrRequestsFull refuses a new request when the room already holds
// Config.MaxPending pending ones.
var ErrRequestsFull = &Error{Reason: "requests_full", Message: "the room has its maximum of pending requests"}

// SnapshotRequests is the most pending requests a host's snapshot lists (the
// oldest); Requests pages the rest.
const SnapshotRequests = 100

// checkRoomForRequest refuses a new request once the room holds MaxPending.
func (r *Room) checkRoomForRequest() error {
	if r.cfg.MaxPending > 0 && r.pending.n >= r.cfg.MaxPending {
		return newErr(ErrRequestsFull, "the room has %d pending requests, its maximum", r.pending.n)
	}
	return nil
}

// PendingCount is the number of pending requests.
func (r *Room) PendingCount() int { return r.pending.n }

// hostRequests is a host snapshot's requests: the oldest SnapshotRequests,
// and the total.
func (r *Room) hostRequests() ([]Request, int) {
	out := make([]Request, 0, min(r.pending.n, SnapshotRequests))
	for q := r.pending.first; q != nil && len(out) < SnapshotRequests; q = q.next {
		out = append(out, q.view())
	}
	return out, r.pending.n
}

// Requests is seat.requests: the pending requests in creation order, paged
// like Members — cursor "" starts, the returned cursor "" means the end, and
// a cursor names the last request returned, so a request pending through
// the whole paging is listed exactly once. Hosts only (ErrPermission);
// limit 1..100 and an unknown cursor are ErrInvalidParams.
func (r *Room) Requests(actor, cursor string, limit int) ([]Request, string, error) {
	if _, err := r.host(actor); err != nil {
		return nil, "", err
	}
	if limit < 1 || limit > 100 {
		return nil, "", newErr(ErrInvalidParams, "limit must be 1..100, not %d", limit)
	}
	var after uint64
	if cursor != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(cursor, "q"), 10, 64)
		if err != nil || !strings.HasPrefix(cursor, "q") || n == 0 || n > r.lastReqID {
			return nil, "", newErr(ErrInvalidParams, "bad cursor %q", cursor)
		}
		after = n
	}
	// The list is in seq order; walking it is O(pending), which MaxPending
	// bounds.
	page := make([]Request, 0, min(limit, r.pending.n))
	var last uint64
	for q := r.pending.first; q != nil; q = q.next {
		if q.seq <= after {
			continue
		}
		if len(page) == limit {
			return page, "q" + strconv.FormatUint(last, 10), nil
		}
		page = append(page, q.view())
		last = q.seq
	}
	return page, "", nil
}
