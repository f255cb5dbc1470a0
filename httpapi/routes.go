package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
)

// Route is one registered route and what it takes to use it: the
// permission it needs, or — for the few routes that ask no credentials —
// why not. Every route is registered through route or public, so the
// table is complete: the authorization matrix test and docs/SECURITY.md's
// role matrix are generated from it.
type Route struct {
	Pattern string          `json:"pattern"`
	Need    auth.Permission `json:"need,omitempty"`
	// Public says why the route asks no credentials ("" for the others).
	Public string `json:"public,omitempty"`
	// Page marks a web page (package web): asked without a valid
	// session it redirects (303) to the login page with the return path
	// instead of answering 401, and a refusal is an HTML page (403).
	Page bool `json:"page,omitempty"`
}

// Routes lists every route the server answers, in registration order.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// route registers an API route needing perm: authenticated and authorized
// in one place (authorize) before h runs.
func (s *Server) route(pattern string, perm auth.Permission, h httpx.HandlerFunc) {
	if perm == "" {
		panic("httpapi: route " + pattern + " declares no permission")
	}
	s.routes = append(s.routes, Route{Pattern: pattern, Need: perm})
	s.mux.Handle(pattern, s.acting(perm, h))
}

// page registers a web page needing perm: authenticated and authorized
// like an API route (pageActing), its errors rendered as HTML.
func (s *Server) page(pattern string, perm auth.Permission, h httpx.HandlerFunc) {
	if perm == "" {
		panic("httpapi: page " + pattern + " declares no permission")
	}
	s.routes = append(s.routes, Route{Pattern: pattern, Need: perm, Page: true})
	s.mux.Handle(pattern, s.pageActing(perm, h))
}

// publicPage registers a web page that asks no credentials, saying why.
func (s *Server) publicPage(pattern, why string, h httpx.HandlerFunc) {
	if why == "" {
		panic("httpapi: public page " + pattern + " says not why")
	}
	s.routes = append(s.routes, Route{Pattern: pattern, Public: why, Page: true})
	s.mux.Handle(pattern, s.ui.Handle(h))
}

// public registers a route that asks no credentials, saying why.
func (s *Server) public(pattern, why string, h http.Handler) {
	if why == "" {
		panic("httpapi: public route " + pattern + " says not why")
	}
	s.routes = append(s.routes, Route{Pattern: pattern, Public: why})
	s.mux.Handle(pattern, h)
}

// Method and path of a pattern ("GET /api/v1/alerts" → GET, /api/v1/alerts;
// a pattern without a method answers every method).
func (r Route) Method() string {
	if m, _, ok := strings.Cut(r.Pattern, " "); ok {
		return m
	}
	return ""
}

// Path is the pattern's path.
func (r Route) Path() string {
	if _, p, ok := strings.Cut(r.Pattern, " "); ok {
		return p
	}
	return r.Pattern
}
