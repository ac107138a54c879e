package proto

// Method names, client → server (PROTOCOL.md §3.2, §9–§11).
const (
	MethodRoomJoin        = "room.join"
	MethodRoomLeave       = "room.leave"
	MethodRoomEnd         = "room.end"
	MethodRoomMembers     = "room.members"
	MethodRoomSendMessage = "room.sendMessage"
	MethodRoomKickOut     = "room.kickOut"
	MethodRoomUpdate      = "room.update"

	MethodSeatApply             = "seat.apply"
	MethodSeatCancelApplication = "seat.cancelApplication"
	MethodSeatAcceptApplication = "seat.acceptApplication"
	MethodSeatRejectApplication = "seat.rejectApplication"
	MethodSeatInvite            = "seat.invite"
	MethodSeatCancelInvitation  = "seat.cancelInvitation"
	MethodSeatAcceptInvitation  = "seat.acceptInvitation"
	MethodSeatRejectInvitation  = "seat.rejectInvitation"
	MethodSeatTake              = "seat.take"
	MethodSeatMove              = "seat.move"
	MethodSeatLeave             = "seat.leave"
	MethodSeatKick              = "seat.kick"
	MethodSeatLock              = "seat.lock"
	MethodSeatRequests          = "seat.requests"
	MethodMediaSetMuted         = "media.setMuted"

	MethodRTCPublish    = "rtc.publish"
	MethodRTCSubscribe  = "rtc.subscribe"
	MethodRTCCandidate  = "rtc.candidate"
	MethodRTCSetQuality = "rtc.setQuality"

	MethodSessionRefresh = "session.refresh"

	MethodCohostRequest = "cohost.request"
	MethodCohostCancel  = "cohost.cancel"
	MethodCohostAccept  = "cohost.accept"
	MethodCohostReject  = "cohost.reject"
	MethodCohostLeave   = "cohost.leave"
	MethodBattleStart   = "battle.start"
	MethodBattleStop    = "battle.stop"
)

// Notification names, server → client (PROTOCOL.md §3.3, §9–§11).
const (
	NoteSeatChanged     = "seat.changed"
	NoteRoomMessage     = "room.message"
	NoteRoomStats       = "room.stats"
	NoteRoomEnded       = "room.ended"
	NoteRoomUpdated     = "room.updated"
	NoteRoomRoleChanged = "room.roleChanged"
	NoteMemberJoined    = "room.memberJoined"
	NoteMemberLeft      = "room.memberLeft"
	NoteKickedOut       = "room.kickedOut"
	NoteSessionReplaced = "session.replaced"
	NoteSessionExpired  = "session.expired"

	NoteApplicationReceived             = "seat.applicationReceived"
	NoteApplicationCancelled            = "seat.applicationCancelled"
	NoteApplicationProcessedByOtherHost = "seat.applicationProcessedByOtherHost"
	NoteInvitationResponded             = "seat.invitationResponded"
	NoteInvitationNoResponse            = "seat.invitationNoResponse"
	NoteApplicationResponded            = "seat.applicationResponded"
	NoteApplicationNoResponse           = "seat.applicationNoResponse"
	NoteInvitationReceived              = "seat.invitationReceived"
	NoteInvitationCancelled             = "seat.invitationCancelled"
	NoteSeatKicked                      = "seat.kicked"

	NoteRTCQuality         = "rtc.quality"
	NoteRTCPublisherLayers = "rtc.publisherLayers"

	NoteCohostRequestReceived  = "cohost.requestReceived"
	NoteCohostRequestCancelled = "cohost.requestCancelled"
	NoteCohostRequestResponded = "cohost.requestResponded"
	NoteCohostChanged          = "cohost.changed"
	NoteBattleStarted          = "battle.started"
	NoteBattleScores           = "battle.scores"
	NoteBattleEnded            = "battle.ended"
)
