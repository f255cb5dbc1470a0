package app

import (
	"context"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// namer gives people and conversations their directory names as they were
// at a moment (participant.updated facts are time-valid), for the views
// that show ids: ids stay beside the names, never replaced. One namer
// serves one request; it remembers each id's name for the day asked, so a
// page of hits costs a lookup per person and day, not per hit.
type namer struct {
	st    store.DirectoryReader
	cache map[string]string
}

func newNamer(st store.DirectoryReader) *namer {
	return &namer{st: st, cache: map[string]string{}}
}

// name is id's directory name at, or "" when the directory has none.
func (n *namer) name(ctx context.Context, id string, at archive.Time) (string, error) {
	if id == "" {
		return "", nil
	}
	key := id + "\x00" + at.Time.UTC().Format("2006-01-02")
	if v, ok := n.cache[key]; ok {
		return v, nil
	}
	p, ok, err := n.st.Directory(ctx, id, at)
	if err != nil {
		return "", err
	}
	v := ""
	if ok {
		v = p.Name
	}
	n.cache[key] = v
	return v, nil
}

// conversation names a conversation: a room by its directory name, a
// direct conversation by its participants' names ("张伟、刘总"), "" when
// nothing is known.
func (n *namer) conversation(ctx context.Context, conv string, at archive.Time) (string, error) {
	ids, direct := strings.CutPrefix(conv, "direct:")
	if !direct {
		return n.name(ctx, conv, at)
	}
	var names []string
	known := false
	for _, id := range strings.Split(ids, "|") {
		v, err := n.name(ctx, id, at)
		if err != nil {
			return "", err
		}
		if v == "" {
			v = id
		} else {
			known = true
		}
		names = append(names, v)
	}
	if !known {
		return "", nil
	}
	return strings.Join(names, "、"), nil
}

// names maps each id to its name at at (only the ids the directory names).
func (n *namer) names(ctx context.Context, at archive.Time, ids ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		v, err := n.name(ctx, id, at)
		if err != nil {
			return nil, err
		}
		if v != "" {
			out[id] = v
		}
	}
	return out, nil
}
