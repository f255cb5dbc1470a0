package witness

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/wxarchive/wxarchive/journal"
)

// LogKey is a log a witness server accepts: its origin line and the note
// verifier key its checkpoints are signed with.
type LogKey struct {
	Origin   string
	Verifier note.Verifier
}

// ParseLogKey parses "ORIGIN=PUBLICKEY" (the origin and public_key of an
// archive's wxarchive.yaml). The origin must not contain '='.
func ParseLogKey(s string) (LogKey, error) {
	origin, key, ok := strings.Cut(s, "=")
	if !ok || origin == "" || key == "" {
		return LogKey{}, fmt.Errorf("log %q: want ORIGIN=PUBLICKEY", s)
	}
	if _, err := OriginDir(origin); err != nil {
		return LogKey{}, fmt.Errorf("log origin %q: %w", origin, err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return LogKey{}, fmt.Errorf("log %s public key: %v", origin, err)
	}
	return LogKey{Origin: origin, Verifier: v}, nil
}

// Server is a witness other hosts publish to: a C2SP tlog-witness
// (POST /add-checkpoint, cosigning with its own key) and a plain HTTP
// checkpoint store (/checkpoints/…), for the logs it is configured with.
// Its state is a directory (docs/FORMAT.md §9.3): c2sp/<origin>/ holds
// every checkpoint it cosigned (with its cosignature) and latest;
// checkpoints/<origin>/ the plain store. Each check and the write it
// allows happen under the origin's file lock, so concurrent requests, even
// from two server processes, cannot roll the state back.
type Server struct {
	dir      string
	logs     map[string]note.Verifier
	cosigner *Cosigner
	logger   *slog.Logger
}

// Subdirectories of a server's state directory.
const (
	C2SPDir  = "c2sp"
	PlainDir = "checkpoints"
)

// NewServer returns a witness server keeping its state in dir.
func NewServer(dir string, logs []LogKey, cosigner *Cosigner, logger *slog.Logger) (*Server, error) {
	if cosigner == nil {
		return nil, errors.New("witness server: no cosigning key")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: dir, logs: map[string]note.Verifier{}, cosigner: cosigner, logger: logger}
	for _, l := range logs {
		if _, dup := s.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness server: log %s given twice", l.Origin)
		}
		s.logs[l.Origin] = l.Verifier
	}
	for _, d := range []string{C2SPDir, PlainDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Handler serves the witness's HTTP interface.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", s.addCheckpoint)
	mux.HandleFunc("GET /cosigned/{origin}", s.cosigned)
	mux.HandleFunc("POST /checkpoints/{origin}/{$}", s.plainPost)
	mux.HandleFunc("GET /checkpoints/{origin}/{$}", s.plainList)
	mux.HandleFunc("GET /checkpoints/{origin}/{name}", s.plainGet)
	return mux
}

func text(w http.ResponseWriter, status int, ctype, body string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func fail(w http.ResponseWriter, status int, format string, a ...any) {
	text(w, status, "text/plain; charset=utf-8", fmt.Sprintf(format, a...)+"\n")
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		fail(w, http.StatusRequestEntityTooLarge, "body over %d bytes", limit)
		return nil, false
	case err != nil:
		fail(w, http.StatusBadRequest, "reading the body: %v", err)
		return nil, false
	}
	return b, true
}

// open parses and authenticates a checkpoint note: 400 malformed, 404
// unknown origin, 403 no signature of the origin's key.
func (s *Server) open(w http.ResponseWriter, b []byte) (*Entry, bool) {
	e, err := ParseNote(b)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return nil, false
	}
	v, ok := s.logs[e.Origin]
	if !ok {
		fail(w, http.StatusNotFound, "this witness does not witness origin %q", e.Origin)
		return nil, false
	}
	if _, err := note.Open(b, note.VerifierList(v)); err != nil {
		fail(w, http.StatusForbidden, "the checkpoint is not signed by the key this witness trusts for %s", e.Origin)
		return nil, false
	}
	return e, true
}

// errSize carries a 409's size body out of a store check.
type errSize struct {
	held     uint64
	why      string
	evidence bool // the log signed a smaller or different tree than one cosigned
}

func (e *errSize) Error() string { return e.why }

type errStatus struct {
	status int
	why    string
}

func (e *errStatus) Error() string { return e.why }

func (s *Server) addCheckpoint(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, MaxBodySize)
	if !ok {
		return
	}
	req, err := ParseAddCheckpoint(b)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	e, ok := s.open(w, req.Checkpoint)
	if !ok {
		return
	}
	if req.Old > e.Size {
		fail(w, http.StatusBadRequest, "old size %d is larger than the checkpoint's %d", req.Old, e.Size)
		return
	}
	st, err := OpenStore(filepath.Join(s.dir, C2SPDir), e.Origin, true)
	if err != nil {
		s.internal(w, err)
		return
	}
	textEnd := bytes.LastIndex(e.Note, []byte("\n\n")) + 1
	line, err := s.cosigner.SignatureLine(e.Note[:textEnd])
	if err != nil {
		s.internal(w, err)
		return
	}
	cosigned := append(bytes.Clone(e.Note), line...)
	_, err = st.Append(&Entry{Origin: e.Origin, Size: e.Size, Root: e.Root, Note: cosigned}, func(latest *Entry) error {
		var held uint64
		if latest != nil {
			held = latest.Size
		}
		if req.Old != held {
			return &errSize{held: held, why: fmt.Sprintf("old size %d is not the size this witness cosigned last (%d)", req.Old, held),
				evidence: e.Size < held || (e.Size == held && !bytes.Equal(latest.Root, e.Root))}
		}
		if req.Old == e.Size {
			if latest != nil && !bytes.Equal(latest.Root, e.Root) {
				return &errSize{held: held, why: fmt.Sprintf("another root was cosigned for %d leaves", held), evidence: true}
			}
			return nil
		}
		if req.Old == 0 {
			if len(req.Proof) != 0 {
				return &errStatus{status: http.StatusUnprocessableEntity, why: "a consistency proof from size 0 must be empty"}
			}
			return nil
		}
		if err := journal.VerifyConsistency(req.Old, e.Size, req.Proof, latest.Root, e.Root); err != nil {
			return &errStatus{status: http.StatusUnprocessableEntity, why: fmt.Sprintf("the consistency proof from %d to %d does not verify: %v", req.Old, e.Size, err)}
		}
		return nil
	})
	var es *errSize
	var est *errStatus
	switch {
	case errors.As(err, &es):
		if es.evidence {
			// A smaller or different tree than one cosigned, signed by the
			// log's key: kept as evidence of the log's misbehaviour.
			s.keepRefused(st, b, e)
		}
		s.logger.Warn("witness: checkpoint refused", "origin", e.Origin, "size", e.Size, "old", req.Old, "held", es.held, "reason", es.why)
		text(w, http.StatusConflict, "text/x.tlog.size", strconv.FormatUint(es.held, 10)+"\n")
		return
	case errors.As(err, &est):
		s.keepRefused(st, b, e)
		s.logger.Warn("witness: checkpoint refused", "origin", e.Origin, "size", e.Size, "old", req.Old, "reason", est.why)
		fail(w, est.status, "%s", est.why)
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	s.logger.Info("witness: cosigned", "origin", e.Origin, "size", e.Size)
	text(w, http.StatusOK, "text/plain; charset=utf-8", string(line))
}

// keepRefused stores a refused, validly signed checkpoint next to the
// state: a log's signature on two inconsistent trees is proof of a
// rewrite. The file is named by the checkpoint's hash, so replaying one
// (anyone may have seen an old checkpoint) stores it once.
func (s *Server) keepRefused(st *Store, body []byte, e *Entry) {
	h := sha256.Sum256(e.Note)
	name := fmt.Sprintf("refused-%d-%x", e.Size, h[:8])
	f, err := os.OpenFile(filepath.Join(st.Dir(), name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if errors.Is(err, fs.ErrExist) {
		return
	}
	if err == nil {
		_, err = f.Write(body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.logger.Error("witness: keeping a refused checkpoint", "origin", e.Origin, "err", err)
	}
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	s.logger.Error("witness: request failed", "err", err)
	fail(w, http.StatusInternalServerError, "internal error")
}

func (s *Server) store(w http.ResponseWriter, sub, origin string) (*Store, bool) {
	st, err := OpenStore(filepath.Join(s.dir, sub), origin, false)
	switch {
	case errors.Is(err, ErrNotFound):
		fail(w, http.StatusNotFound, "nothing witnessed for %q", origin)
		return nil, false
	case errors.Is(err, ErrMalformed):
		fail(w, http.StatusBadRequest, "%v", err)
		return nil, false
	case err != nil:
		s.internal(w, err)
		return nil, false
	}
	return st, true
}

func (s *Server) serveEntry(w http.ResponseWriter, e *Entry, err error) {
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && e == nil):
		fail(w, http.StatusNotFound, "no such checkpoint")
	case err != nil:
		s.internal(w, err)
	default:
		text(w, http.StatusOK, "text/plain; charset=utf-8", string(e.Note))
	}
}

func (s *Server) cosigned(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store(w, C2SPDir, r.PathValue("origin"))
	if !ok {
		return
	}
	e, err := st.Latest()
	s.serveEntry(w, e, err)
}

func (s *Server) plainPost(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, MaxNoteSize)
	if !ok {
		return
	}
	e, ok := s.open(w, b)
	if !ok {
		return
	}
	if origin := r.PathValue("origin"); origin != e.Origin {
		fail(w, http.StatusBadRequest, "the checkpoint's origin %q is not %q", e.Origin, origin)
		return
	}
	st, err := OpenStore(filepath.Join(s.dir, PlainDir), e.Origin, true)
	if err != nil {
		s.internal(w, err)
		return
	}
	stored, err := st.Append(e, nil)
	switch {
	case errors.Is(err, ErrStale) || errors.Is(err, ErrConflict):
		s.keepRefused(st, b, e)
		s.logger.Warn("witness: checkpoint refused", "origin", e.Origin, "size", e.Size, "reason", err.Error())
		fail(w, http.StatusConflict, "%v", err)
	case err != nil:
		s.internal(w, err)
	case stored:
		s.logger.Info("witness: stored", "origin", e.Origin, "size", e.Size)
		fail(w, http.StatusCreated, "stored %d", e.Size)
	default:
		fail(w, http.StatusOK, "already held %d", e.Size)
	}
}

func (s *Server) plainList(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store(w, PlainDir, r.PathValue("origin"))
	if !ok {
		return
	}
	sizes, err := st.Sizes()
	if err != nil {
		s.internal(w, err)
		return
	}
	text(w, http.StatusOK, "text/plain; charset=utf-8", string(FormatListing(sizes)))
}

func (s *Server) plainGet(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store(w, PlainDir, r.PathValue("origin"))
	if !ok {
		return
	}
	name := r.PathValue("name")
	if name == LatestFile {
		e, err := st.Latest()
		s.serveEntry(w, e, err)
		return
	}
	n, err := parseDecimal(name)
	if err != nil {
		fail(w, http.StatusNotFound, "no such checkpoint")
		return
	}
	e, err := st.Read(n)
	s.serveEntry(w, e, err)
}
