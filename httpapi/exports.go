package httpapi

// The exports API: productions for examiners (`wxarchive export`), written
// in the background of the server by app.ExportJobs into directories the
// server chooses, and downloaded file by file once finished.

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/httpx"
)

// MaxExportRequestBytes bounds a production request's body.
const MaxExportRequestBytes = 64 << 10

// exportRequest is POST /api/v1/exports's body: app.ExportRequest in the
// API's spelling, without what the server decides (where, the font).
type exportRequest struct {
	Query         string     `json:"query"`
	Hold          string     `json:"hold"`
	Custodians    []string   `json:"custodians"`
	Conversations []string   `json:"conversations"`
	From          string     `json:"from"`
	To            string     `json:"to"`
	Formats       formatList `json:"formats"`
	Prefix        string     `json:"prefix"`
	LoadEncoding  string     `json:"load_encoding"`
	FontFallback  bool       `json:"font_fallback"`
	VolumeSize    int64      `json:"volume_size"` // bytes
}

// formatList is a list of format names or one comma-separated string
// ("jsonl,dat"), as the CLI's --format takes them.
type formatList []string

func (f *formatList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = nil
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				*f = append(*f, x)
			}
		}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("formats: want a list of format names or a comma-separated string")
	}
	*f = l
	return nil
}

// apiFields are the API's names of the request fields app names as the
// CLI's flags.
var apiFields = map[string]string{"format": "formats", "custodian": "custodians", "conversation": "conversations",
	"volume-size": "volume_size", "load-encoding": "load_encoding"}

// exportJobs is the server's production manager, or the refusal of a
// server without one.
func (s *Server) exportJobs() (*app.ExportJobs, error) {
	if s.opts.Exports == nil {
		return nil, httpx.Errorf(http.StatusServiceUnavailable, "unavailable", "exports are not available on a read-only archive")
	}
	return s.opts.Exports, nil
}

// createExport: POST /api/v1/exports, `export create` as the caller into
// a directory the server chooses: 202 with the journaled production and
// its Location; it is written in the background (GET it for progress).
// A request to change (an unknown format, a query error, an unknown hold,
// a bad date) is 400 naming the field; nothing is journaled or written.
func (s *Server) createExport(w http.ResponseWriter, req *http.Request) error {
	jobs, err := s.exportJobs()
	if err != nil {
		return err
	}
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	body, err := httpx.ReadBody(w, req, MaxExportRequestBytes, "application/json")
	if err != nil {
		return err
	}
	var r exportRequest
	if err := httpx.DecodeJSON(body, &r, "an export request"); err != nil {
		return err
	}
	v, err := jobs.Start(req.Context(), app.ExportRequest{Query: r.Query, Hold: r.Hold, Custodians: r.Custodians, Conversations: r.Conversations,
		From: r.From, To: r.To, Formats: r.Formats, Prefix: r.Prefix, LoadEncoding: r.LoadEncoding, Fallback: r.FontFallback, VolumeSize: r.VolumeSize})
	if err != nil {
		var inv *app.InvalidError
		if errors.As(err, &inv) && apiFields[inv.Field] != "" {
			renamed := *inv
			renamed.Field = apiFields[inv.Field]
			return &renamed
		}
		return err
	}
	s.opts.Logger.Info("export created", "export", v.ID, "messages", v.Messages, "formats", strings.Join(v.Formats, ","), "actor", actorOf(req))
	w.Header().Set("Location", "/api/v1/exports/"+url.PathEscape(v.ID))
	httpx.JSON(w, http.StatusAccepted, v)
	return nil
}

// listExports: GET /api/v1/exports, every production the journal records
// that the caller may read, with the state of those the server writes.
func (s *Server) listExports(w http.ResponseWriter, req *http.Request) error {
	jobs, err := s.exportJobs()
	if err != nil {
		return err
	}
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	v, err := jobs.List(req.Context())
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// getExport: GET /api/v1/exports/{id}, a production's state and progress.
func (s *Server) getExport(w http.ResponseWriter, req *http.Request) error {
	jobs, err := s.exportJobs()
	if err != nil {
		return err
	}
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	v, err := jobs.Get(req.Context(), req.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// exportFile: GET /api/v1/exports/{id}/files/{path...}, a file of a
// finished production as its manifest lists it (or manifest.json,
// manifest.proof.json), journaled as an access. It is always an
// attachment, in a sandbox: a production carries what others sent (an
// HTML or SVG attachment), which must never run as the archive's origin.
func (s *Server) exportFile(w http.ResponseWriter, req *http.Request) error {
	jobs, err := s.exportJobs()
	if err != nil {
		return err
	}
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	name := req.PathValue("path")
	f, _, err := jobs.File(req.Context(), req.PathValue("id"), name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", exportContentType(name))
	h.Set("Content-Disposition", contentDisposition(path.Base(name)))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	// Ranges let a large file resume; no modification time: a finished
	// production does not change, and its manifest has the hashes.
	http.ServeContent(&downloadWriter{ResponseWriter: w, timeout: s.writeTimeout()}, req, "", time.Time{}, f)
	return nil
}

func (s *Server) writeTimeout() time.Duration {
	if s.opts.Limits.WriteTimeout > 0 {
		return s.opts.Limits.WriteTimeout
	}
	return httpx.DefaultWriteTimeout
}

// downloadWriter moves the connection's write deadline on with every
// downloadStep bytes written: a file of a production may take longer than
// the guard's write timeout to send, but a client that stops reading is
// still cut off one timeout after it last took a step's worth.
type downloadWriter struct {
	http.ResponseWriter
	timeout time.Duration
	since   int
}

const downloadStep = 1 << 20

func (d *downloadWriter) Write(b []byte) (int, error) {
	n, err := d.ResponseWriter.Write(b)
	if d.since += n; d.since >= downloadStep {
		d.since = 0
		http.NewResponseController(d.ResponseWriter).SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return n, err
}

func (d *downloadWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// exportTypes are the media types of a production's own files (its
// natives take the system's table, else application/octet-stream).
var exportTypes = map[string]string{
	".json":  "application/json; charset=utf-8",
	".jsonl": "application/jsonl; charset=utf-8",
	".csv":   "text/csv",
	".dat":   "application/octet-stream", // Concordance: þ-delimited, in the job's load encoding
	".html":  "text/html; charset=utf-8",
	".eml":   "message/rfc822",
	".rsmf":  "message/rfc822", // RSMF is an RFC 5322 message with X-RSMF headers
	".pdf":   "application/pdf",
	".zip":   "application/zip",
	".txt":   "text/plain; charset=utf-8",
}

func exportContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := exportTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// contentDisposition is an attachment named name (RFC 6266): an ASCII
// fallback and the UTF-8 name (filename*, RFC 8187).
func contentDisposition(name string) string {
	var ascii, ext strings.Builder
	for _, r := range name {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' && r != '%' {
			ascii.WriteRune(r)
		} else {
			ascii.WriteByte('_')
		}
	}
	for _, c := range []byte(name) {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0) {
			ext.WriteByte(c)
		} else {
			fmt.Fprintf(&ext, "%%%02X", c)
		}
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii.String(), ext.String())
}
