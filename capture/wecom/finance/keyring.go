package finance

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
)

// KeyRing holds the RSA private keys of every key version the firm has
// configured in WeCom. Each message names the version (publickey_ver) whose
// public key wrapped its random key, and old messages keep their old
// version: no version is ever dropped.
type KeyRing struct {
	keys map[int]*rsa.PrivateKey
}

// MissingKeyError is a message wrapped with a key version the ring lacks:
// a capture-health fault (the message cannot be read until the key is
// added), never a crash.
type MissingKeyError struct {
	Version int
	Have    []int
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("no private key for publickey_ver %d (key versions configured: %v)", e.Version, e.Have)
}

// ParseKeyRing reads PEM private keys by version: PKCS#1 ("RSA PRIVATE
// KEY") or PKCS#8 ("PRIVATE KEY"). Errors name the version, never the key.
func ParseKeyRing(pems map[int][]byte) (*KeyRing, error) {
	k := &KeyRing{keys: map[int]*rsa.PrivateKey{}}
	var errs []error
	for ver, b := range pems {
		key, err := parsePrivateKey(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("key version %d: %w", ver, err))
			continue
		}
		k.keys[ver] = key
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

func parsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if len(pemTrim(rest)) > 0 {
		return nil, errors.New("more than one PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a PKCS#8 %T key, want RSA", key)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("PEM block %q, want RSA PRIVATE KEY or PRIVATE KEY", block.Type)
}

func pemTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// Versions lists the configured key versions.
func (k *KeyRing) Versions() []int {
	v := make([]int, 0, len(k.keys))
	for ver := range k.keys {
		v = append(v, ver)
	}
	sort.Ints(v)
	return v
}

// Unwrap decrypts a message's encrypt_random_key (base64 of RSA PKCS#1 v1.5)
// with the private key of its version.
func (k *KeyRing) Unwrap(version int, encryptRandomKey string) (string, error) {
	key, ok := k.keys[version]
	if !ok {
		return "", &MissingKeyError{Version: version, Have: k.Versions()}
	}
	ct, err := base64.StdEncoding.DecodeString(encryptRandomKey)
	if err != nil {
		return "", fmt.Errorf("encrypt_random_key is not base64: %v", err)
	}
	pt, err := rsa.DecryptPKCS1v15(rand.Reader, key, ct)
	if err != nil {
		return "", fmt.Errorf("encrypt_random_key does not decrypt with key version %d: %v", version, err)
	}
	return string(pt), nil
}
