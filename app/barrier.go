package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// barrier is what of the archive's content a principal may see: all of
// it, or the messages a query selects — a reviewer's departments (an
// information barrier), a regulator's scope. Routes check permissions;
// a barrier narrows what a permitted use case returns.
type barrier struct {
	all   bool
	depts map[string]bool // a reviewer's departments (alerts)
	query textindex.Node  // the messages within reach (nil with all)
	what  string          // for a refusal: "your departments (…)", "your scope"
}

// unrestricted roles read every message.
var unrestricted = []auth.Role{auth.Principal, auth.Auditor}

// barrierOf is p's barrier. The CLI (no identity) acts as the owner of its
// archive directory and sees everything; so do principals and auditors. A
// reviewer sees the messages with a participant in one of their
// departments; a regulator those within their scope; one holding both
// roles, either.
func (a *App) barrierOf(p Principal) (*barrier, error) {
	id := p.Identity
	if id == nil || slices.ContainsFunc(unrestricted, id.Has) {
		return &barrier{all: true}, nil
	}
	var parts []textindex.Node
	var what []string
	b := &barrier{depts: map[string]bool{}}
	if id.Has(auth.Reviewer) && len(id.Departments) > 0 {
		var or []textindex.Node
		for _, d := range id.Departments {
			b.depts[d] = true
			or = append(or, &textindex.Field{Name: "department", Value: d})
		}
		parts = append(parts, &textindex.Or{Nodes: or})
		what = append(what, "your departments ("+strings.Join(id.Departments, ", ")+")")
	}
	if id.Has(auth.Regulator) && id.Scope != nil {
		q, err := a.scopeQuery(id.Scope)
		if err != nil {
			return nil, err
		}
		parts = append(parts, q)
		what = append(what, "your scope")
	}
	switch len(parts) {
	case 0:
		return nil, &auth.ForbiddenError{User: id.User, Need: auth.PermContent,
			Reason: "no departments or scope are assigned to you, so no message is within your reach"}
	case 1:
		b.query = parts[0]
	default:
		b.query = &textindex.Or{Nodes: parts}
	}
	b.what = strings.Join(what, " or ")
	return b, nil
}

// scopeQuery is a regulator's scope as a query: its search, its period
// and its conversations, all of them.
func (a *App) scopeQuery(s *auth.Scope) (textindex.Node, error) {
	var and []textindex.Node
	if s.Query != "" {
		q, err := textindex.Parse(s.Query, textindex.ParseOptions{Location: a.Location()})
		if err != nil {
			return nil, fmt.Errorf("the regulator's scope: %w", err)
		}
		and = append(and, q)
	}
	if !s.From.IsZero() || !s.To.IsZero() {
		f := &textindex.Field{Name: "on", Value: "scope", From: -1 << 62, To: 1 << 62}
		if !s.From.IsZero() {
			f.From = s.From.UnixMilli()
		}
		if !s.To.IsZero() {
			f.To = s.To.UnixMilli()
		}
		and = append(and, f)
	}
	if len(s.Conversations) > 0 {
		var or []textindex.Node
		for _, c := range s.Conversations {
			or = append(or, &textindex.Field{Name: "conversation", Value: c})
		}
		and = append(and, &textindex.Or{Nodes: or})
	}
	if len(and) == 0 {
		// A scope that limits nothing is a mistake, not an open door.
		return nil, &auth.ForbiddenError{Need: auth.PermContent, Reason: "your scope names no query, period or conversation"}
	}
	return &textindex.And{Nodes: and}, nil
}

// narrow is q within the barrier (q itself without one).
func (b *barrier) narrow(q textindex.Node) textindex.Node {
	if b.all {
		return q
	}
	return &textindex.And{Nodes: []textindex.Node{b.query, q}}
}

// alert reports whether an alert of an employee in dept is within reach:
// alerts follow the departments, a regulator has no alerts.
func (b *barrier) alert(dept string) bool { return b.all || b.depts[dept] }

// within refuses, naming the first, any of serials outside the barrier.
// It asks the store with the search's own rules (SearchRequest.Serials).
func (a *App) within(ctx context.Context, p Principal, b *barrier, serials []uint64) error {
	if b.all || len(serials) == 0 {
		return nil
	}
	for start := 0; start < len(serials); start += store.MaxSearchSerials {
		chunk := serials[start:min(start+store.MaxSearchSerials, len(serials))]
		page, err := a.d.Store.Search(ctx, store.SearchRequest{Query: b.query, Serials: chunk, Limit: len(chunk), Sort: store.SortTime})
		if err != nil {
			return err
		}
		in := map[uint64]bool{}
		for _, h := range page.Hits {
			in[h.Serial] = true
		}
		for _, s := range chunk {
			if !in[s] {
				return &auth.ForbiddenError{User: p.User, Need: auth.PermContent,
					Reason: fmt.Sprintf("message serial %d is outside %s", s, b.what)}
			}
		}
	}
	return nil
}

// alertBarrier is p's barrier for alerts: a reviewer's departments, or
// everything for the roles that see every message.
func (a *App) alertBarrier(p Principal) (*barrier, error) {
	if p.Identity != nil && !p.Identity.Has(auth.Reviewer) && !slices.ContainsFunc(unrestricted, p.Identity.Has) {
		return nil, &auth.ForbiddenError{User: p.User, Need: auth.PermAlertsRead}
	}
	return a.barrierOf(p)
}

// alertsWithin refuses, naming the first, any alert outside p's reach.
func (a *App) alertsWithin(ctx context.Context, p Principal, ids []uint64) error {
	b, err := a.alertBarrier(p)
	if err != nil || b.all {
		return err
	}
	for _, id := range ids {
		al, err := a.d.Store.Alert(ctx, id)
		if err != nil {
			continue // the action reports a missing alert as it always has
		}
		if !b.alert(al.Department) {
			return &auth.ForbiddenError{User: p.User, Need: auth.PermAlertsRead,
				Reason: fmt.Sprintf("alert %d is in department %q, outside %s", id, al.Department, b.what)}
		}
	}
	return nil
}
