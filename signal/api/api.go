package api

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Rooms is what the API does to live rooms. Errors are *seat.Error values
// (their reason picks the HTTP status, see errors.go); anything else is a
// 500.
type Rooms interface {
	// List pages through every open room by room id; cursor is the last id
	// of the previous page ("" to start).
	List(cursor string, limit int) (proto.APIRoomList, error)
	Get(roomID string) (proto.APIRoom, error)
	Update(roomID string, p proto.RoomUpdateParams) error
	End(roomID string) error
	Members(roomID, cursor string, limit int) (proto.APIMemberList, error)
	KickOut(roomID, userID string, ban bool) error
	// Unban reports false when the user was not banned.
	Unban(roomID, userID string) (bool, error)
	SetRole(roomID, userID string, role proto.Role) error
	SetChatMuted(roomID, userID string, muted bool) error
	LockSeat(roomID string, index int, p proto.APISeatLock) error
	KickSeat(roomID string, index int) error
	SendMessage(roomID string, m proto.APIMessage) error
}

// Battles credits battle scores (PROTOCOL.md §10). The co-host controller
// implements it; its errors are the sentinels below (wrapped or not),
// anything else is a 500.
type Battles interface {
	AddScore(battleID, roomID string, delta int64) error
}

// The errors Battles returns.
var (
	// ErrBattleNotFound: no such battle, or it has ended (404).
	ErrBattleNotFound = errors.New("no such battle")
	// ErrRoomNotInBattle: the room takes no part in the battle (409).
	ErrRoomNotInBattle = errors.New("the room takes no part in this battle")
)

// Config configures the API.
type Config struct {
	Secret  []byte // verifies service tokens
	Rooms   Rooms  // required
	Battles Battles
	// Registerer gets seatsfu_api_requests_total and
	// seatsfu_api_request_duration_seconds; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Limits of a request.
const (
	// MaxBody bounds a request body: the largest valid one (4 KiB of
	// metadata, every byte escaped) is well under it.
	MaxBody = 64 << 10
	// MaxLimit and the defaults of ?limit=.
	MaxLimit            = 100
	defaultRoomsLimit   = 50
	defaultMembersLimit = 100
)

// API serves /v1/api/.
type API struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	doc     []byte // the OpenAPI document, built once
	metrics *metrics
}

// New builds the API's routes and its OpenAPI document from the route
// table.
func New(cfg Config) (*API, error) {
	if cfg.Rooms == nil {
		return nil, errors.New("api: Config.Rooms is required")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("api: Config.Secret is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), metrics: m}
	doc, err := Document()
	if err != nil {
		return nil, err
	}
	a.doc = doc
	for _, rt := range routes() {
		a.mux.Handle(rt.method+" "+rt.path, a.serve(rt))
	}
	// Anything else under /v1/api/ is a JSON 404, not the mux's text one.
	a.mux.HandleFunc("/v1/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, proto.APIReasonNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return a, nil
}

// Handler serves every route of the table.
func (a *API) Handler() http.Handler { return a.mux }

// serve wraps a route: authentication, body decoding, the call, the answer
// and the metrics.
func (a *API) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status := a.run(rt, w, r)
		a.metrics.requests.WithLabelValues(rt.id, statusLabel(status)).Inc()
		a.metrics.duration.WithLabelValues(rt.id).Observe(time.Since(start).Seconds())
	})
}

func (a *API) run(rt route, w http.ResponseWriter, r *http.Request) int {
	if !rt.public {
		if status, reason, msg := a.authenticate(r); status != 0 {
			writeError(w, status, reason, msg)
			return status
		}
	}
	var body any
	if rt.body != nil {
		b, err := decodeBody(w, r, rt.body)
		if err != nil {
			writeError(w, http.StatusBadRequest, string(proto.ReasonInvalidParams), err.Error())
			return http.StatusBadRequest
		}
		body = b
	}
	res, err := rt.handle(a, r, body)
	if err != nil {
		status, reason, msg := a.classify(err)
		writeError(w, status, reason, msg)
		return status
	}
	if res == nil {
		res = struct{}{}
	}
	if raw, ok := res.(rawJSON); ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
		return http.StatusOK
	}
	writeJSON(w, http.StatusOK, res)
	return http.StatusOK
}

// rawJSON is a result already encoded (the OpenAPI document).
type rawJSON []byte
