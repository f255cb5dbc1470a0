package importer_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxarchive/wxarchive/capture/importer"
)

// fuzzFormat: any bytes parse to rows (each with a message or an error
// naming its line) or a *FileError; never a panic; lines never go back.
func fuzzFormat(f *testing.F, format importer.Format, seed func(int) (string, map[int]string), fixtures ...string) {
	data, _ := seed(6)
	f.Add([]byte(data))
	// The files each tool writes (testdata/exports/README.md).
	for _, pattern := range fixtures {
		names, _ := filepath.Glob(filepath.Join("testdata", "exports", pattern))
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("\xef\xbb\xbf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		last := 0
		err := importer.Parse(format, data, importer.Options{Owner: "wxid_owner"}, func(r importer.Row) error {
			if r.Line < last || r.Line < 1 {
				t.Fatalf("row line %d after %d", r.Line, last)
			}
			last = r.Line
			if (r.Message == nil) == (r.Err == nil) {
				t.Fatalf("line %d: message %v and error %v", r.Line, r.Message, r.Err)
			}
			if r.Err != nil && r.Err.Line != r.Line {
				t.Fatalf("error line %d on row %d", r.Err.Line, r.Line)
			}
			if r.Message != nil && (r.Message.SourceID == "" || r.Message.Sender == "") {
				t.Fatalf("line %d: message without id or sender: %+v", r.Line, r.Message)
			}
			return nil
		})
		var fe *importer.FileError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error %v (%T), want a *FileError", err, err)
		}
	})
}

func FuzzChatlogJSON(f *testing.F) {
	fuzzFormat(f, importer.ChatlogJSON, chatlogJSON, "chatlog-*.json")
}
func FuzzChatlogCSV(f *testing.F) { fuzzFormat(f, importer.ChatlogCSV, chatlogCSV, "chatlog-*.csv") }
func FuzzWeChatMsgCSV(f *testing.F) {
	fuzzFormat(f, importer.WeChatMsgCSV, wechatMsgCSV, "wechatmsg-*.csv")
}
func FuzzPyWxDumpCSV(f *testing.F) {
	fuzzFormat(f, importer.PyWxDumpCSV, pywxdumpCSV, "pywxdump-*.csv")
}
func FuzzPyWxDumpJSON(f *testing.F) {
	fuzzFormat(f, importer.PyWxDumpJSON, pywxdumpJSON, "pywxdump-*.json")
}
func FuzzJSONL(f *testing.F) { fuzzFormat(f, importer.JSONL, jsonl) }
