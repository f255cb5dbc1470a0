package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"

	"github.com/wxarchive/wxarchive/journal"
)

// RequestTimeout bounds one request to a witness: a witness that hangs
// must not hold up publishing to the others, nor verify.
const RequestTimeout = 15 * time.Second

// httpClient is what the HTTP witnesses share: a base URL, an optional
// bearer token (sent, never printed), bounded bodies.
type httpClient struct {
	name   string
	base   *url.URL
	token  string
	client *http.Client
}

func newHTTPClient(name, rawURL, token string, c *http.Client) (*httpClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("witness URL %q: want http(s)://host/path", redactURL(rawURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("witness URL %s: credentials in a URL end up in logs; give a token instead", redactURL(rawURL))
	}
	if c == nil {
		c = &http.Client{Timeout: RequestTimeout}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return &httpClient{name: name, base: u, token: token, client: c}, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// url joins path segments (each already escaped) to the base.
func (h *httpClient) url(segments ...string) string {
	u := *h.base
	u.RawPath = h.base.EscapedPath() + strings.Join(segments, "/")
	p, _ := url.PathUnescape(u.RawPath)
	u.Path = p
	return u.String()
}

type response struct {
	status int
	ctype  string
	body   []byte
}

func (h *httpClient) do(ctx context.Context, method, u string, body []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &UnreachableError{Witness: h.name, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	req.Header.Set("User-Agent", "wxarchive-witness-client")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, &UnreachableError{Witness: h.name, Err: scrub(err, h.token)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxListing+1))
	if err != nil {
		return nil, &UnreachableError{Witness: h.name, Err: fmt.Errorf("%s %s: reading the answer: %v", method, redactURL(u), scrub(err, h.token))}
	}
	if len(b) > MaxListing {
		return nil, &UnreachableError{Witness: h.name, Err: fmt.Errorf("%s %s: answer longer than %d bytes", method, redactURL(u), MaxListing)}
	}
	return &response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}, nil
}

// scrub removes a secret from an error's text (a transport error can echo
// what it was given).
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[token]"))
}

// brief is a witness's answer shortened and made printable for a report.
func brief(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
}

func (h *httpClient) unexpected(method, u string, r *response) error {
	return &UnreachableError{Witness: h.name, Err: fmt.Errorf("%s %s: HTTP %d: %s", method, redactURL(u), r.status, h.brief(r.body))}
}

// brief is brief with the token removed: a witness may echo a request.
func (h *httpClient) brief(b []byte) string {
	if h.token != "" {
		b = bytes.ReplaceAll(b, []byte(h.token), []byte("[token]"))
	}
	return brief(b)
}

// HTTPWitness is a plain HTTP checkpoint store (docs/FORMAT.md §9.2):
// POST a checkpoint note, GET the newest, a listing, or one size. Like a
// directory it does not check consistency itself (it has no proof), so the
// publisher checks against the newest checkpoint it holds first.
type HTTPWitness struct {
	h *httpClient
}

var _ Witness = (*HTTPWitness)(nil)

// NewHTTPWitness returns the store at base URL (its origin directories are
// base/<escaped origin>/). token, if not empty, is sent as a bearer token;
// client nil means a default client with RequestTimeout.
func NewHTTPWitness(name, base, token string, client *http.Client) (*HTTPWitness, error) {
	h, err := newHTTPClient(name, base, token, client)
	if err != nil {
		return nil, err
	}
	return &HTTPWitness{h: h}, nil
}

func (w *HTTPWitness) Name() string { return w.h.name }

func (w *HTTPWitness) latest(ctx context.Context, origin string) (*Entry, error) {
	dir, err := OriginDir(origin)
	if err != nil {
		return nil, err
	}
	u := w.h.url(dir, LatestFile)
	r, err := w.h.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	switch r.status {
	case http.StatusOK:
		e, err := ParseNote(r.body)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", redactURL(u), err)
		}
		return e, nil
	case http.StatusNotFound:
		return nil, nil
	}
	return nil, w.h.unexpected("GET", u, r)
}

// Publish posts cp after proving it consistent with the newest checkpoint
// the store holds.
func (w *HTTPWitness) Publish(ctx context.Context, cp *journal.Checkpoint, log Log) (Ack, error) {
	held, err := w.latest(ctx, cp.Origin)
	if err != nil {
		return Ack{}, err
	}
	done, err := checkAppend(ctx, w.h.name, held, cp, log)
	if err != nil {
		return Ack{Size: held.Size}, err
	}
	if done {
		return Ack{Size: cp.Size}, nil
	}
	dir, _ := OriginDir(cp.Origin)
	u := w.h.url(dir, "")
	r, err := w.h.do(ctx, http.MethodPost, u, cp.Note)
	if err != nil {
		return Ack{}, err
	}
	refuse := func(reason string) (Ack, error) {
		return Ack{}, &RefusedError{Witness: w.h.name, Reason: reason, Size: cp.Size, Detail: fmt.Sprintf("HTTP %d: %s", r.status, w.h.brief(r.body))}
	}
	switch r.status {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent:
		return Ack{Size: cp.Size}, nil
	case http.StatusConflict:
		// Another publisher (or a restored archive) got there first with a
		// larger or different tree.
		return refuse(ReasonRollback)
	case http.StatusForbidden:
		return refuse(ReasonSignature)
	case http.StatusNotFound:
		return refuse(ReasonUnknownLog)
	}
	return Ack{}, w.h.unexpected("POST", u, r)
}

// MaxHTTPReads bounds the checkpoints read from a plain HTTP store in one
// Witnessed call: one request each, and the newest matters most.
const MaxHTTPReads = 200

// Witnessed reads the listing and the checkpoints it names (sampled to
// max, at most MaxHTTPReads), and latest.
func (w *HTTPWitness) Witnessed(ctx context.Context, origin string, max int) ([]Witnessed, error) {
	dir, err := OriginDir(origin)
	if err != nil {
		return nil, err
	}
	u := w.h.url(dir, "")
	r, err := w.h.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusNotFound {
		return nil, nil
	}
	if r.status != http.StatusOK {
		return nil, w.h.unexpected("GET", u, r)
	}
	sizes, err := ParseListing(r.body)
	if err != nil {
		return nil, &UnreachableError{Witness: w.h.name, Err: fmt.Errorf("GET %s: %w", redactURL(u), err)}
	}
	obj := "witness:" + w.h.name
	if max <= 0 || max > MaxHTTPReads {
		max = MaxHTTPReads
	}
	var out []Witnessed
	for _, n := range sample(sizes, max) {
		wi := Witnessed{Object: fmt.Sprintf("%s/%d", obj, n), Size: n}
		su := w.h.url(dir, fmt.Sprint(n))
		r, err := w.h.do(ctx, http.MethodGet, su, nil)
		switch {
		case err != nil:
			return nil, err
		case r.status != http.StatusOK:
			wi.Err = fmt.Errorf("%w: listed size %d: HTTP %d", ErrMalformed, n, r.status)
		default:
			if e, err := ParseNote(r.body); err != nil {
				wi.Err = err
			} else if e.Size != n {
				wi.Err = fmt.Errorf("%w: listed as size %d, holds %d", ErrMalformed, n, e.Size)
			} else {
				wi.Note = e.Note
			}
		}
		out = append(out, wi)
	}
	latest, err := w.latest(ctx, origin)
	switch {
	case errors.Is(err, ErrMalformed):
		out = append(out, Witnessed{Object: obj + "/" + LatestFile, Err: err})
	case err != nil:
		return nil, err
	case latest != nil && (len(out) == 0 || !bytes.Equal(latest.Note, out[len(out)-1].Note)):
		out = append(out, Witnessed{Object: obj + "/" + LatestFile, Size: latest.Size, Note: latest.Note})
	}
	return out, nil
}

// C2SPWitness is a C2SP tlog-witness (https://c2sp.org/tlog-witness): it
// checks each checkpoint against the one it last cosigned with the
// consistency proof sent along, refuses a smaller or inconsistent tree
// itself, and answers with its cosignature. Checkpoints are read back
// through the wxarchive extension GET <prefix>/cosigned/<escaped origin>
// (the latest cosigned checkpoint), which `wxarchive witness serve`
// provides; tlog-witness itself leaves reads undefined.
type C2SPWitness struct {
	h         *httpClient
	verifiers note.Verifiers
	// held is the size the witness last acknowledged (a 409 tells the
	// real one when this process has not talked to it yet).
	held chan uint64
}

var _ Witness = (*C2SPWitness)(nil)

// NewC2SPWitness returns the witness with submission prefix base whose
// cosignatures verify under one of keys (cosignature/v1 verifier keys).
func NewC2SPWitness(name, base, token string, keys []string, client *http.Client) (*C2SPWitness, error) {
	h, err := newHTTPClient(name, base, token, client)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("witness %s: a C2SP witness needs its public key to check its cosignatures", name)
	}
	var vs []note.Verifier
	for _, k := range keys {
		v, err := NewCosignatureVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("witness %s: key: %w", name, err)
		}
		vs = append(vs, v)
	}
	w := &C2SPWitness{h: h, verifiers: note.VerifierList(vs...), held: make(chan uint64, 1)}
	w.held <- 0
	return w, nil
}

func (w *C2SPWitness) Name() string { return w.h.name }

// maxConflicts bounds the 409 round trips of one publication: the first
// tells the size held; another one means someone else is publishing too.
const maxConflicts = 3

// Publish submits cp with a proof from the size the witness holds.
func (w *C2SPWitness) Publish(ctx context.Context, cp *journal.Checkpoint, log Log) (Ack, error) {
	var old uint64
	select {
	case old = <-w.held:
	case <-ctx.Done():
		return Ack{}, &UnreachableError{Witness: w.h.name, Err: ctx.Err()}
	}
	defer func() { w.held <- old }()
	refuse := func(reason string, held uint64, format string, a ...any) (Ack, error) {
		return Ack{Size: held}, &RefusedError{Witness: w.h.name, Reason: reason, Size: cp.Size, Held: held, Detail: fmt.Sprintf(format, a...)}
	}
	u := w.h.url("add-checkpoint")
	for range maxConflicts {
		if old > cp.Size {
			return refuse(ReasonRollback, old, "the witness cosigned a tree of %d leaves; the archive's newest has %d", old, cp.Size)
		}
		var proof [][]byte
		if old > 0 && old < cp.Size {
			p, err := log.ConsistencyProof(ctx, old, cp.Size)
			if err != nil {
				return Ack{}, fmt.Errorf("witness %s: consistency proof %d→%d: %w", w.h.name, old, cp.Size, err)
			}
			proof = p
		}
		body := (&AddCheckpoint{Old: old, Proof: proof, Checkpoint: cp.Note}).Marshal()
		r, err := w.h.do(ctx, http.MethodPost, u, body)
		if err != nil {
			return Ack{}, err
		}
		switch r.status {
		case http.StatusOK:
			cosigned, err := w.openCosigned(append(bytes.Clone(cp.Note), r.body...))
			if err != nil {
				return Ack{}, &UnreachableError{Witness: w.h.name, Err: fmt.Errorf("POST %s: %w", redactURL(u), err)}
			}
			old = cp.Size
			return Ack{Size: cp.Size, Cosigned: cosigned}, nil
		case http.StatusConflict:
			n, err := ParseSize(r.body)
			if err != nil || !strings.HasPrefix(r.ctype, "text/x.tlog.size") {
				return refuse(ReasonInconsistent, old, "HTTP 409: %s", w.h.brief(r.body))
			}
			if n == old {
				// Same size, another root.
				return refuse(ReasonInconsistent, n, "the witness cosigned another root for %d leaves", n)
			}
			old = n
			continue
		case http.StatusUnprocessableEntity:
			return refuse(ReasonInconsistent, old, "the witness's tree of %d leaves is not a prefix of the archive's (HTTP 422: %s)", old, w.h.brief(r.body))
		case http.StatusForbidden:
			return refuse(ReasonSignature, old, "the witness does not trust the archive's key (HTTP 403: %s)", w.h.brief(r.body))
		case http.StatusNotFound:
			return refuse(ReasonUnknownLog, old, "the witness does not witness origin %s (HTTP 404)", cp.Origin)
		default:
			return Ack{}, w.h.unexpected("POST", u, r)
		}
	}
	return Ack{}, &UnreachableError{Witness: w.h.name, Err: fmt.Errorf("the witness's size kept changing (%d conflicts): another publisher?", maxConflicts)}
}

// openCosigned checks that a note carries a cosignature of the witness
// and returns it.
func (w *C2SPWitness) openCosigned(b []byte) ([]byte, error) {
	if _, err := ParseNote(b); err != nil {
		return nil, err
	}
	if _, err := note.Open(b, w.verifiers); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCosignature, err)
	}
	return b, nil
}

// Witnessed reads the latest cosigned checkpoint of origin.
func (w *C2SPWitness) Witnessed(ctx context.Context, origin string, _ int) ([]Witnessed, error) {
	dir, err := OriginDir(origin)
	if err != nil {
		return nil, err
	}
	u := w.h.url("cosigned", dir)
	r, err := w.h.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	switch r.status {
	case http.StatusNotFound:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, w.h.unexpected("GET", u, r)
	}
	wi := Witnessed{Object: "witness:" + w.h.name + "/" + LatestFile}
	e, err := ParseNote(r.body)
	if err != nil {
		wi.Err = err
		return []Witnessed{wi}, nil
	}
	wi.Size = e.Size
	wi.Object = fmt.Sprintf("witness:%s/%d", w.h.name, e.Size)
	if _, err := w.openCosigned(r.body); err != nil {
		wi.Err = err
	}
	wi.Note = e.Note
	return []Witnessed{wi}, nil
}
