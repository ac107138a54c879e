// Package api is the server API of PROTOCOL.md §11: JSON over HTTP under
// /v1/api/ for an app's backend, authenticated with a service token.
//
// One table, routes.go, is the API: each route carries its method and path
// (a net/http ServeMux pattern, which is also its OpenAPI path), its
// operation's description and body types, and its handler. The ServeMux is
// registered from it and the OpenAPI 3 document served at
// /v1/api/openapi.json is generated from it (openapi.go), the body schemas
// by reflection over the very Go types the handlers decode and encode — so
// the document cannot describe a route, or a field, that does not exist.
//
// The package knows HTTP, tokens and the wire types; what an operation does
// to a room is the Rooms interface's business (the signal package
// implements it over the live rooms), and battle scores are Battles'.
package api
