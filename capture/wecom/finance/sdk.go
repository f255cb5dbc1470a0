// Package finance is the WeCom Finance SDK (会话内容存档, "msgaudit"), the
// vendor library through which a firm pulls its conversation archive:
// encrypted messages by sequence number, and media in chunks.
//
// SDK mirrors the vendor's C API (WeWorkFinanceSdk_C.h) call for call:
//
//	int GetChatData(sdk, unsigned long long seq, unsigned int limit, const char* proxy,
//	                const char* passwd, int timeout, Slice_t* chatDatas);
//	int DecryptData(const char* encrypt_key, const char* encrypt_msg, Slice_t* msg);
//	int GetMediaData(sdk, const char* indexbuf, const char* sdkFileid, const char* proxy,
//	                 const char* passwd, int timeout, MediaData_t* media_data);
//
// Implementations: package native (cgo, build tag wecomsdk, the library the
// operator supplies) and package sim (a simulator of the service for tests
// and `wxarchive demo --live`). KeyRing unwraps each message's random key
// with the RSA private key of the version the message names.
package finance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Limits of the vendor API.
const (
	MaxLimit     = 1000       // messages per GetChatData
	MaxChunkSize = 512 * 1024 // bytes per GetMediaData chunk
)

// SDK is the vendor API. Implementations are safe for concurrent use.
type SDK interface {
	// GetChatData returns the JSON answer holding up to limit messages with
	// a sequence number above seq: {"errcode":0,"errmsg":"ok","chatdata":[…]}.
	GetChatData(ctx context.Context, seq uint64, limit uint32, proxy, passwd string, timeout time.Duration) ([]byte, error)
	// DecryptData decrypts one encrypt_chat_msg with its random key (the
	// unwrapped encrypt_random_key) and returns the message JSON.
	DecryptData(randomKey, encryptMsg string) ([]byte, error)
	// GetMediaData returns the chunk of media sdkFileID that starts at
	// indexBuf ("" for the first chunk).
	GetMediaData(ctx context.Context, indexBuf, sdkFileID, proxy, passwd string, timeout time.Duration) (MediaChunk, error)
	// Close releases the SDK.
	Close() error
}

// MediaChunk is one GetMediaData answer.
type MediaChunk struct {
	Data        []byte
	OutIndexBuf string // pass as indexBuf for the next chunk
	IsFinish    bool
}

// ChatData is GetChatData's answer.
type ChatData struct {
	ErrCode  int                `json:"errcode"`
	ErrMsg   string             `json:"errmsg"`
	ChatData []EncryptedMessage `json:"chatdata"`
}

// EncryptedMessage is one message as GetChatData delivers it.
type EncryptedMessage struct {
	Seq              uint64 `json:"seq"`
	MsgID            string `json:"msgid"`
	PublicKeyVer     int    `json:"publickey_ver"`
	EncryptRandomKey string `json:"encrypt_random_key"`
	EncryptChatMsg   string `json:"encrypt_chat_msg"`
}

// ParseChatData decodes a GetChatData answer; an errcode other than 0 is
// returned as an *Error.
func ParseChatData(b []byte) (*ChatData, error) {
	var cd ChatData
	if err := json.Unmarshal(b, &cd); err != nil {
		return nil, fmt.Errorf("GetChatData answer: %v", err)
	}
	if cd.ErrCode != 0 {
		return nil, &Error{Op: "GetChatData", Code: cd.ErrCode, Message: cd.ErrMsg}
	}
	return &cd, nil
}

// Error codes of the SDK's functions (the vendor's documentation).
const (
	ErrParam          = 10000 // bad parameters
	ErrNetwork        = 10001 // network request failed
	ErrParse          = 10002 // answer could not be parsed
	ErrSystem         = 10003 // system call failed
	ErrEncryptKey     = 10004 // encryption failed because of the key
	ErrFileID         = 10005 // bad sdkfileid
	ErrDecrypt        = 10006 // decryption failed
	ErrNoPrivateKey   = 10007 // no private key for the message's key version
	ErrEncryptKeyData = 10008 // encrypt_key could not be parsed
	ErrIP             = 10009 // calling IP not allowed
	ErrExpired        = 10010 // data expired: no longer held by the service
	ErrCertificate    = 10011 // certificate error
)

var codeText = map[int]string{
	ErrParam: "bad parameters", ErrNetwork: "network error", ErrParse: "could not parse the answer",
	ErrSystem: "system call failed", ErrEncryptKey: "encryption failed (key)", ErrFileID: "bad sdkfileid",
	ErrDecrypt: "decryption failed", ErrNoPrivateKey: "no private key for this key version",
	ErrEncryptKeyData: "encrypt_key could not be parsed", ErrIP: "calling IP not allowed",
	ErrExpired: "data expired", ErrCertificate: "certificate error",
}

// Error is a non-zero return of an SDK function.
type Error struct {
	Op      string // GetChatData, DecryptData, GetMediaData
	Code    int
	Message string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = codeText[e.Code]
	}
	if msg == "" {
		msg = "unknown error"
	}
	return fmt.Sprintf("%s: %d %s", e.Op, e.Code, msg)
}

// Retryable reports whether the call may succeed if repeated: network,
// parse and system failures (10001–10003).
func (e *Error) Retryable() bool {
	return e.Code == ErrNetwork || e.Code == ErrParse || e.Code == ErrSystem
}
