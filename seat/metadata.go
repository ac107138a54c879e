package seat

import (
	"net/url"
	"unicode/utf8"
)

// Limits of a room's metadata (PROTOCOL.md §11).
const (
	MaxTitle    = 128     // characters
	MaxCover    = 512     // bytes of the cover URL
	MaxMetadata = 4 << 10 // bytes of the app's metadata
)

// Meta is what an app says about a room: a title, a cover image URL and an
// opaque string of its own (JSON, usually). Empty fields are unset.
type Meta struct {
	Title    string
	Cover    string
	Metadata string
}

// MetaPatch changes the fields it sets and leaves nil ones as they are; an
// empty string clears a field.
type MetaPatch struct {
	Title, Cover, Metadata *string
}

// apply returns m with p's fields set.
func (m Meta) apply(p MetaPatch) Meta {
	if p.Title != nil {
		m.Title = *p.Title
	}
	if p.Cover != nil {
		m.Cover = *p.Cover
	}
	if p.Metadata != nil {
		m.Metadata = *p.Metadata
	}
	return m
}

func (m Meta) validate() error {
	switch {
	case !utf8.ValidString(m.Title) || utf8.RuneCountInString(m.Title) > MaxTitle:
		return newErr(ErrInvalidParams, "title must be valid UTF-8 of at most %d characters", MaxTitle)
	case len(m.Cover) > MaxCover:
		return newErr(ErrInvalidParams, "cover is over %d bytes", MaxCover)
	case m.Cover != "" && !isWebURL(m.Cover):
		return newErr(ErrInvalidParams, "cover must be an absolute http(s) URL")
	case len(m.Metadata) > MaxMetadata:
		return newErr(ErrInvalidParams, "metadata is over %d bytes", MaxMetadata)
	}
	return nil
}

// isWebURL accepts what a client can show as an image: an absolute http or
// https URL with a host.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// RoomUpdated goes to everyone after room.update: the metadata as it now is.
type RoomUpdated struct {
	Title    string
	Cover    string
	Metadata string
}

// Meta returns the room's metadata.
func (r *Room) Meta() Meta { return r.meta }

// Update is room.update by the owner or an admin.
func (r *Room) Update(actor string, p MetaPatch) ([]Delivery, error) {
	if _, err := r.host(actor); err != nil {
		return nil, err
	}
	return r.update(p)
}

// ServiceUpdate is room.update by the app's backend (PROTOCOL.md §11).
func (r *Room) ServiceUpdate(p MetaPatch) ([]Delivery, error) {
	if r.ended {
		return nil, newErr(ErrRoomNotFound, "the room has ended")
	}
	return r.update(p)
}

// update applies p whole or not at all; every valid call tells everyone,
// even one that changes nothing, so a client's room.update always has a
// visible answer.
func (r *Room) update(p MetaPatch) ([]Delivery, error) {
	next := r.meta.apply(p)
	if err := next.validate(); err != nil {
		return nil, err
	}
	r.meta = next
	return []Delivery{{To: Everyone, Event: RoomUpdated(next)}}, nil
}
