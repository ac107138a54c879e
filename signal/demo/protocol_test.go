package demo

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// jsLiteral matches the JavaScript string literals of the demo's sources:
// '…', "…" and `…` without interpolation.
var jsLiteral = regexp.MustCompile("'([^'\\\\\\n]*)'|\"([^\"\\\\\\n]*)\"|`([^`$\\\\]*)`")

// wireName is what a method or notification name looks like.
var wireName = regexp.MustCompile(`^(room|seat|media|rtc|session|cohost|battle)\.[A-Za-z]+$`)

// snakeCase is what an error reason, or a seat's or room's end reason,
// looks like.
var snakeCase = regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`)

// jsOwnReasons are the reasons the JavaScript SDK gives failures the server
// never saw (sdk/seatsfu.js, RpcError).
var jsOwnReasons = []string{"connect_failed", "not_connected", "bad_answer"}

// The JavaScript SDK and the page speak the protocol from their own string
// literals; this holds every one of them to signal/proto, the protocol's
// one source: a method or notification name proto does not define, or a
// reason it does not know, fails here rather than in a browser.
func TestJavaScriptSpeaksProto(t *testing.T) {
	names := protoNames(t)
	reasons := map[string]bool{}
	for _, r := range proto.Reasons() {
		reasons[string(r)] = true
	}
	for _, r := range []string{proto.LeftLeft, proto.LeftKicked, proto.LeftLocked, proto.LeftDisconnected,
		proto.LeftMoved, proto.LeftRoomEnded, proto.EndedByOwner, proto.OwnerTimeout, proto.ServerShutdown} {
		reasons[r] = true
	}
	for _, r := range jsOwnReasons {
		reasons[r] = true
	}
	seen := map[string]bool{}
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		for _, m := range jsLiteral.FindAllStringSubmatch(string(src), -1) {
			lit := m[1] + m[2] + m[3]
			switch {
			case wireName.MatchString(lit):
				seen["name"] = true
				if !names[lit] {
					t.Errorf("%s uses %q, which signal/proto does not define", path, lit)
				}
			case snakeCase.MatchString(lit):
				seen["reason"] = true
				if !reasons[lit] {
					t.Errorf("%s uses the reason %q, which signal/proto does not know", path, lit)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !seen["name"] || !seen["reason"] {
		t.Fatalf("found no method names or no reasons in the JavaScript (%v): the scan is broken", seen)
	}
}

// protoNames collects the values of names.go's Method* and Note* constants.
func protoNames(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../proto/names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
			return true
		}
		name := vs.Names[0].Name
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || !(strings.HasPrefix(name, "Method") || strings.HasPrefix(name, "Note")) {
			return true
		}
		v, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatalf("names.go: %s: %v", name, err)
		}
		names[v] = true
		return true
	})
	if !names[proto.MethodRoomJoin] || !names[proto.NoteSeatChanged] {
		t.Fatalf("names.go parsed to %d names without room.join or seat.changed", len(names))
	}
	return names
}
