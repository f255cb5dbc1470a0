// Package sim simulates the WeCom conversation-archive service behind the
// Finance SDK, for tests and `wxarchive demo --live`: messages numbered by
// seq and returned in windows of at most 1000, each wrapped with the RSA
// public key of a key version, data that expires, media served in chunks
// of at most 512 KB with outindexbuf/is_finish, and the SDK's error codes —
// plus faults a test can inject (transient errors, gaps, corrupt chunks,
// crashes).
//
// The message encryption is the simulator's own (AES-256-CBC under the
// random key): the real scheme lives inside the vendor library, and only
// DecryptData needs to know it.
package sim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/finance"
)

// ErrCrashed is what a simulated SDK crash looks like in-process: every
// call fails until the SDK is reopened (a real crash kills the process
// hosting the library; the capture agent is restarted).
var ErrCrashed = errors.New("simulated Finance SDK crash")

type message struct {
	seq      uint64
	msgid    string
	ver      int
	plain    []byte
	added    time.Time
	withheld bool // a seq the service never delivers (a gap)
}

// Service is the simulated service. Safe for concurrent use.
type Service struct {
	mu        sync.Mutex
	msgs      []message // by seq; msgs[i].seq == first+i
	first     uint64    // seq of msgs[0]
	next      uint64    // seq the next Add gets
	keys      map[int]*rsa.PublicKey
	media     map[string][]byte
	corrupt   map[string]int // sdkfileid → chunk to corrupt
	failures  map[string][]int
	crashIn   int // calls until a crash (0: none scheduled)
	crashed   bool
	chunkSize int

	// Retention is how long the service keeps data (the real one: a few
	// days); older messages expire and asking for them is error 10010.
	Retention time.Duration
	Now       func() time.Time

	calls map[string]int
}

// New returns a service with the given public keys by version.
func New(keys map[int]*rsa.PublicKey) *Service {
	return &Service{keys: keys, media: map[string][]byte{}, corrupt: map[string]int{}, failures: map[string][]int{},
		first: 1, next: 1, chunkSize: finance.MaxChunkSize, Now: time.Now, calls: map[string]int{}}
}

// SetChunkSize makes media chunks smaller (tests).
func (s *Service) SetChunkSize(n int) {
	s.mu.Lock()
	s.chunkSize = n
	s.mu.Unlock()
}

// Add queues a decrypted message (the JSON DecryptData returns) under the
// given key version, with the media it references, and returns its seq.
func (s *Service) Add(plain []byte, keyVersion int, media map[string][]byte) (uint64, error) {
	var id struct {
		MsgID string `json:"msgid"`
	}
	if err := json.Unmarshal(plain, &id); err != nil || id.MsgID == "" {
		return 0, fmt.Errorf("sim: message without msgid: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.next
	s.next++
	s.msgs = append(s.msgs, message{seq: seq, msgid: id.MsgID, ver: keyVersion, plain: bytes.Clone(plain), added: s.Now()})
	for k, v := range media {
		s.media[k] = v
	}
	return seq, nil
}

// Withhold makes a seq never delivered: the client sees a gap.
func (s *Service) Withhold(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq >= s.first && seq < s.first+uint64(len(s.msgs)) {
		s.msgs[seq-s.first].withheld = true
	}
}

// Expire drops every message up to and including seq, as the service does
// when data outlives its retention.
func (s *Service) Expire(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.msgs) > 0 && s.msgs[0].seq <= seq {
		s.msgs = s.msgs[1:]
		s.first++
	}
}

// Fail makes the next n calls of op (GetChatData, GetMediaData,
// DecryptData) return code.
func (s *Service) Fail(op string, code, n int) {
	s.mu.Lock()
	for i := 0; i < n; i++ {
		s.failures[op] = append(s.failures[op], code)
	}
	s.mu.Unlock()
}

// CorruptChunk flips a byte of chunk n of a media file, every time it is
// served (the md5 check must catch it).
func (s *Service) CorruptChunk(sdkFileID string, n int) {
	s.mu.Lock()
	s.corrupt[sdkFileID] = n
	s.mu.Unlock()
}

// CrashAfter makes the SDK crash after n more calls.
func (s *Service) CrashAfter(n int) {
	s.mu.Lock()
	s.crashIn = n
	s.mu.Unlock()
}

// Calls reports how many times op was called.
func (s *Service) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// LastSeq is the newest seq added.
func (s *Service) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// enter accounts for a call: crashes and injected failures.
func (s *Service) enter(op string) error {
	s.calls[op]++
	if s.crashed {
		return ErrCrashed
	}
	if s.crashIn > 0 {
		s.crashIn--
		if s.crashIn == 0 {
			s.crashed = true
			return ErrCrashed
		}
	}
	if f := s.failures[op]; len(f) > 0 {
		s.failures[op] = f[1:]
		return &finance.Error{Op: op, Code: f[0]}
	}
	return nil
}

func (s *Service) expireOld() {
	if s.Retention <= 0 {
		return
	}
	cut := s.Now().Add(-s.Retention)
	for len(s.msgs) > 0 && s.msgs[0].added.Before(cut) {
		s.msgs = s.msgs[1:]
		s.first++
	}
}

// Open returns an SDK client of the service (as NewSdk + Init would). A
// crashed service works again once reopened.
func (s *Service) Open() finance.SDK {
	s.mu.Lock()
	s.crashed = false
	s.mu.Unlock()
	return &client{s: s}
}

type client struct {
	s      *Service
	closed bool
}

func (c *client) GetChatData(ctx context.Context, seq uint64, limit uint32, proxy, passwd string, timeout time.Duration) ([]byte, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("GetChatData"); err != nil {
		return nil, err
	}
	if limit == 0 || limit > finance.MaxLimit {
		return json.Marshal(finance.ChatData{ErrCode: finance.ErrParam, ErrMsg: "limit must be 1..1000"})
	}
	s.expireOld()
	// Data the client has not fetched has expired: 10010.
	if seq+1 < s.first {
		return json.Marshal(finance.ChatData{ErrCode: finance.ErrExpired, ErrMsg: fmt.Sprintf("data before seq %d expired", s.first)})
	}
	out := finance.ChatData{ErrMsg: "ok", ChatData: []finance.EncryptedMessage{}}
	start := uint64(0)
	if seq+1 > s.first {
		start = seq + 1 - s.first
	}
	for i := start; i < uint64(len(s.msgs)) && len(out.ChatData) < int(limit); i++ {
		m := s.msgs[i]
		if m.withheld {
			continue
		}
		em, err := s.encrypt(m)
		if err != nil {
			return nil, err
		}
		out.ChatData = append(out.ChatData, em)
	}
	return json.Marshal(out)
}

// encrypt wraps a fresh random key with the version's public key and
// encrypts the message under it.
func (s *Service) encrypt(m message) (finance.EncryptedMessage, error) {
	em := finance.EncryptedMessage{Seq: m.seq, MsgID: m.msgid, PublicKeyVer: m.ver}
	var kb [16]byte
	if _, err := rand.Read(kb[:]); err != nil {
		return em, err
	}
	key := hex.EncodeToString(kb[:]) // 32 ASCII characters, as the real random keys are
	pub, ok := s.keys[m.ver]
	if !ok {
		return em, fmt.Errorf("sim: no public key for version %d", m.ver)
	}
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(key))
	if err != nil {
		return em, err
	}
	em.EncryptRandomKey = base64.StdEncoding.EncodeToString(wrapped)
	ct, err := seal([]byte(key), m.plain)
	if err != nil {
		return em, err
	}
	em.EncryptChatMsg = base64.StdEncoding.EncodeToString(ct)
	return em, nil
}

func seal(key, plain []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	pt := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(b, key[:aes.BlockSize]).CryptBlocks(pt, pt)
	return pt, nil
}

func (c *client) DecryptData(randomKey, encryptMsg string) ([]byte, error) {
	c.s.mu.Lock()
	err := c.s.enter("DecryptData")
	c.s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	fail := &finance.Error{Op: "DecryptData", Code: finance.ErrDecrypt}
	ct, err := base64.StdEncoding.DecodeString(encryptMsg)
	if err != nil || len(randomKey) != 32 || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fail
	}
	b, err := aes.NewCipher([]byte(randomKey))
	if err != nil {
		return nil, fail
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, []byte(randomKey)[:aes.BlockSize]).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n < 1 || n > aes.BlockSize || !bytes.Equal(pt[len(pt)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, fail
	}
	return pt[:len(pt)-n], nil
}

func (c *client) GetMediaData(ctx context.Context, indexBuf, sdkFileID, proxy, passwd string, timeout time.Duration) (finance.MediaChunk, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("GetMediaData"); err != nil {
		return finance.MediaChunk{}, err
	}
	data, ok := s.media[sdkFileID]
	if !ok {
		return finance.MediaChunk{}, &finance.Error{Op: "GetMediaData", Code: finance.ErrFileID}
	}
	off := 0
	if indexBuf != "" {
		n, err := strconv.Atoi(indexBuf)
		if err != nil || n < 0 || n > len(data) {
			return finance.MediaChunk{}, &finance.Error{Op: "GetMediaData", Code: finance.ErrParam, Message: "bad indexbuf"}
		}
		off = n
	}
	end := min(off+s.chunkSize, len(data))
	chunk := bytes.Clone(data[off:end])
	if n, ok := s.corrupt[sdkFileID]; ok && off/s.chunkSize == n && len(chunk) > 0 {
		chunk[len(chunk)/2] ^= 0xff
	}
	return finance.MediaChunk{Data: chunk, OutIndexBuf: strconv.Itoa(end), IsFinish: end == len(data)}, nil
}

func (c *client) Close() error {
	c.closed = true
	return nil
}
