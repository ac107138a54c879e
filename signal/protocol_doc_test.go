package signal_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// heading is a numbered heading of PROTOCOL.md: "## 3. Signalling",
// "### 3.1 Objects".
var heading = regexp.MustCompile(`(?m)^#{2,4} (\d+(?:\.\d+)*)\.? `)

// citation is "PROTOCOL.md §N" with what follows it: further sections
// ("§3.3, §4"), ranges ("§9–§11"), "and §N".
var citation = regexp.MustCompile(`PROTOCOL\.md (§\d+(?:\.\d+)*(?:(?:[–-]|, | and )§\d+(?:\.\d+)*)*)`)

var section = regexp.MustCompile(`§(\d+(?:\.\d+)*)`)

// Code and documents cite PROTOCOL.md by section; a citation of a section
// that does not exist (renumbered, never written) sends a reader nowhere.
// Every "PROTOCOL.md §N" in the tree, and every "§N" inside PROTOCOL.md,
// must name one of its headings, and no heading number may appear twice.
func TestProtocolCitationsResolve(t *testing.T) {
	doc, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(doc), -1) {
		if headings[m[1]] {
			t.Errorf("PROTOCOL.md has two sections numbered %s", m[1])
		}
		headings[m[1]] = true
	}
	for _, want := range []string{"1", "2", "3", "3.1", "3.2", "3.3", "4", "5", "6", "7", "8"} {
		if !headings[want] {
			t.Errorf("PROTOCOL.md has no section %s (its numbers mirror the contract's)", want)
		}
	}
	check := func(where, refs string) {
		for _, s := range section.FindAllStringSubmatch(refs, -1) {
			if !headings[s[1]] {
				t.Errorf("%s cites §%s, which PROTOCOL.md does not have", where, s[1])
			}
		}
	}
	check("PROTOCOL.md", string(doc))

	cited := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "testdata" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".js", ".yaml", ".html":
		default:
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, m := range citation.FindAllStringSubmatch(line, -1) {
				cited++
				check(filepath.ToSlash(path)+":"+strconv.Itoa(i+1), m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited < 20 {
		t.Fatalf("found only %d citations of PROTOCOL.md: the scan is broken", cited)
	}
}
