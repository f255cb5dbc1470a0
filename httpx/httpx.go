// Package httpx is what every HTTP surface of wxarchive shares (the JSON
// API now, the web interface next): one mapping from the application's
// errors to status codes, request parsing that names the parameter at
// fault, and JSON responses. Handlers are thin: they parse, call app/ and
// return an error to Handle.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Problem is an error answered as {"error": {"code", "message"}} with a
// status; Extra fields are added beside "error" (a policy's problems).
type Problem struct {
	Status  int
	Code    string
	Message string
	Extra   map[string]any
	// RetryAfter, in seconds, is sent as Retry-After (push-back).
	RetryAfter int
	// Need is the permission a 403 lacked (error.need in the body).
	Need string
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// Errorf returns a Problem.
func Errorf(status int, code, format string, a ...any) *Problem {
	return &Problem{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// BadParam is a query parameter the caller must change.
func BadParam(format string, a ...any) *Problem {
	return Errorf(http.StatusBadRequest, "bad_parameter", format, a...)
}

// HandlerFunc is a handler that returns its error to Handle's mapping.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h: an error it returns is answered once, by Write.
func Handle(logger *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			Write(w, r, logger, err)
		}
	})
}

// RetryAfterSeconds is what a saturated writer tells clients to wait.
const RetryAfterSeconds = 2

// ProblemOf maps an error to its answer — the one place where the
// application's errors become status codes. It is nil when nothing should
// be written (the client went away).
func ProblemOf(r *http.Request, err error) *Problem {
	var (
		p   *Problem
		inv *app.InvalidError
		se  *app.SearchError
		pe  *app.PolicyError
		ce  *app.ConflictError
		le  *archive.LimitError
		mbe *http.MaxBytesError
		bte *BodyTimeoutError
		sat *SaturatedError
		fe  *auth.ForbiddenError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &fe):
		// Which permission is missing, or which barrier applies: the
		// caller is known, so this tells them nothing they may not see.
		return &Problem{Status: http.StatusForbidden, Code: "forbidden", Message: fe.Error(), Need: string(fe.Need)}
	case errors.Is(err, auth.ErrUnauthenticated):
		// One answer for every bad credential (auth.Authenticator's
		// contract): never which part failed.
		return &Problem{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "authentication required: a valid session, or Authorization: Bearer <token>"}
	case r != nil && r.Context().Err() != nil && errors.Is(err, context.Canceled):
		return nil
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", mbe.Limit)
	case errors.As(err, &bte):
		return Errorf(http.StatusRequestTimeout, "body_timeout", "%v", bte)
	case errors.As(err, &sat):
		return &Problem{Status: http.StatusServiceUnavailable, Code: "busy", Message: sat.Error(), RetryAfter: RetryAfterSeconds}
	case errors.Is(err, syscall.ENOSPC):
		// Before the generic 5xx: the operator must learn that the disk
		// is full, and the client that nothing was acknowledged.
		return &Problem{Status: http.StatusInsufficientStorage, Code: "insufficient_storage",
			Message:    fmt.Sprintf("no space left on the device holding %s; nothing of this request was acknowledged — retry once space is freed", StorageOf(err)),
			RetryAfter: RetryAfterSeconds}
	case errors.As(err, &pe):
		return policyProblem(pe)
	case errors.As(err, &se):
		return Errorf(http.StatusBadRequest, "bad_"+codeWord(se.Field), "%v", se)
	case errors.As(err, &inv):
		code := inv.Code
		if code == "" {
			code = "bad_" + codeWord(inv.Field)
		}
		return Errorf(http.StatusBadRequest, code, "%v", inv)
	case errors.As(err, &le):
		return Errorf(http.StatusBadRequest, "bad_"+codeWord(le.Field), "%v", le)
	case errors.As(err, &ce):
		return Errorf(http.StatusConflict, "conflict", "%v", ce)
	case errors.Is(err, app.ErrNotFound):
		return Errorf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, ingest.ErrPushback):
		return &Problem{Status: http.StatusServiceUnavailable, Code: "busy", Message: err.Error(), RetryAfter: RetryAfterSeconds}
	case errors.Is(err, app.ErrReadOnly), errors.Is(err, app.ErrUnavailable), errors.Is(err, ingest.ErrClosed):
		return Errorf(http.StatusServiceUnavailable, "not_ready", "archive is closing or not writable")
	case errors.Is(err, store.ErrReindexRequired):
		return Errorf(http.StatusServiceUnavailable, "reindex_required", "%v", err)
	case errors.Is(err, journal.ErrLeafRefused):
		// An input past every edge check that the journal still cannot
		// hold: refused, nothing written.
		return Errorf(http.StatusRequestEntityTooLarge, "too_large", "%v", err)
	}
	return &Problem{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

// SpoolError is a failure of the temporary storage a server keeps a
// request body in while it archives it.
type SpoolError struct{ Err error }

func (e *SpoolError) Error() string { return "request spool: " + e.Err.Error() }
func (e *SpoolError) Unwrap() error { return e.Err }

// StorageOf names, for a message, which storage an error comes from: the
// blob store (its typed error names the operation and the blob), the
// request spool, or else the index database (the engine's commits).
func StorageOf(err error) string {
	var be *blob.Error
	var se *SpoolError
	switch {
	case errors.As(err, &be):
		return fmt.Sprintf("the blob store (%s of blob %s)", be.Op, be.ID.Short())
	case errors.As(err, &se):
		return "the request spool (the archive directory)"
	}
	return "the index database"
}

// codeWord makes a field name ("alerts[3]") a code word ("alerts").
func codeWord(field string) string {
	if i := strings.IndexAny(field, "[."); i > 0 {
		field = field[:i]
	}
	return field
}

func policyProblem(pe *app.PolicyError) *Problem {
	type problem struct {
		Line   int    `json:"line"`
		Field  string `json:"field"`
		Reason string `json:"reason"`
	}
	probs := []problem{}
	for _, pr := range pe.Problems {
		probs = append(probs, problem{pr.Line, pr.Field, pr.Reason})
	}
	msg := pe.Error()
	if n := len(pe.Problems); n > 0 {
		first := pe.Problems[0]
		word := "problems"
		if n == 1 {
			word = "problem"
		}
		msg = fmt.Sprintf("the policy does not validate (%d %s); line %d: %s: %s", n, word, first.Line, first.Field, first.Reason)
	}
	return &Problem{Status: http.StatusUnprocessableEntity, Code: "invalid_policy", Message: msg, Extra: map[string]any{"problems": probs}}
}

// Write answers err (see ProblemOf); an internal error is logged with the
// request, never shown.
func Write(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	p := ProblemOf(r, err)
	if p == nil {
		return
	}
	if p.Status >= 500 && logger != nil {
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wxarchive"`)
	}
	e := map[string]string{"code": p.Code, "message": p.Message}
	if p.Need != "" {
		e["need"] = p.Need
	}
	body := map[string]any{"error": e}
	for k, v := range p.Extra {
		body[k] = v
	}
	JSON(w, p.Status, body)
}

// JSON writes v as the response, HTML left unescaped (the API's JSON is
// the CLI's: 保证收益 <b> reads the same in both).
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// CheckParams refuses a parameter the endpoint does not know, or one given
// twice: a misspelt filter silently ignored would show the wrong records.
func CheckParams(v url.Values, allowed ...string) error {
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return BadParam("unknown parameter %q (this endpoint takes none)", name)
			}
			return BadParam("unknown parameter %q (expected %s)", name, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return BadParam("parameter %q given %d times", name, len(vals))
		}
	}
	return nil
}

// Uint parses a non-negative integer parameter.
func Uint(name, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, BadParam("parameter %q: want a non-negative integer, got %q", name, v)
	}
	return n, nil
}

// Int parses an integer parameter in [lo, hi].
func Int(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, BadParam("%s: want a number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

// Bool parses a true/false parameter.
func Bool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, BadParam("%s: expected true or false, not %q", name, v)
	}
	return b, nil
}

// ReadBody reads a body of at most limit bytes, which must be UTF-8 and of
// one of the media types.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, types ...string) ([]byte, error) {
	if err := ContentType(r, types...); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", limit)
	case errors.Is(err, ErrBodyTimeout):
		return nil, err
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, "malformed_body", "reading the request body: %v", err)
	case !utf8.Valid(body):
		return nil, Errorf(http.StatusBadRequest, "malformed_body", "the request body is not UTF-8")
	}
	return body, nil
}

// ContentType refuses a request whose media type is not one of types, or
// whose charset is not UTF-8.
func ContentType(r *http.Request, types ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(types, mt) {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q: want %s", ct, strings.Join(types, ", "))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type charset %q: want utf-8", cs)
	}
	return nil
}

// DecodeJSON decodes one JSON object into v, refusing unknown fields,
// wrong types (naming the field) and trailing data; what names the object
// in messages ("an action object").
func DecodeJSON(body []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Errorf(http.StatusBadRequest, "malformed_body", "%s: want %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return Errorf(http.StatusBadRequest, "malformed_body", "the body is not %s: %v", what, err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "malformed_body", "data after %s", what)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "uint64", "int", "int64", "uint":
		return "a non-negative integer"
	case "slice":
		return "a list"
	case "string":
		return "a string"
	}
	return goKind
}
