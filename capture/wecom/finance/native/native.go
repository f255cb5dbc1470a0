//go:build wecomsdk && cgo

// Package native binds the vendor's WeCom Finance SDK
// (libWeWorkFinanceSdk_C.so), loaded at run time from the path the
// operator configures. Build with `-tags wecomsdk` (cgo, a C compiler and
// libdl; the vendor library is needed only when it runs). The library is
// proprietary and is never committed or downloaded by wxarchive.
//
// The library runs in the process that loads it: a crash inside it takes
// that process down. wxarchive therefore loads it only in `wxarchive
// capture-agent`, a child process the server supervises.
package native

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "wxa_finance.h"

typedef struct {
	void *handle;
	wxa_NewSdk NewSdk;
	wxa_Init Init;
	wxa_GetChatData GetChatData;
	wxa_DecryptData DecryptData;
	wxa_GetMediaData GetMediaData;
	wxa_DestroySdk DestroySdk;
	wxa_NewSlice NewSlice;
	wxa_FreeSlice FreeSlice;
	wxa_NewMediaData NewMediaData;
	wxa_FreeMediaData FreeMediaData;
} wxa_lib;

// wxa_open loads the library and resolves every entry point; on failure
// it returns the name of the missing symbol (or NULL and dlerror()).
static const char *wxa_open(const char *path, wxa_lib *lib) {
	lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) return "";
#define SYM(name) lib->name = (wxa_##name)dlsym(lib->handle, #name); if (!lib->name) return #name;
	SYM(NewSdk) SYM(Init) SYM(GetChatData) SYM(DecryptData) SYM(GetMediaData) SYM(DestroySdk)
	SYM(NewSlice) SYM(FreeSlice) SYM(NewMediaData) SYM(FreeMediaData)
#undef SYM
	return NULL;
}

static const char *wxa_dlerror(void) { const char *e = dlerror(); return e ? e : "unknown dlopen error"; }

static WeWorkFinanceSdk_t *wxa_new(wxa_lib *l) { return l->NewSdk(); }
static int wxa_init(wxa_lib *l, WeWorkFinanceSdk_t *s, const char *c, const char *k) { return l->Init(s, c, k); }
static void wxa_destroy(wxa_lib *l, WeWorkFinanceSdk_t *s) { l->DestroySdk(s); }
static Slice_t *wxa_new_slice(wxa_lib *l) { return l->NewSlice(); }
static void wxa_free_slice(wxa_lib *l, Slice_t *s) { l->FreeSlice(s); }
static MediaData_t *wxa_new_media(wxa_lib *l) { return l->NewMediaData(); }
static void wxa_free_media(wxa_lib *l, MediaData_t *m) { l->FreeMediaData(m); }
static int wxa_get_chat_data(wxa_lib *l, WeWorkFinanceSdk_t *s, unsigned long long seq, unsigned int limit,
	const char *proxy, const char *passwd, int timeout, Slice_t *out) {
	return l->GetChatData(s, seq, limit, proxy, passwd, timeout, out);
}
static int wxa_decrypt(wxa_lib *l, const char *key, const char *msg, Slice_t *out) { return l->DecryptData(key, msg, out); }
static int wxa_get_media(wxa_lib *l, WeWorkFinanceSdk_t *s, const char *index, const char *fileid,
	const char *proxy, const char *passwd, int timeout, MediaData_t *out) {
	return l->GetMediaData(s, index, fileid, proxy, passwd, timeout, out);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/wxarchive/wxarchive/capture/wecom/finance"
)

// SDK is an initialized vendor SDK. Calls are serialized: the vendor does
// not document the library as thread-safe.
type SDK struct {
	mu  sync.Mutex
	lib *C.wxa_lib
	sdk *C.WeWorkFinanceSdk_t
}

var _ finance.SDK = (*SDK)(nil)

// Open loads the library at path and initializes it for corpID with the
// conversation-archive secret (never logged).
func Open(path, corpID, secret string) (finance.SDK, error) {
	if path == "" {
		return nil, errors.New("finance SDK: no library path configured")
	}
	lib := (*C.wxa_lib)(C.calloc(1, C.size_t(unsafe.Sizeof(C.wxa_lib{}))))
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if missing := C.wxa_open(cpath, lib); missing != nil {
		name := C.GoString(missing)
		C.free(unsafe.Pointer(lib))
		if name == "" {
			return nil, fmt.Errorf("finance SDK: load %s: %s", path, C.GoString(C.wxa_dlerror()))
		}
		return nil, fmt.Errorf("finance SDK: %s has no %s: not the WeCom Finance SDK", path, name)
	}
	s := &SDK{lib: lib, sdk: C.wxa_new(lib)}
	if s.sdk == nil {
		return nil, errors.New("finance SDK: NewSdk returned NULL")
	}
	ccorp, csecret := C.CString(corpID), C.CString(secret)
	defer C.free(unsafe.Pointer(ccorp))
	defer C.free(unsafe.Pointer(csecret))
	if rc := C.wxa_init(lib, s.sdk, ccorp, csecret); rc != 0 {
		C.wxa_destroy(lib, s.sdk)
		return nil, &finance.Error{Op: "Init", Code: int(rc)}
	}
	return s, nil
}

func cstr(s string) (*C.char, func()) {
	c := C.CString(s)
	return c, func() { C.free(unsafe.Pointer(c)) }
}

func seconds(d time.Duration) C.int {
	s := int(d / time.Second)
	if s < 1 {
		s = 1
	}
	return C.int(s)
}

// GetChatData implements finance.SDK.
func (s *SDK) GetChatData(ctx context.Context, seq uint64, limit uint32, proxy, passwd string, timeout time.Duration) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cproxy, f1 := cstr(proxy)
	defer f1()
	cpass, f2 := cstr(passwd)
	defer f2()
	out := C.wxa_new_slice(s.lib)
	defer C.wxa_free_slice(s.lib, out)
	if rc := C.wxa_get_chat_data(s.lib, s.sdk, C.ulonglong(seq), C.uint(limit), cproxy, cpass, seconds(timeout), out); rc != 0 {
		return nil, &finance.Error{Op: "GetChatData", Code: int(rc)}
	}
	return C.GoBytes(unsafe.Pointer(out.buf), out.len), nil
}

// DecryptData implements finance.SDK.
func (s *SDK) DecryptData(randomKey, encryptMsg string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ckey, f1 := cstr(randomKey)
	defer f1()
	cmsg, f2 := cstr(encryptMsg)
	defer f2()
	out := C.wxa_new_slice(s.lib)
	defer C.wxa_free_slice(s.lib, out)
	if rc := C.wxa_decrypt(s.lib, ckey, cmsg, out); rc != 0 {
		return nil, &finance.Error{Op: "DecryptData", Code: int(rc)}
	}
	return C.GoBytes(unsafe.Pointer(out.buf), out.len), nil
}

// GetMediaData implements finance.SDK.
func (s *SDK) GetMediaData(ctx context.Context, indexBuf, sdkFileID, proxy, passwd string, timeout time.Duration) (finance.MediaChunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cidx, f1 := cstr(indexBuf)
	defer f1()
	cid, f2 := cstr(sdkFileID)
	defer f2()
	cproxy, f3 := cstr(proxy)
	defer f3()
	cpass, f4 := cstr(passwd)
	defer f4()
	out := C.wxa_new_media(s.lib)
	defer C.wxa_free_media(s.lib, out)
	if rc := C.wxa_get_media(s.lib, s.sdk, cidx, cid, cproxy, cpass, seconds(timeout), out); rc != 0 {
		return finance.MediaChunk{}, &finance.Error{Op: "GetMediaData", Code: int(rc)}
	}
	return finance.MediaChunk{
		Data:        C.GoBytes(unsafe.Pointer(out.data), out.data_len),
		OutIndexBuf: C.GoStringN(out.outindexbuf, out.out_len),
		IsFinish:    out.is_finish != 0,
	}, nil
}

// Close destroys the SDK. The library stays loaded (dlclose of a library
// with threads of its own is unsafe).
func (s *SDK) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sdk != nil {
		C.wxa_destroy(s.lib, s.sdk)
		s.sdk = nil
	}
	return nil
}
