package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Document is the OpenAPI 3 description of the routes, generated from the
// route table: paths and operations from the routes, parameters from their
// paths and query lists, bodies from the Go types they decode and encode.
func Document() ([]byte, error) {
	s := &schemas{defs: map[string]any{}}
	errRef := s.of(reflect.TypeOf(proto.APIError{}))
	paths := map[string]map[string]any{}
	for _, rt := range routes() {
		op := map[string]any{
			"operationId": rt.id,
			"summary":     rt.summary,
			"parameters":  parameters(rt),
			"responses":   responses(rt, s, errRef),
		}
		if rt.public {
			op["security"] = []any{}
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{
				"required": false,
				"content":  jsonContent(s.of(reflect.TypeOf(rt.body))),
			}
		}
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "seatsfu server API",
			"version": "1",
			"description": "For an app's backend (PROTOCOL.md §11). Authenticate with " +
				"Authorization: Bearer <service token> (seatsfu token --service --user NAME): " +
				"none or a bad one is 401, a room member's token 403. Errors are " +
				`{"error": {"reason", "message"}}.`,
		},
		"paths":    paths,
		"security": []any{map[string]any{"serviceToken": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"serviceToken": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
			"schemas": s.defs,
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

var pathParam = regexp.MustCompile(`\{([A-Za-z]+)\}`)

func parameters(rt route) []any {
	out := []any{}
	for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
		p := params[m[1]]
		out = append(out, map[string]any{
			"name": m[1], "in": "path", "required": true, "description": p.doc,
			"schema": map[string]any{"type": p.typ},
		})
	}
	for _, q := range rt.query {
		p := params[q]
		out = append(out, map[string]any{
			"name": q, "in": "query", "required": false, "description": p.doc,
			"schema": map[string]any{"type": p.typ},
		})
	}
	return out
}

func responses(rt route, s *schemas, errRef map[string]any) map[string]any {
	out := map[string]any{
		"200": map[string]any{"description": "Done.", "content": jsonContent(s.of(reflect.TypeOf(rt.result)))},
	}
	errs := rt.errors
	if !rt.public {
		// Any authenticated call may meet a node that cannot serve it now
		// (a cluster's room host unreachable, Redis down: 503) or fail.
		errs = append(errs[:len(errs):len(errs)], http.StatusServiceUnavailable, http.StatusInternalServerError)
	}
	for _, status := range errs {
		out[strconv.Itoa(status)] = map[string]any{
			"description": http.StatusText(status),
			"content":     jsonContent(errRef),
		}
	}
	return out
}

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// schemas turns Go types into JSON Schemas the way encoding/json sees them:
// named structs become components (referenced), pointers nullable, fields
// without omitempty required.
type schemas struct{ defs map[string]any }

// enums lists the values of the string types that have a fixed set.
var enums = map[reflect.Type][]string{
	reflect.TypeOf(proto.Role("")):        {string(proto.RoleOwner), string(proto.RoleAdmin), string(proto.RoleAudience)},
	reflect.TypeOf(proto.Device("")):      {string(proto.DeviceOn), string(proto.DeviceOff), string(proto.DeviceClosedByAdmin)},
	reflect.TypeOf(proto.RequestKind("")): {string(proto.KindApply), string(proto.KindInvite)},
}

func (s *schemas) of(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		inner := s.of(t.Elem())
		if _, isRef := inner["$ref"]; isRef {
			return map[string]any{"allOf": []any{inner}, "nullable": true}
		}
		inner["nullable"] = true
		return inner
	case reflect.Struct:
		if t.Name() == "" {
			return map[string]any{"type": "object"}
		}
		if _, done := s.defs[t.Name()]; !done {
			s.defs[t.Name()] = map[string]any{} // stops recursion
			s.defs[t.Name()] = s.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + t.Name()}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": s.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.of(t.Elem())}
	case reflect.String:
		m := map[string]any{"type": "string"}
		if vals, ok := enums[t]; ok {
			m["enum"] = vals
		}
		return m
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{} // any
}

func (s *schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = s.of(f.Type)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	m := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		m["required"] = required
	}
	return m
}
