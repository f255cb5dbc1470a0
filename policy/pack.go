package policy

import (
	"embed"
	"errors"
	"io/fs"
	"sort"
)

// The default policy pack, in English and Chinese, that `init` installs
// enabled: guarantees of returns, off-channel requests, record
// destruction, insider cues, gifts, complaints, recalled messages and the
// detectors. Operators disable or edit them like any policy.
//
//go:embed pack/*.yaml
var pack embed.FS

// DefaultPack returns the default policies, sorted by name.
func DefaultPack() ([]*Policy, error) {
	ents, err := fs.ReadDir(pack, "pack")
	if err != nil {
		return nil, err
	}
	var out []*Policy
	var errs []error
	for _, e := range ents {
		b, err := pack.ReadFile("pack/" + e.Name())
		if err != nil {
			return nil, err
		}
		p, err := Parse(e.Name(), b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}

// DefaultPackFiles returns the pack's files by name (for init to install).
func DefaultPackFiles() (map[string][]byte, error) {
	ents, err := fs.ReadDir(pack, "pack")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := pack.ReadFile("pack/" + e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}
