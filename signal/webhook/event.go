package webhook

// Event names (PROTOCOL.md §11).
const (
	RoomStarted   = "room.started"
	RoomEnded     = "room.ended"
	MemberJoined  = "member.joined"
	MemberLeft    = "member.left"
	SeatTaken     = "seat.taken"
	SeatLeft      = "seat.left"
	RequestEnded  = "request.ended"
	CohostStarted = "cohost.started"
	CohostEnded   = "cohost.ended"
	BattleEnded   = "battle.ended"
)

// Events lists every event name, for metrics and documentation.
var Events = []string{
	RoomStarted, RoomEnded, MemberJoined, MemberLeft, SeatTaken, SeatLeft,
	RequestEnded, CohostStarted, CohostEnded, BattleEnded,
}

// Envelope is the body of one POST. Data is the event's own object; its
// shapes are the wire types of signal/proto (proto.Webhook*).
type Envelope struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	CreatedAt int64  `json:"createdAt"` // unix ms
	RoomID    string `json:"roomId"`
	Data      any    `json:"data"`
}
