//go:build wecomsdk && cgo

package native

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/finance"
)

// stubLibrary compiles testdata/stub_sdk.c, a library with the vendor's C
// interface, into a shared object.
func stubLibrary(t *testing.T) string {
	t.Helper()
	so := filepath.Join(t.TempDir(), "libWeWorkFinanceSdk_C.so")
	out, err := exec.Command("cc", "-shared", "-fPIC", "-o", so, "testdata/stub_sdk.c").CombinedOutput()
	if err != nil {
		t.Fatalf("build the stub library: %v\n%s", err, out)
	}
	return so
}

func TestBinding(t *testing.T) {
	ctx := context.Background()
	so := stubLibrary(t)
	if _, err := Open(so, "ww_test", "wrong"); !errors.As(err, new(*finance.Error)) || !strings.Contains(err.Error(), "Init: 10000") {
		t.Fatalf("Init with a wrong secret: %v", err)
	}
	sdk, err := Open(so, "ww_test", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer sdk.Close()
	b, err := sdk.GetChatData(ctx, 1, 1000, "", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := finance.ParseChatData(b)
	if err != nil || len(cd.ChatData) != 1 || cd.ChatData[0].Seq != 2 || cd.ChatData[0].MsgID != "m2" {
		t.Fatalf("GetChatData: %s, %v", b, err)
	}
	var fe *finance.Error
	if _, err := sdk.GetChatData(ctx, 1, 5000, "", "", time.Second); !errors.As(err, &fe) || fe.Code != finance.ErrParam {
		t.Fatalf("limit 5000: %v", err)
	}
	if msg, err := sdk.DecryptData("key", "保本"); err != nil || string(msg) != "key:保本" {
		t.Fatalf("DecryptData: %q, %v", msg, err)
	}
	var media []byte
	index := ""
	for i := 0; ; i++ {
		ch, err := sdk.GetMediaData(ctx, index, "file1", "", "", time.Second)
		if err != nil || i > 5 {
			t.Fatalf("GetMediaData: %v (chunk %d)", err, i)
		}
		media = append(media, ch.Data...)
		if ch.IsFinish {
			break
		}
		index = ch.OutIndexBuf
	}
	if string(media) != "0123456789" {
		t.Fatalf("media %q", media)
	}
	if _, err := sdk.GetMediaData(ctx, "", "nope", "", "", time.Second); !errors.As(err, &fe) || fe.Code != finance.ErrFileID {
		t.Fatalf("unknown file: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.so"), "c", "s"); err == nil || !strings.Contains(err.Error(), "load") {
		t.Fatalf("missing library: %v", err)
	}
	// A shared object that is not the SDK.
	so := filepath.Join(t.TempDir(), "other.so")
	c := filepath.Join(t.TempDir(), "other.c")
	if err := exec.Command("sh", "-c", "echo 'int x(void){return 1;}' > "+c+" && cc -shared -fPIC -o "+so+" "+c).Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(so, "c", "s"); err == nil || !strings.Contains(err.Error(), "has no NewSdk") {
		t.Fatalf("not the SDK: %v", err)
	}
}
