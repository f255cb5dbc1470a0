package callback

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// vectors are the published WXBizMsgCrypt test vectors
// (testdata/vectors.json, a copy of shared/fixtures/wecom/callback).
type vector struct {
	Token          string `json:"token"`
	EncodingAESKey string `json:"encoding_aes_key"`
	ReceiveID      string `json:"receive_id"`
	Timestamp      string `json:"timestamp"`
	Nonce          string `json:"nonce"`
	MsgSignature   string `json:"msg_signature"`
	Encrypt        string `json:"encrypt"`
	ExpectMsg      string `json:"expect_msg"`
	Random         string `json:"random"`
	Msg            string `json:"msg"`
	ExpectEncrypt  string `json:"expect_encrypt"`
}

func loadVectors(t testing.TB) map[string]vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]vector{}
	for name, r := range raw {
		if strings.HasPrefix(name, "_") {
			continue
		}
		var v vector
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = v
	}
	if len(out) < 3 {
		t.Fatalf("only %d vectors", len(out))
	}
	return out
}

func TestVectors(t *testing.T) {
	for name, v := range loadVectors(t) {
		t.Run(name, func(t *testing.T) {
			token := v.Token
			if token == "" {
				token = "unused"
			}
			c, err := NewCrypter(token, v.EncodingAESKey, v.ReceiveID)
			if err != nil {
				t.Fatal(err)
			}
			if v.ExpectEncrypt != "" {
				// Encryption with a fixed random prefix reproduces the vector.
				c.Rand = strings.NewReader(v.Random)
				got, err := c.Encrypt([]byte(v.Msg))
				if err != nil {
					t.Fatal(err)
				}
				if got != v.ExpectEncrypt {
					t.Fatalf("encrypt: got %s, want %s", got, v.ExpectEncrypt)
				}
				msg, err := c.Decrypt(v.ExpectEncrypt)
				if err != nil || string(msg) != v.Msg {
					t.Fatalf("decrypt of the vector: %q, %v", msg, err)
				}
				return
			}
			if err := c.Verify(v.MsgSignature, v.Timestamp, v.Nonce, v.Encrypt); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if err := c.Verify(strings.ToUpper(v.MsgSignature), v.Timestamp, v.Nonce, v.Encrypt); err != nil {
				t.Fatalf("upper-case signature: %v", err)
			}
			msg, err := c.Decrypt(v.Encrypt)
			if err != nil {
				t.Fatal(err)
			}
			if string(msg) != v.ExpectMsg {
				t.Fatalf("decrypt: got %q, want %q", msg, v.ExpectMsg)
			}
			m, err := ParseMessage(msg)
			if err != nil {
				t.Fatal(err)
			}
			if m.MsgType != "text" || m.MsgID == "" || m.CreateTime == 0 || m.Doc.Value("Content") == "" {
				t.Fatalf("parsed %+v", m)
			}
			// Our own encryption round-trips through our decryption.
			enc, err := c.Encrypt(msg)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := c.Decrypt(enc); err != nil || !bytes.Equal(again, msg) {
				t.Fatalf("round trip: %q, %v", again, err)
			}
		})
	}
}

// rawEncrypt builds a ciphertext with an arbitrary plaintext (no padding
// added), to forge the faults a decrypter must catch.
func rawEncrypt(t *testing.T, key string, pt []byte) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key + "=")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(k)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, k[:16]).CryptBlocks(ct, pt)
	return base64.StdEncoding.EncodeToString(ct)
}

func pad(pt []byte) []byte {
	n := 32 - len(pt)%32
	return append(pt, bytes.Repeat([]byte{byte(n)}, n)...)
}

func frame(msg, rid string, declared int) []byte {
	pt := make([]byte, 20)
	copy(pt, "0123456789abcdef")
	binary.BigEndian.PutUint32(pt[16:], uint32(declared))
	return append(append(pt, msg...), rid...)
}

// TestRejects: every way a callback can be forged, truncated or
// misaddressed is refused with the reason, and never decrypts.
func TestRejects(t *testing.T) {
	v := loadVectors(t)["wecom_message"]
	c, err := NewCrypter(v.Token, v.EncodingAESKey, v.ReceiveID)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(v.Encrypt)
	flip := func(i int) string {
		b := bytes.Clone(ct)
		b[i] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}

	// Signatures: each input is covered.
	for _, tc := range []struct {
		name                 string
		sig, ts, nonce, encr string
	}{
		{"tampered signature", "577715d11cdb4164915debcba66cb864d751f3e6", v.Timestamp, v.Nonce, v.Encrypt},
		{"empty signature", "", v.Timestamp, v.Nonce, v.Encrypt},
		{"other timestamp", v.MsgSignature, "1409659814", v.Nonce, v.Encrypt},
		{"other nonce", v.MsgSignature, v.Timestamp, "1372623148", v.Encrypt},
		{"tampered ciphertext", v.MsgSignature, v.Timestamp, v.Nonce, flip(40)},
	} {
		if err := c.Verify(tc.sig, tc.ts, tc.nonce, tc.encr); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want a signature mismatch", tc.name, err)
		}
	}
	other, _ := NewCrypter("another-token", v.EncodingAESKey, v.ReceiveID)
	if err := other.Verify(v.MsgSignature, v.Timestamp, v.Nonce, v.Encrypt); !errors.Is(err, ErrSignature) {
		t.Errorf("wrong token: %v", err)
	}

	// Decryption faults.
	for _, tc := range []struct {
		name string
		enc  string
		want error
		in   string
	}{
		{"wrong receive id", rawEncrypt(t, v.EncodingAESKey, pad(frame("<xml/>", "wx0000000000000000", 6))), ErrReceiveID, `"wx0000000000000000"`},
		{"truncated ciphertext", base64.StdEncoding.EncodeToString(ct[:len(ct)-5]), ErrLength, "AES blocks"},
		{"truncated by whole blocks", base64.StdEncoding.EncodeToString(ct[:len(ct)-16]), ErrPadding, "pad"},
		{"last block flipped", flip(len(ct) - 1), ErrPadding, "pad"},
		{"pad byte zero", rawEncrypt(t, v.EncodingAESKey, append(frame("ab", v.ReceiveID, 2)[:32], make([]byte, 32)...)), ErrPadding, "pad byte 0"},
		{"pad byte 33", rawEncrypt(t, v.EncodingAESKey, bytes.Repeat([]byte{33}, 64)), ErrPadding, "pad byte 33"},
		{"uneven padding", rawEncrypt(t, v.EncodingAESKey, append(bytes.Repeat([]byte{'x'}, 60), 4, 3, 4, 4)), ErrPadding, "differ"},
		{"declared length too long", rawEncrypt(t, v.EncodingAESKey, pad(frame("<xml/>", v.ReceiveID, 5000))), ErrFrame, "5000"},
		{"shorter than the frame", rawEncrypt(t, v.EncodingAESKey, pad([]byte("0123456789"))), ErrFrame, "shorter"},
		{"not base64", "!!!" + v.Encrypt, ErrBase64, ""},
		{"empty", "", ErrLength, "0 bytes"},
		{"too large", strings.Repeat("A", 2<<20), ErrLength, "more than"},
	} {
		msg, err := c.Decrypt(tc.enc)
		var e *Error
		if msg != nil || !errors.Is(err, tc.want) || !errors.As(err, &e) || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("%s: %q, %v; want %v mentioning %q", tc.name, msg, err, tc.want, tc.in)
		}
	}
	// The frame check alone: a correct frame for the right id decrypts.
	if msg, err := c.Decrypt(rawEncrypt(t, v.EncodingAESKey, pad(frame("<xml/>", v.ReceiveID, 6)))); err != nil || string(msg) != "<xml/>" {
		t.Fatalf("a well-formed frame: %q, %v", msg, err)
	}
}

func TestNewCrypterKey(t *testing.T) {
	for _, tc := range []struct{ token, key, want string }{
		{"t", "short", "want 43 characters, got 5"},
		{"t", strings.Repeat("!", 43), "not base64"},
		{"", strings.Repeat("a", 43), "token is empty"},
	} {
		if _, err := NewCrypter(tc.token, tc.key, "wx1"); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key %q: %v, want %q", tc.key, err, tc.want)
		}
	}
	// Plaintext mode (an Official Account without a key): signatures only.
	c, err := NewCrypter("spamtest", "", "wx1")
	if err != nil || c.Encrypted() {
		t.Fatalf("plaintext mode: %v", err)
	}
	if err := c.Verify(c.Sign("1409735669", "1320562132"), "1409735669", "1320562132"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt("AAAA"); !errors.Is(err, ErrKey) {
		t.Fatalf("decrypt without a key: %v", err)
	}
	// The documented signature: sha1 of the sorted, concatenated strings.
	// sort(["spamtest", "1409735669", "1320562132"]) = 1320562132 1409735669 spamtest.
	// (hashlib.sha1(b"13205621321409735669spamtest").hexdigest())
	if got := c.Sign("1409735669", "1320562132"); got != "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a" {
		t.Fatalf("sign: %s", got)
	}
}
