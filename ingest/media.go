package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/extract"
)

// MediaSource fetches an attachment's bytes by the source's reference
// (WeCom sdkfileid). A source that does not have the media returns an error
// matching fs.ErrNotExist.
type MediaSource interface {
	Fetch(ctx context.Context, ref string) ([]byte, error)
}

// MaxMediaBytes bounds one attachment read into memory.
const MaxMediaBytes = 1 << 30

// DirMedia serves media from a directory holding one file per sdkfileid.
// Real sdkfileids are base64 and may contain '/', which cannot be part of a
// file name: such files are looked up under the URL-safe spelling ('/' →
// '_', '+' → '-'). Names are never joined unchecked, so a hostile sdkfileid
// cannot reach outside the directory.
type DirMedia struct{ Dir string }

// Fetch implements MediaSource.
func (d DirMedia) Fetch(_ context.Context, ref string) ([]byte, error) {
	for _, name := range []string{ref, strings.NewReplacer("/", "_", "+", "-").Replace(ref)} {
		if !safeName(name) {
			continue
		}
		p := filepath.Join(d.Dir, name)
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("media %q is not a regular file", name)
		}
		if st.Size() > MaxMediaBytes {
			return nil, fmt.Errorf("media %q is %d bytes, over the %d limit", name, st.Size(), MaxMediaBytes)
		}
		return os.ReadFile(p)
	}
	return nil, fmt.Errorf("media %q: %w", ref, fs.ErrNotExist)
}

func safeName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00") && len(n) <= 255
}

// ResolveMedia fetches, checks and stores every attachment of m that has a
// source reference and no blob yet, recording per attachment whether it was
// fetched intact, differs from the source checksum, or is missing. The
// message is archived whatever happens here: a missing file is a recorded,
// reported fact, never a reason to drop the message.
//
// Attachments are stored staged, without retention: the engine locks them
// (their retain-until is the message's) once the journal event that
// references them is durable, before the message is acknowledged (Future).
// So an ingest that fails after this leaves no blob locked for years that
// nothing references (docs/FORMAT.md §2, "Attachment retention").
func ResolveMedia(ctx context.Context, m *archive.Message, src MediaSource, blobs blob.Store) error {
	for i := range m.Attachments {
		a := &m.Attachments[i]
		if a.SourceRef == "" || !a.Blob.IsZero() || src == nil {
			continue
		}
		data, err := src.Fetch(ctx, a.SourceRef)
		if errors.Is(err, fs.ErrNotExist) {
			a.Status, a.Reason = archive.AttachmentMissing, "media file not found for sdkfileid"
			continue
		}
		if err != nil {
			a.Status, a.Reason = archive.AttachmentFailed, err.Error()
			continue
		}
		id, err := blobs.Put(ctx, data, blob.PutOptions{})
		if err != nil {
			// The blob store failing is an operational error: the caller
			// must not acknowledge the message as if its media were safe.
			return fmt.Errorf("store attachment %d of %s: %w", i, m.SourceID, err)
		}
		a.Blob, a.Size = id, int64(len(data))
		a.MediaType = SniffMediaType(data, a.FileName)
		// The readable text of documents goes into the normalized record, so
		// search finds it and reindex needs nothing but the records. A file
		// that is not a document, or a damaged one, is archived all the same
		// with no text.
		if txt, err := extract.Text(data, a.MediaType, a.FileName, extract.DefaultLimits()); err == nil {
			a.Text = txt
		}
		sum := md5.Sum(data)
		got := hex.EncodeToString(sum[:])
		switch {
		case a.SourceMD5 == "" || strings.EqualFold(a.SourceMD5, got):
			a.Status, a.Reason = archive.AttachmentFetched, ""
		default:
			a.Status = archive.AttachmentMD5Mismatch
			a.Reason = fmt.Sprintf("md5 of stored bytes is %s, source announced %s", got, a.SourceMD5)
		}
	}
	return nil
}

// SniffMediaType identifies a file by its content, not its name: a renamed
// executable must not pass as a PDF. The name only refines generic
// containers (a zip that is really a .docx).
func SniffMediaType(data []byte, name string) string {
	// Executables first: their headers leave room for other formats'
	// signatures (bytes 4..7 of a DOS header can spell "ftyp"), and a
	// program must never pass as a video.
	switch {
	case bytes.HasPrefix(data, []byte("MZ")):
		return "application/vnd.microsoft.portable-executable"
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return "application/x-executable"
	case bytes.HasPrefix(data, []byte("\xcf\xfa\xed\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xed\xfa\xcf")) || bytes.HasPrefix(data, []byte("\xca\xfe\xba\xbe")):
		return "application/x-mach-binary"
	}
	switch {
	case bytes.HasPrefix(data, []byte("#!AMR\n")):
		return "audio/amr"
	case bytes.HasPrefix(data, []byte("#!AMR-WB\n")):
		return "audio/amr-wb"
	case bytes.HasPrefix(data, []byte("#!SILK")) || bytes.HasPrefix(data, []byte("\x02#!SILK")):
		return "audio/silk"
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		return isoBrand(string(data[8:12]))
	}
	t := http.DetectContentType(data)
	if t == "application/zip" {
		if ooxml := officeType(data); ooxml != "" {
			return ooxml
		}
	}
	if i := strings.IndexByte(t, ';'); i >= 0 && !strings.HasPrefix(t, "text/") {
		t = t[:i]
	}
	return t
}

// isoBrand names an ISO base media file (MP4 family) by its major brand:
// the same container holds phone photos (HEIC), AVIF images, M4A audio.
func isoBrand(brand string) string {
	switch brand {
	case "qt  ":
		return "video/quicktime"
	case "heic", "heix", "heim", "heis":
		return "image/heic"
	case "mif1", "msf1", "hevc", "hevx":
		return "image/heif"
	case "avif", "avis":
		return "image/avif"
	case "M4A ", "M4B ", "M4P ", "F4A ":
		return "audio/mp4"
	case "3gp4", "3gp5", "3gp6", "3gp7", "3gs7", "3ge6", "3ge7", "3gg6":
		return "video/3gpp"
	case "3g2a", "3g2b", "3g2c":
		return "video/3gpp2"
	}
	return "video/mp4"
}

func officeType(data []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return ""
	}
	has := map[string]bool{}
	for _, f := range zr.File {
		top := f.Name
		if i := strings.IndexByte(top, '/'); i >= 0 {
			top = top[:i+1]
		}
		has[top] = true
	}
	if !has["[Content_Types].xml"] {
		return ""
	}
	switch {
	case has["word/"]:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case has["xl/"]:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case has["ppt/"]:
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	}
	return ""
}
