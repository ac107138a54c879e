package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// usageText is the top of every help: the subcommands.
const usageText = `usage:
  seatsfu [serve] [flags]   run the server (the default; flags below)
  seatsfu token [flags]     print a signed access token (seatsfu token -h)
  seatsfu version           print the version (also: seatsfu --version)
  seatsfu help              print this help (also: seatsfu -h)
`

// printServeUsage writes the subcommands, then every serve setting with its
// flag, env var and default. The flags are registered with flag.Func (so
// Load can tell a flag given from one left alone), which shows no defaults;
// this does, from Defaults() as the YAML file would write them.
func printServeUsage(w io.Writer) {
	fmt.Fprint(w, usageText)
	fmt.Fprint(w, `
serve flags — each is also a YAML key of --config and an env var; per key a
flag beats the env var, which beats the file, which beats the default:
`)
	defaults := defaultTexts()
	for _, s := range settings {
		name, usage := flag.UnquoteUsage(&flag.Flag{Name: s.name, Usage: s.usage})
		fmt.Fprintf(w, "  --%s %s\n    \t%s", s.name, name, usage)
		if d := defaults[s.name]; d != "" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintf(w, " [$%s]\n", s.env())
	}
	fmt.Fprintf(w, "  --config file\n    \tYAML configuration file (configs/seatsfu.yaml lists every key) [$%s]\n", envConfig)
}

// defaultTexts is each setting's default as it would be written in the
// YAML file; settings whose default is empty are left out.
func defaultTexts() map[string]string {
	out := map[string]string{}
	raw, err := yaml.Marshal(Defaults())
	if err != nil {
		return out
	}
	var m map[string]any
	if yaml.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case string:
			if v != "" {
				out[k] = fmt.Sprintf("%q", v)
			}
		case []any:
			if len(v) > 0 {
				out[k] = strings.Trim(fmt.Sprint(v), "[]")
			}
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// isVersionFlag reports whether arg asks for the version the way most
// tools take it.
func isVersionFlag(arg string) bool { return arg == "--version" || arg == "-version" }
