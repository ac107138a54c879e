package seat

import (
	"strconv"
	"time"
)

// request is a pending application or invitation.
type request struct {
	wire    Request
	seq     uint64
	subject *member // the applicant, or the invitee
	inviter *member // invitations only
	timer   *deadline
	// prev and next link the room's pending list, so a request leaves it in
	// O(1) whatever its age.
	prev, next *request
}

func (q *request) view() Request {
	v := q.wire
	if v.To != nil {
		to := *v.To
		v.To = &to
	}
	return v
}

// requestList is the room's pending requests in creation order.
type requestList struct {
	first, last *request
	n           int
}

func (l *requestList) push(q *request) {
	q.prev = l.last
	if l.last != nil {
		l.last.next = q
	} else {
		l.first = q
	}
	l.last = q
	l.n++
}

func (l *requestList) unlink(q *request) {
	if q.prev != nil {
		q.prev.next = q.next
	} else {
		l.first = q.next
	}
	if q.next != nil {
		q.next.prev = q.prev
	} else {
		l.last = q.prev
	}
	q.prev, q.next = nil, nil
	l.n--
}

// checkRequestParams validates what seat.apply and seat.invite share.
func (r *Room) checkRequestParams(seatIndex, timeoutSec int, extraInfo string) error {
	if err := r.checkIndex(seatIndex); err != nil {
		return err
	}
	if timeoutSec < 0 || timeoutSec > MaxTimeout {
		return newErr(ErrInvalidParams, "timeout must be 0..%d seconds, not %d", MaxTimeout, timeoutSec)
	}
	if len(extraInfo) > MaxExtraInfo {
		return newErr(ErrInvalidParams, "extraInfo is %d bytes, at most %d", len(extraInfo), MaxExtraInfo)
	}
	return nil
}

// checkFree refuses a new request whose subject already holds a seat or a
// pending request (rule 2, rule 6).
func checkFree(subject *member, kind RequestKind) error {
	if subject.seat != NoSeat {
		return newErr(ErrAlreadySeated, "%q already holds seat %d", subject.user.UserID, subject.seat)
	}
	if q := subject.request; q != nil {
		if q.wire.Kind == kind {
			return newErr(ErrAlreadyApplied, "%q already has a pending %s request", subject.user.UserID, kind)
		}
		return newErr(ErrRequestConflict, "%q already has a pending %s request", subject.user.UserID, q.wire.Kind)
	}
	return nil
}

func (r *Room) newRequest(kind RequestKind, subject, inviter *member, seatIndex, timeoutSec int, extraInfo string) *request {
	r.lastReqID++
	q := &request{seq: r.lastReqID, subject: subject, inviter: inviter}
	q.wire = Request{
		RequestID: "req-" + strconv.FormatUint(r.lastReqID, 10),
		Kind:      kind,
		From:      subject.user,
		SeatIndex: seatIndex,
		ExtraInfo: extraInfo,
	}
	if inviter != nil {
		to := subject.user
		q.wire.From, q.wire.To = inviter.user, &to
		if inviter.invites == nil {
			inviter.invites = make(map[string]*request)
		}
		inviter.invites[subject.user.UserID] = q
	}
	if timeoutSec > 0 {
		at := r.cfg.Clock.Now().Add(time.Duration(timeoutSec) * time.Second)
		q.wire.ExpiresAt = at.UnixMilli()
		q.timer = r.deadlines.add(at, q, nil)
	}
	subject.request = q
	r.pending.push(q)
	return q
}

// Apply is seat.apply: an application for seatIndex (-1 = any) with a
// timeout in seconds (0 = none). Returns the request id. Audience and admins
// apply; the owner is always seated. Whether the seat is free is decided when
// a host accepts (rule 4), not now: seats change hands while a request waits.
func (r *Room) Apply(actor string, seatIndex, timeoutSec int, extraInfo string) (string, []Delivery, error) {
	m, err := r.actor(actor)
	if err != nil {
		return "", nil, err
	}
	if m == r.owner {
		return "", nil, newErr(ErrPermission, "the owner does not apply for a seat")
	}
	if err := r.checkRequestParams(seatIndex, timeoutSec, extraInfo); err != nil {
		return "", nil, err
	}
	if err := checkFree(m, KindApply); err != nil {
		return "", nil, err
	}
	if err := r.checkRoomForRequest(); err != nil {
		return "", nil, err
	}
	q := r.newRequest(KindApply, m, nil, seatIndex, timeoutSec, extraInfo)
	return q.wire.RequestID, []Delivery{{To: Hosts, Except: actor, Event: ApplicationReceived{Request: q.view()}}}, nil
}

// CancelApplication is seat.cancelApplication by the applicant.
func (r *Room) CancelApplication(actor string) ([]Delivery, error) {
	m, err := r.actor(actor)
	if err != nil {
		return nil, err
	}
	if m.request == nil || m.request.wire.Kind != KindApply {
		return nil, newErr(ErrRequestNotFound, "no pending application from %q", actor)
	}
	return r.endRequest(nil, m.request, OutcomeCancelled, endDetail{}), nil
}

// application finds the pending application a host answers.
func (r *Room) application(actor, applicant string) (*member, *request, error) {
	h, err := r.host(actor)
	if err != nil {
		return nil, nil, err
	}
	if actor == applicant {
		return nil, nil, newErr(ErrPermission, "a host does not answer its own application")
	}
	a, ok := r.members[applicant]
	if !ok || a.request == nil || a.request.wire.Kind != KindApply {
		return nil, nil, newErr(ErrRequestNotFound, "no pending application from %q", applicant)
	}
	return h, a.request, nil
}

// AcceptApplication returns the seat the applicant got. When the seat asked
// for is taken or locked, or -1 finds none free, it fails and the
// application stays pending (rule 4).
func (r *Room) AcceptApplication(actor, applicant string) (int, []Delivery, error) {
	h, q, err := r.application(actor, applicant)
	if err != nil {
		return 0, nil, err
	}
	return r.accept(q, h)
}

// RejectApplication is seat.rejectApplication.
func (r *Room) RejectApplication(actor, applicant string) ([]Delivery, error) {
	h, q, err := r.application(actor, applicant)
	if err != nil {
		return nil, err
	}
	return r.endRequest(nil, q, OutcomeRejected, endDetail{host: h}), nil
}

// Invite is seat.invite; returns the request id. An unknown invitee is
// ErrInvalidParams, and so is inviting oneself.
func (r *Room) Invite(actor, invitee string, seatIndex, timeoutSec int, extraInfo string) (string, []Delivery, error) {
	h, err := r.host(actor)
	if err != nil {
		return "", nil, err
	}
	if err := r.checkRequestParams(seatIndex, timeoutSec, extraInfo); err != nil {
		return "", nil, err
	}
	v, ok := r.members[invitee]
	if !ok {
		return "", nil, newErr(ErrInvalidParams, "no such member %q", invitee)
	}
	if v == h {
		return "", nil, newErr(ErrInvalidParams, "a host takes a seat instead of inviting itself")
	}
	if err := checkFree(v, KindInvite); err != nil {
		return "", nil, err
	}
	if err := r.checkRoomForRequest(); err != nil {
		return "", nil, err
	}
	q := r.newRequest(KindInvite, v, h, seatIndex, timeoutSec, extraInfo)
	return q.wire.RequestID, []Delivery{{To: OneUser, UserID: invitee, Event: InvitationReceived{Request: q.view()}}}, nil
}

// CancelInvitation is seat.cancelInvitation by the inviter.
func (r *Room) CancelInvitation(actor, invitee string) ([]Delivery, error) {
	h, err := r.actor(actor)
	if err != nil {
		return nil, err
	}
	q := h.invites[invitee]
	if q == nil {
		return nil, newErr(ErrRequestNotFound, "no pending invitation from %q to %q", actor, invitee)
	}
	return r.endRequest(nil, q, OutcomeCancelled, endDetail{}), nil
}

// invitation finds the pending invitation its invitee answers; it must come
// from the inviter named.
func (r *Room) invitation(actor, inviter string) (*request, error) {
	m, err := r.actor(actor)
	if err != nil {
		return nil, err
	}
	q := m.request
	if q == nil || q.wire.Kind != KindInvite || q.inviter.user.UserID != inviter {
		return nil, newErr(ErrRequestNotFound, "no pending invitation from %q to %q", inviter, actor)
	}
	return q, nil
}

// accept seats a request's subject on the seat the request names (rule 4:
// when that seat cannot be had, the request stays pending and nothing
// changes) and ends the request as accepted. host is the answering host of
// an application, nil for an invitation.
func (r *Room) accept(q *request, host *member) (int, []Delivery, error) {
	idx, err := r.resolveSeat(q.wire.SeatIndex)
	if err != nil {
		return 0, nil, err
	}
	subject := q.subject
	out := r.endRequest(nil, q, OutcomeAccepted, endDetail{host: host, seat: idx})
	r.sit(subject, idx)
	out = append(out, r.seatChanged([]SeatJoin{{User: subject.user, SeatIndex: idx}}, nil))
	return idx, out, nil
}

// AcceptInvitation returns the seat the invitee got (rule 4 as for
// applications: a failed seat keeps the invitation pending).
func (r *Room) AcceptInvitation(actor, inviter string) (int, []Delivery, error) {
	q, err := r.invitation(actor, inviter)
	if err != nil {
		return 0, nil, err
	}
	return r.accept(q, nil)
}

// RejectInvitation is seat.rejectInvitation by the invitee.
func (r *Room) RejectInvitation(actor, inviter string) ([]Delivery, error) {
	q, err := r.invitation(actor, inviter)
	if err != nil {
		return nil, err
	}
	return r.endRequest(nil, q, OutcomeRejected, endDetail{}), nil
}

// endDetail is what some ends need to word their notifications.
type endDetail struct {
	host        *member // the host who accepted or rejected an application
	seat        int     // the seat an accepted request got
	inviterLeft bool    // OutcomeLeft of an invitation: the inviter left, not the invitee
}

// endRequest ends a pending request exactly once: it removes it from every
// index, appends the notifications both sides get (PROTOCOL.md §3.3) and the
// Internal RequestEnded record.
func (r *Room) endRequest(out []Delivery, q *request, outcome Outcome, d endDetail) []Delivery {
	r.pending.unlink(q)
	r.deadlines.remove(q.timer)
	q.timer = nil
	q.subject.request = nil
	if q.inviter != nil {
		delete(q.inviter.invites, q.subject.user.UserID)
	}
	if q.wire.Kind == KindApply {
		out = applicationEnded(out, q, outcome, d)
	} else {
		out = invitationEnded(out, q, outcome, d)
	}
	return append(out, Delivery{To: Internal, Event: RequestEnded{Request: q.view(), Outcome: outcome}})
}

func applicationEnded(out []Delivery, q *request, outcome Outcome, d endDetail) []Delivery {
	applicant := q.subject.user
	toApplicant := func(ev Event) {
		out = append(out, Delivery{To: OneUser, UserID: applicant.UserID, Event: ev})
	}
	cancelled := func(reason string) {
		out = append(out, Delivery{To: Hosts, Except: applicant.UserID, Event: ApplicationCancelled{User: applicant, Reason: reason}})
	}
	switch outcome {
	case OutcomeAccepted, OutcomeRejected:
		accepted := outcome == OutcomeAccepted
		resp := ApplicationResponded{Accepted: accepted, Host: d.host.user}
		if accepted {
			seat := d.seat
			resp.SeatIndex = &seat
		}
		toApplicant(resp)
		out = append(out, Delivery{To: Hosts, Except: d.host.user.UserID,
			Event: ApplicationProcessedByOtherHost{User: applicant, Host: d.host.user, Accepted: accepted}})
	case OutcomeCancelled:
		cancelled(ReasonCancelled)
	case OutcomeTimeout:
		cancelled(ReasonTimeout)
		toApplicant(ApplicationNoResponse{Reason: ReasonTimeout})
	case OutcomeLeft:
		cancelled(ReasonLeft)
	case OutcomeAlreadySeated:
		cancelled(ReasonAlreadySeated)
		toApplicant(ApplicationNoResponse{Reason: ReasonAlreadySeated})
	case OutcomeRoomEnded:
		// RoomEnded tells everyone.
	}
	return out
}

func invitationEnded(out []Delivery, q *request, outcome Outcome, d endDetail) []Delivery {
	inviter, invitee := q.inviter.user, q.subject.user
	toInviter := func(ev Event) {
		out = append(out, Delivery{To: OneUser, UserID: inviter.UserID, Event: ev})
	}
	toInvitee := func(reason string) {
		out = append(out, Delivery{To: OneUser, UserID: invitee.UserID, Event: InvitationCancelled{Host: inviter, Reason: reason}})
	}
	switch outcome {
	case OutcomeAccepted, OutcomeRejected:
		toInviter(InvitationResponded{User: invitee, Accepted: outcome == OutcomeAccepted})
	case OutcomeCancelled:
		toInvitee(ReasonCancelled)
	case OutcomeTimeout:
		toInviter(InvitationNoResponse{User: invitee, Reason: ReasonTimeout})
		toInvitee(ReasonTimeout)
	case OutcomeLeft:
		if d.inviterLeft {
			toInvitee(ReasonLeft)
		} else {
			toInviter(InvitationNoResponse{User: invitee, Reason: ReasonLeft})
		}
	case OutcomeAlreadySeated:
		toInviter(InvitationNoResponse{User: invitee, Reason: ReasonAlreadySeated})
		toInvitee(ReasonAlreadySeated)
	case OutcomeRoomEnded:
		// RoomEnded tells everyone.
	}
	return out
}
