package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeYAML overlays the keys present in data onto c. Every value goes
// through its setting's own parser, the one flags and env vars use, so a bad
// value reads the same from all three sources and names its key. Unknown
// keys are an error, with the setting probably meant: a misspelt key
// silently falling back to its default is how production servers end up in
// dev mode.
func decodeYAML(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file: all defaults
			return nil
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil // only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want \"setting: value\" lines, not a %s", root.Line, kindName(root.Kind))
	}
	byName := map[string]setting{}
	for _, s := range settings {
		byName[s.name] = s
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		s, ok := byName[key.Value]
		if !ok {
			return unknownSetting(key)
		}
		text, err := scalarText(val)
		if err == nil {
			err = s.set(c, text)
		}
		if err != nil {
			return fmt.Errorf("%s (line %d): %w", s.name, val.Line, err)
		}
	}
	return nil
}

// scalarText is a value as the text a flag would carry: a sequence (rtc-ip)
// becomes a comma list, null the empty string.
func scalarText(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("a list of plain values, not of a %s", kindName(item.Kind))
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a value, not a %s", kindName(n.Kind))
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// unknownSetting names the key and, when one is close, the setting meant:
// the same name with underscores (max_seats), or one or two letters off.
func unknownSetting(key *yaml.Node) error {
	err := fmt.Errorf("unknown setting %q (line %d)", key.Value, key.Line)
	if s, ok := closestSetting(key.Value); ok {
		err = fmt.Errorf("%w (did you mean %s?)", err, s)
	}
	return err
}

func closestSetting(name string) (string, bool) {
	norm := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	best, bestD := "", 3
	for _, s := range settings {
		if s.name == norm {
			return s.name, true
		}
		if d := editDistance(norm, s.name); d < bestD {
			best, bestD = s.name, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
