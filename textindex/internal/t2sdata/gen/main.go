// Command gen writes textindex/t2s_table.go from OpenCC's dictionary files.
// Run from the textindex directory:
//
//	go run ./internal/t2sdata/gen -dict /path/to/OpenCC/data/dictionary
//
// (the directory holding TSCharacters.txt, TWVariantsRev.txt and
// HKVariantsRev.txt, from an OpenCC release or checkout).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wxarchive/wxarchive/textindex/internal/t2sdata"
)

func main() {
	dict := flag.String("dict", "", "OpenCC dictionary directory")
	out := flag.String("o", "t2s_table.go", "output file")
	flag.Parse()
	if *dict == "" {
		fmt.Fprintln(os.Stderr, "gen: -dict DIR is required")
		os.Exit(2)
	}
	t, err := t2sdata.Derive(*dict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, t2sdata.Render(t), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
