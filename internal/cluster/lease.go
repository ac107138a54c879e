package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease is a node's right to host a room: the single writer of its state.
// Fence numbers the room's successive holders: every claim of a free
// lease gets a larger one, and Redis accepts a write only from the holder
// with the current fence, so a node that lost the room (it stalled, or
// was cut off while another node took over) cannot write after the
// takeover, whatever it believes.
type Lease struct {
	Room  string
	Node  string
	Fence uint64
}

// holder is the lease key's value.
func (l Lease) holder() string { return strconv.FormatUint(l.Fence, 10) + ":" + l.Node }

// holdArgs are luaHold's KEYS and ARGV for l.
func (s *Store) holdArgs(l Lease, ttl time.Duration) ([]string, []any) {
	k := []string{s.keys.lease(l.Room), s.keys.fence(l.Room), s.keys.leases(), s.keys.state(l.Room)}
	return k, []any{l.holder(), l.Fence, ttl.Milliseconds(), l.Room}
}

// Claim takes the room's lease for node for ttl if nobody holds it (a new
// room, or a takeover of one whose holder stopped renewing), or refreshes
// it if node already holds it. Another holder is a *HeldError (ErrHeld).
// Among concurrent claimers of a free lease exactly one wins. minFence is
// the lowest fence the new holder may get (0 if none known).
func (s *Store) Claim(ctx context.Context, room, node string, ttl time.Duration, minFence uint64) (Lease, error) {
	if err := checkID("room", room); err != nil {
		return Lease{}, err
	}
	if err := checkID("node", node); err != nil {
		return Lease{}, err
	}
	var (
		won    bool
		fence  uint64
		holder string
	)
	err := s.do(ctx, opClaim, func(ctx context.Context) error {
		res, err := claimScript.Run(ctx, s.rdb,
			[]string{s.keys.lease(room), s.keys.fence(room), s.keys.leases()},
			node, ttl.Milliseconds(), room, minFence).Slice()
		if err != nil {
			return err
		}
		if len(res) != 3 {
			return settled(fmt.Errorf("cluster: claim answered %v", res))
		}
		w, _ := res[0].(int64)
		f, _ := res[1].(string)
		holder, _ = res[2].(string)
		won = w == 1
		if fence, err = strconv.ParseUint(f, 10, 64); err != nil {
			return settled(fmt.Errorf("cluster: room %q has a corrupt lease: %w", room, err))
		}
		return nil
	})
	if err != nil {
		return Lease{}, err
	}
	if !won {
		return Lease{}, &HeldError{Room: room, Node: holder, Fence: fence}
	}
	return Lease{Room: room, Node: node, Fence: fence}, nil
}

// Renew extends a held lease by ttl. ErrFenced when another node holds it.
// stateKept is false when the room's state is missing (a Redis that came
// back empty): the holder must save it again.
func (s *Store) Renew(ctx context.Context, l Lease, ttl time.Duration) (stateKept bool, err error) {
	k, a := s.holdArgs(l, ttl)
	var res int64
	err = s.do(ctx, opRenew, func(ctx context.Context) error {
		var err error
		res, err = renewScript.Run(ctx, s.rdb, k, a...).Int64()
		return err
	})
	switch {
	case err != nil:
		return false, err
	case res < 0:
		return false, ErrFenced
	}
	return res == 1, nil
}

// Saved is a room's state as stored: an opaque blob, its version, and the
// fence of the holder that wrote it.
type Saved struct {
	Version uint64
	Fence   uint64
	Blob    []byte
}

// Save writes the room's state as version, refreshing the lease by ttl.
// ErrFenced when l is not the current holder; a version not newer than the
// stored one is refused silently (nil, stored=false): a newer state is
// already there.
func (s *Store) Save(ctx context.Context, l Lease, ttl time.Duration, version uint64, blob []byte) (stored bool, err error) {
	k, a := s.holdArgs(l, ttl)
	err = s.do(ctx, opSave, func(ctx context.Context) error {
		return saveScript.Run(ctx, s.rdb, k, append(a, version, blob)...).Err()
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	return err == nil, err
}

// Load reads the room's saved state; ErrNoState if there is none.
func (s *Store) Load(ctx context.Context, room string) (Saved, error) {
	var out Saved
	err := s.do(ctx, opLoad, func(ctx context.Context) error {
		vals, err := s.rdb.HMGet(ctx, s.keys.state(room), "v", "f", "b").Result()
		if err != nil {
			return err
		}
		v, vok := vals[0].(string)
		f, fok := vals[1].(string)
		b, bok := vals[2].(string)
		if !vok || !fok || !bok {
			return settled(ErrNoState)
		}
		out.Blob = []byte(b)
		if out.Version, err = strconv.ParseUint(v, 10, 64); err != nil {
			return settled(fmt.Errorf("cluster: room %q has a corrupt state version: %w", room, err))
		}
		if out.Fence, err = strconv.ParseUint(f, 10, 64); err != nil {
			return settled(fmt.Errorf("cluster: room %q has a corrupt state fence: %w", room, err))
		}
		return nil
	})
	return out, err
}

// End forgets an ended room (lease and state) if l holds it; ErrFenced if
// not. The fence counter is kept for retention (at least
// MinEndRetention), so a holder that missed the end stays fenced.
func (s *Store) End(ctx context.Context, l Lease, retention time.Duration) error {
	// Without its fence counter an ended room's lease could be taken back
	// by its old holder (luaHold's path for a Redis that lost its data).
	retention = max(retention, MinEndRetention)
	k, a := s.holdArgs(l, time.Second)
	return s.do(ctx, opEnd, func(ctx context.Context) error {
		return endScript.Run(ctx, s.rdb, k, append(a, retention.Milliseconds())...).Err()
	})
}

// Release gives a held room up for an immediate takeover by another node
// (a node that drains). Releasing a lease one no longer holds does nothing.
func (s *Store) Release(ctx context.Context, l Lease) error {
	return s.do(ctx, opRelease, func(ctx context.Context) error {
		return releaseScript.Run(ctx, s.rdb, []string{s.keys.lease(l.Room), s.keys.leases(), s.keys.fence(l.Room)}, l.holder(), l.Room).Err()
	})
}

// Orphans lists up to limit rooms whose lease has expired or was released
// (by Redis's clock): the rooms a live node should take over.
func (s *Store) Orphans(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := s.do(ctx, opOrphans, func(ctx context.Context) error {
		var err error
		out, err = orphansScript.Run(ctx, s.rdb, []string{s.keys.leases()}, limit, s.keys.prefix).StringSlice()
		return err
	})
	return out, err
}

// Holder says which node hosts the room now; ErrNoHolder if none (the
// room does not exist, or awaits a takeover). Signalling for a room hosted
// elsewhere is relayed to that node.
func (s *Store) Holder(ctx context.Context, room string) (Lease, error) {
	var l Lease
	err := s.do(ctx, opHolder, func(ctx context.Context) error {
		v, err := s.rdb.Get(ctx, s.keys.lease(room)).Result()
		if errors.Is(err, redis.Nil) {
			return settled(ErrNoHolder)
		}
		if err != nil {
			return err
		}
		f, node, ok := strings.Cut(v, ":")
		fence, perr := strconv.ParseUint(f, 10, 64)
		if !ok || perr != nil {
			return settled(fmt.Errorf("cluster: room %q has a corrupt lease %q", room, v))
		}
		l = Lease{Room: room, Node: node, Fence: fence}
		return nil
	})
	return l, err
}

// checkID refuses ids that cannot name a key part or a holder.
func checkID(what, id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("cluster: %s id must be 1..256 bytes, not %d", what, len(id))
	}
	return nil
}

// MinEndRetention is the shortest time an ended room's fence counter is
// kept: far longer than any lease, so every holder has renewed (and
// learned it is fenced) before the counter goes.
const MinEndRetention = time.Minute

// Renewal is one lease's answer to RenewAll.
type Renewal struct {
	Err       error // nil, or ErrFenced
	StateKept bool  // false: the state is missing and must be saved again
}

// RenewAll renews many leases in one round trip (a pipeline of the renew
// script), which is what a node hosting many rooms does on every tick. An
// error means none was renewed (Redis unreachable); otherwise each lease
// has its Renewal.
func (s *Store) RenewAll(ctx context.Context, ls []Lease, ttl time.Duration) ([]Renewal, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	out := make([]Renewal, len(ls))
	err := s.do(ctx, opRenew, func(ctx context.Context) error {
		for attempt := 0; ; attempt++ {
			cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, l := range ls {
					k, a := s.holdArgs(l, ttl)
					renewScript.EvalSha(ctx, p, k, a...)
				}
				return nil
			})
			// A Redis that restarted forgot its scripts: load once, retry.
			if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") && attempt == 0 {
				if err := renewScript.Load(ctx, s.rdb).Err(); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			for i, c := range cmds {
				res, err := c.(*redis.Cmd).Int64()
				if err != nil {
					return err
				}
				out[i] = Renewal{StateKept: res == 1}
				if res < 0 {
					out[i].Err = ErrFenced
				}
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
