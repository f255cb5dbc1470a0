package callback

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseXML: any bytes give a document or an *Error, never a panic, and
// a document's fields are what a re-parse of the same bytes gives.
func FuzzParseXML(f *testing.F) {
	for _, s := range []string{
		`<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>保本</Content><MsgId>1</MsgId></xml>`,
		`<xml><MsgType>event</MsgType><SendPicsInfo><PicList><item><PicMd5Sum>a</PicMd5Sum></item></PicList></SendPicsInfo></xml>`,
		`<!DOCTYPE xml [<!ENTITY x "y">]><xml>&x;</xml>`,
		`<?xml version="1.0"?><xml><a>&lt;&amp;</a></xml>`,
		// WeCom's documented kf_msg_or_event (no FromUserName) and suite
		// callbacks (third-party documentation).
		"<xml>\n   <ToUserName><![CDATA[ww12345678910]]></ToUserName>\n   <CreateTime>1348831860</CreateTime>\n   <MsgType><![CDATA[event]]></MsgType>\n   <Event><![CDATA[kf_msg_or_event]]></Event>\n   <Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>\n   <OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId>\n</xml>",
		`<xml><SuiteId><![CDATA[ww4asffe99e54c0fxxxx]]></SuiteId><InfoType> <![CDATA[suite_ticket]]></InfoType><TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>`,
		`<xml><SuiteId><![CDATA[ww4asffe99e54c0f4c]]></SuiteId><AuthCode><![CDATA[AUTHCODE]]></AuthCode><InfoType><![CDATA[create_auth]]></InfoType><TimeStamp>1403610513</TimeStamp><State><![CDATA[123]]></State></xml>`,
		`<xml><SuiteId>s</SuiteId><InfoType>register_corp</InfoType><AccessToken>a&amp;b&lt;c</AccessToken><AccessToken>x</AccessToken><RegisterCode/></xml>`,
	} {
		f.Add([]byte(s))
	}
	// WeCom's and the Official Account platform's documented examples
	// (testdata/documented/SOURCES.md).
	files, _ := filepath.Glob("testdata/documented/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseXML(data)
		if err != nil {
			var e *Error
			if doc != nil || !errors.As(err, &e) || !errors.Is(err, ErrXML) {
				t.Fatalf("error %v (%T) with document %v", err, err, doc)
			}
			return
		}
		again, err := ParseXML(data)
		if err != nil || len(again.Fields) != len(doc.Fields) {
			t.Fatalf("re-parse differs: %v", err)
		}
		if _, err := ParseMessage(data); err != nil && !errors.Is(err, ErrXML) {
			t.Fatalf("ParseMessage: %v", err)
		}
		if what, err := Describe(data); what == "" || (err != nil && !errors.Is(err, ErrXML)) {
			t.Fatalf("Describe: %q, %v", what, err)
		}
		// Redaction leaves no credential in the bytes it returns, and
		// what it returns still parses.
		red, changed := Redacted(data, doc)
		rdoc, err := ParseXML(red)
		if err != nil {
			t.Fatalf("redacted document does not parse: %v\n%s", err, red)
		}
		for _, f := range doc.Fields {
			if changed && secretField(f.Name) && len(f.Value) >= 8 && bytes.Contains(red, []byte(f.Value)) {
				t.Fatalf("redacted document keeps %s", f.Name)
			}
		}
		if len(rdoc.Fields) != len(doc.Fields) {
			t.Fatalf("redaction changed the fields: %d, want %d", len(rdoc.Fields), len(doc.Fields))
		}
	})
}

// FuzzDecrypt: any ciphertext decrypts or fails with a typed reason; a
// message we encrypt always decrypts back.
func FuzzDecrypt(f *testing.F) {
	c, err := NewCrypter("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc", []byte("<xml/>"))
	f.Add("", []byte(""))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", []byte("保本"))
	f.Fuzz(func(t *testing.T, enc string, msg []byte) {
		out, err := c.Decrypt(enc)
		if err != nil {
			var e *Error
			if out != nil || !errors.As(err, &e) {
				t.Fatalf("error %v (%T) with output", err, err)
			}
		}
		if len(msg) > 4096 {
			return
		}
		sealed, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decrypt(sealed)
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("round trip of %q: %q, %v", msg, back, err)
		}
		if err := c.Verify(c.Sign("1", "2", sealed), "1", "2", sealed); err != nil {
			t.Fatal(err)
		}
	})
}
