package seat

import "testing"

func TestPublishingFollowsSetPublishingNotMuteOrLock(t *testing.T) {
	f := newFixture(t)
	r := f.room
	if a, v := r.Publishing(aud1.UserID); a || v {
		t.Fatal("an unseated user publishes")
	}
	if a, v := r.Publishing("nobody"); a || v {
		t.Fatal("an unknown user publishes")
	}
	_, _, err := r.Invite(owner.UserID, aud1.UserID, 1, 0, "")
	f.must(err)
	_, _, err = r.AcceptInvitation(aud1.UserID, owner.UserID)
	f.must(err)
	if a, v := r.Publishing(aud1.UserID); a || v {
		t.Fatal("a new guest publishes before its media arrives")
	}
	_, err = r.SetPublishing(aud1.UserID, KindVideo, true)
	f.must(err)
	if a, v := r.Publishing(aud1.UserID); a || !v {
		t.Fatalf("after video arrived: audio %v video %v", a, v)
	}
	// Muting and a host's lock change what the seat shows, not what arrives.
	_, err = r.SetMuted(aud1.UserID, KindVideo, true)
	f.must(err)
	_, err = r.Lock(owner.UserID, 1, nil, nil, boolp(true))
	f.must(err)
	if _, v := r.Publishing(aud1.UserID); !v {
		t.Fatal("mute or lock cleared publishing")
	}
	// A dropped connection clears it: the user must publish again.
	_, err = r.Disconnect(aud1.UserID)
	f.must(err)
	if a, v := r.Publishing(aud1.UserID); a || v {
		t.Fatal("publishing survived a disconnect")
	}
	if r.SeatOf(aud1.UserID) != 1 {
		t.Fatal("the seat was not kept through the grace")
	}
}
