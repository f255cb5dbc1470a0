// Package all is the registry of production formats: the unit formats a
// job names, made for that job (a transcript's font, its fallback).
package all

import (
	"fmt"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/eml"
	"github.com/wxarchive/wxarchive/export/rsmf"
	"github.com/wxarchive/wxarchive/export/transcript"
)

// Formats makes the unit formats of job, in the job's order. The load
// files (dat, csv) are the runner's own.
func Formats(job *export.Job) ([]export.Format, error) {
	var out []export.Format
	for _, name := range job.Formats {
		switch name {
		case "dat", "csv":
		case "jsonl":
			out = append(out, export.JSONL{})
		case "rsmf":
			out = append(out, rsmf.Format{})
		case "eml":
			out = append(out, eml.Format{})
		case "html":
			out = append(out, transcript.HTML{})
		case "pdf":
			out = append(out, &transcript.PDF{Font: job.Font, Fallback: job.Fallback})
		default:
			return nil, fmt.Errorf("format %q is not available in this build", name)
		}
	}
	return out, nil
}
