//go:build deps

// This file pins the chosen dependencies (DESIGN.md §8) while the packages
// that use them are written; it is never built.
package deps

import (
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "github.com/transparency-dev/formats/log"
	_ "github.com/transparency-dev/merkle"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/mod/sumdb/note"
	_ "golang.org/x/term"
	_ "golang.org/x/text/unicode/norm"
	_ "modernc.org/sqlite"
)
