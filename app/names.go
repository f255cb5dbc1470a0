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
// serves one request: load reads the whole directory history of a page's
// ids in one query, and each name is then picked by time as
// store.DirectoryReader.Directory picks it.
type namer struct {
	st      store.DirectoryReader
	history map[string][]store.ParticipantRow // by id, in valid_from then journal order
}

func newNamer(st store.DirectoryReader) *namer {
	return &namer{st: st, history: map[string][]store.ParticipantRow{}}
}

// load reads the history of the ids not read yet: every id a view will
// name, including a direct conversation's participants.
func (n *namer) load(ctx context.Context, ids ...string) error {
	var todo []string
	seen := map[string]bool{}
	add := func(id string) {
		if _, ok := n.history[id]; !ok && id != "" && !seen[id] {
			seen[id] = true
			todo = append(todo, id)
		}
	}
	for _, id := range ids {
		if rest, direct := strings.CutPrefix(id, "direct:"); direct {
			for _, p := range strings.Split(rest, "|") {
				add(p)
			}
			continue
		}
		add(id)
	}
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), store.MaxDirectoryIDs)]
		todo = todo[len(chunk):]
		for _, id := range chunk {
			n.history[id] = nil // known to have no facts unless some arrive
		}
		if err := n.st.DirectoryHistory(ctx, chunk, func(p store.ParticipantRow) error {
			n.history[p.ID] = append(n.history[p.ID], p)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// name is id's directory name at, or "" when the directory has none.
func (n *namer) name(ctx context.Context, id string, at archive.Time) (string, error) {
	if id == "" {
		return "", nil
	}
	if err := n.load(ctx, id); err != nil {
		return "", err
	}
	// The latest valid_from not after at; a later journal index wins a
	// tie (the history is in that order, so the last match is it).
	name := ""
	for _, p := range n.history[id] {
		if p.ValidFrom.After(at.Time) {
			break
		}
		name = p.Name
	}
	return name, nil
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
	if err := n.load(ctx, ids...); err != nil {
		return nil, err
	}
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
