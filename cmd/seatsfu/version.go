package main

import (
	"runtime"
	"runtime/debug"
)

// version is set at build time with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/seatsfu
//
// Left empty, the module version (or VCS revision) from the build info is
// used.
var version = ""

func versionString() string {
	return "seatsfu " + resolveVersion(version, debug.ReadBuildInfo) + " " + runtime.Version()
}

// resolveVersion prefers the ldflags value, then the module version of a
// `go install`ed binary, then the VCS revision of a local build.
func resolveVersion(set string, info func() (*debug.BuildInfo, bool)) string {
	if set != "" {
		return set
	}
	bi, ok := info()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}
