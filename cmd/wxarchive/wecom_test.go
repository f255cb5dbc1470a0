package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/capture/wecom/callback"
)

// The WeCom vector of shared/fixtures/wecom/callback/vectors.json.
const (
	vToken   = "QDG6eK"
	vKey     = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	vRID     = "wx5823bf96d3bd56c7"
	vTS      = "1409659813"
	vNonce   = "1372623149"
	vSig     = "477715d11cdb4164915debcba66cb864d751f3e6"
	vEncrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)

func envelope(enc string) string {
	return "<xml><ToUserName><![CDATA[" + vRID + "]]></ToUserName>\n<Encrypt><![CDATA[" + enc + "]]></Encrypt>\n<AgentID><![CDATA[218]]></AgentID>\n</xml>"
}

// TestCLIWecomDecryptEnv: the token and key can come from the environment
// (not the shell history). Not parallel: it sets the environment.
func TestCLIWecomDecryptEnv(t *testing.T) {
	body := filepath.Join(t.TempDir(), "ok.xml")
	if err := os.WriteFile(body, []byte(envelope(vEncrypt)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WXARCHIVE_WECOM_TOKEN", vToken)
	t.Setenv("WXARCHIVE_WECOM_AES_KEY", vKey)
	out := mustCLI(t, "wecom", "decrypt", "--receive-id", vRID, "--timestamp", vTS, "--nonce", vNonce, "--signature", vSig, "--body", body)
	if !strings.Contains(out, "<Content><![CDATA[hello]]></Content>") {
		t.Fatalf("decrypt with secrets from the environment: %s", out)
	}
}

func TestCLIWecomDecrypt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cr, err := callback.NewCrypter(vToken, vKey, vRID)
	if err != nil {
		t.Fatal(err)
	}
	body := write("ok.xml", envelope(vEncrypt))
	base := []string{"wecom", "decrypt", "--token", vToken, "--aes-key", vKey, "--receive-id", vRID, "--timestamp", vTS, "--nonce", vNonce}

	// The published message: signature verified, plaintext printed.
	out := mustCLI(t, append(base, "--signature", vSig, "--body", body)...)
	if !strings.Contains(out, "<Content><![CDATA[hello]]></Content>") || !strings.Contains(out, "<MsgId>4561255354251345929</MsgId>") {
		t.Fatalf("decrypt: %s", out)
	}
	// URL verification: an encrypted echostr.
	cr.Rand = strings.NewReader("0123456789abcdef")
	echo, err := cr.Encrypt([]byte("8346218347583412"))
	if err != nil {
		t.Fatal(err)
	}
	out = mustCLI(t, append(base, "--signature", cr.Sign(vTS, vNonce, echo), "--echostr", echo)...)
	if out != "8346218347583412\n" {
		t.Fatalf("echostr: %q", out)
	}

	ct, _ := base64.StdEncoding.DecodeString(vEncrypt)
	truncated := base64.StdEncoding.EncodeToString(ct[:len(ct)-16])
	other, _ := callback.NewCrypter(vToken, vKey, "ww_other_corp")
	misaddressed, _ := other.Encrypt([]byte("<xml/>"))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"tampered signature", append(base, "--signature", "0"+vSig[1:], "--body", body), 1, "msg_signature (token, timestamp, nonce, encrypted text): verify: signature mismatch"},
		{"wrong token", append([]string{"wecom", "decrypt", "--token", "nope", "--aes-key", vKey, "--receive-id", vRID, "--timestamp", vTS, "--nonce", vNonce}, "--signature", vSig, "--body", body), 1, "signature mismatch"},
		{"wrong receive id", append([]string{"wecom", "decrypt", "--token", vToken, "--aes-key", vKey, "--receive-id", "ww_mine", "--timestamp", vTS, "--nonce", vNonce}, "--signature", vSig, "--body", body), 1, `receive id mismatch: message is for "wx5823bf96d3bd56c7", this receiver is "ww_mine"`},
		{"bad padding", append(base, "--signature", cr.Sign(vTS, vNonce, truncated), "--body", write("trunc.xml", envelope(truncated))), 1, "bad padding"},
		{"bad length", append(base, "--signature", cr.Sign(vTS, vNonce, "AAAA"), "--echostr", "AAAA"), 1, "bad ciphertext length"},
		{"other corp's message", append(base, "--signature", cr.Sign(vTS, vNonce, misaddressed), "--echostr", misaddressed), 1, `message is for "ww_other_corp"`},
		{"doctype body", append(base, "--signature", vSig, "--body", write("dtd.xml", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>`)), 1, "no DOCTYPE"},
		{"short key", append([]string{"wecom", "decrypt", "--token", vToken, "--aes-key", "abc", "--receive-id", vRID, "--timestamp", vTS, "--nonce", vNonce}, "--signature", vSig, "--body", body), 2, "want 43 characters"},
		{"both inputs", append(base, "--signature", vSig, "--body", body, "--echostr", "x"), 2, "exactly one of"},
		{"no signature", append(base, "--body", body), 2, "--signature"},
		{"missing file", append(base, "--signature", vSig, "--body", filepath.Join(dir, "none.xml")), 2, "--body"},
	} {
		out, errs, code := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d mentioning %q", tc.name, code, out, errs, tc.code, tc.want)
		}
		// Secrets never reach the output.
		if strings.Contains(errs, vKey) || strings.Contains(errs, "QDG6eK") {
			t.Errorf("%s: stderr shows a secret: %q", tc.name, errs)
		}
	}

	// Whatever decrypts is printed, with what kind it is: a suite
	// callback (encrypted to the suite id), a signal WeCom sends without
	// FromUserName, and a document serve would refuse — printed too, exit 1.
	const suite = "ww4asffe99e54c0fxxxx"
	forSuite, _ := callback.NewCrypter(vToken, vKey, suite)
	for _, tc := range []struct {
		name, rid, plain string
		code             int
		kind             string
	}{
		{"suite_ticket", suite, "<xml><SuiteId><![CDATA[" + suite + "]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType><TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>",
			0, "kind: suite callback suite_ticket"},
		{"kf_msg_or_event", vRID, "<xml><ToUserName><![CDATA[" + vRID + "]]></ToUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token><OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>",
			0, "kind: signal kf_msg_or_event"},
		{"not a message", vRID, "<xml><Hello>world</Hello></xml>", 1, "kind: not a message or event the receiver accepts"},
		{"not XML", vRID, "你好", 1, "kind: not a callback document"},
	} {
		c, _ := callback.NewCrypter(vToken, vKey, vRID)
		if tc.rid == suite {
			c = forSuite
		}
		enc, err := c.Encrypt([]byte(tc.plain))
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"wecom", "decrypt", "--token", vToken, "--aes-key", vKey, "--receive-id", tc.rid, "--timestamp", vTS, "--nonce", vNonce,
			"--signature", cr.Sign(vTS, vNonce, enc), "--body", write(tc.name+".xml", envelope(enc))}
		out, errs, code := runCLI(t, args...)
		if code != tc.code || out != tc.plain+"\n" || !strings.Contains(errs, tc.kind) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, the plaintext, and %q", tc.name, code, out, errs, tc.code, tc.kind)
		}
	}

	// Plaintext mode (an Official Account without encryption).
	pt := "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1409735668</CreateTime><MsgType>text</MsgType><Content>保本</Content><MsgId>1</MsgId></xml>"
	ptArgs := []string{"wecom", "decrypt", "--token", "spamtest", "--timestamp", "1409735669", "--nonce", "1320562132"}
	sig := "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a" // sha1("13205621321409735669spamtest")
	if out := mustCLI(t, append(ptArgs, "--signature", sig, "--body", write("pt.xml", pt))...); !strings.Contains(out, "保本") {
		t.Fatalf("plaintext mode: %q", out)
	}
	if out := mustCLI(t, append(ptArgs, "--signature", sig, "--echostr", "hello123")...); out != "hello123\n" {
		t.Fatalf("plaintext echostr: %q", out)
	}
	if _, errs, code := runCLI(t, append(ptArgs, "--signature", "x"+sig[1:], "--echostr", "hello123")...); code != 1 || !strings.Contains(errs, "signature mismatch") {
		t.Fatalf("plaintext bad signature: exit %d, %q", code, errs)
	}
}

// TestCLIWecomDecryptStale: a captured request whose timestamp serve's
// freshness window would refuse is decrypted, with a note saying so.
func TestCLIWecomDecryptStale(t *testing.T) {
	args := []string{"wecom", "decrypt", "--token", "spamtest", "--timestamp", "1409735669", "--nonce", "1320562132",
		"--signature", "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a", "--echostr", "hello123"}
	out, errs, code := runCLI(t, args...)
	if code != 0 || out != "hello123\n" || !strings.Contains(errs, "note: serve would refuse this request now") || !strings.Contains(errs, "days before this server's clock") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
