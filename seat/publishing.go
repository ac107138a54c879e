package seat

// Publishing reports, for a seated user, whether each kind of its media is
// arriving as the media layer last said (SetPublishing), whatever muting or
// locks make of it. Unseated and unknown users publish nothing. Disconnect
// and a resumed join clear both, which is how the media layer learns that
// a connection's media must stop and the user publish again.
func (r *Room) Publishing(userID string) (audio, video bool) {
	m, ok := r.members[userID]
	if !ok || m.seat == NoSeat {
		return false, false
	}
	s := &r.seats[m.seat]
	return s.audioPublishing, s.videoPublishing
}
