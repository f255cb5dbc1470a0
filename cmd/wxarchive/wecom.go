package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/capture/wecom/callback"
)

func (a *app) wecomCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "wecom",
		Short: "WeCom and WeChat tools for administrators",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.wecomDecryptCmd())
	return c
}

// wecomDecryptCmd checks one captured callback request the way the
// receiver does, for an administrator wiring a callback URL: which of
// token, key, receive id or request is wrong.
func (a *app) wecomDecryptCmd() *cobra.Command {
	var token, aesKey, receiveID, timestamp, nonce, signature, echostr, body string
	c := &cobra.Command{
		Use:   "decrypt",
		Short: "Verify and decrypt a WeCom / Official Account callback request",
		Long: `Verify the signature of one callback request and print its plaintext, as the
receiver would. Give the query parameters of the request (timestamp, nonce,
msg_signature — or signature in plaintext mode) and either the echostr of a URL
verification (GET) or the body of a message (POST) in a file ("-" for stdin).

The token and EncodingAESKey may come from $WXARCHIVE_WECOM_TOKEN and
$WXARCHIVE_WECOM_AES_KEY instead of flags, to keep them out of shell history.
Without an EncodingAESKey the request is checked in plaintext mode (Official
Accounts): the signature covers the token, timestamp and nonce only.

Whatever decrypts is printed on stdout — a message, an event, a signal
(msgaudit_notify, kf_msg_or_event), a suite callback (suite_ticket,
create_auth…) — and stderr says what kind it is and what serve does with it.
Exit 0 when serve would accept it; exit 1 with the reason (signature,
padding, length, receive id, XML) when it would not. A
timestamp outside serve's freshness window (default ±5 minutes of this
machine's clock) is noted on stderr: serve refuses such a request.`,
		Example: `  wxarchive wecom decrypt --token QDG6eK --aes-key jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C \
    --receive-id wx5823bf96d3bd56c7 --timestamp 1409659813 --nonce 1372623149 \
    --signature 477715d11cdb4164915debcba66cb864d751f3e6 --body request.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("WXARCHIVE_WECOM_TOKEN")
			}
			if aesKey == "" {
				aesKey = os.Getenv("WXARCHIVE_WECOM_AES_KEY")
			}
			switch {
			case token == "":
				return usageErr("--token (or $WXARCHIVE_WECOM_TOKEN) is required")
			case timestamp == "" || nonce == "" || signature == "":
				return usageErr("--timestamp, --nonce and --signature are required (the request's query parameters)")
			case (echostr == "") == (body == ""):
				return usageErr("give exactly one of --echostr (URL verification) or --body FILE (a message)")
			case aesKey != "" && receiveID == "":
				return usageErr("--receive-id is required with --aes-key (the CorpID, suite id or AppID)")
			}
			cr, err := callback.NewCrypter(token, aesKey, receiveID)
			if err != nil {
				return usageErr("%v", err)
			}
			// A captured request is usually old: say so, since serve
			// would refuse it for that alone.
			if err := callback.CheckFresh(timestamp, time.Now(), 0); err != nil {
				fmt.Fprintf(a.stderr, "note: serve would refuse this request now: %v\n", err)
			}
			var encrypt string
			switch {
			case echostr != "":
				encrypt = echostr
			default:
				data, err := readInput(body)
				if err != nil {
					return usageErr("--body: %v", err)
				}
				if !cr.Encrypted() {
					// Plaintext mode: the body is the message itself.
					if err := cr.Verify(signature, timestamp, nonce); err != nil {
						return fmt.Errorf("signature (plaintext mode: token, timestamp, nonce): %w", err)
					}
					return a.printPlaintext(data)
				}
				env, err := callback.ParseEnvelope(data)
				if err != nil {
					return err
				}
				encrypt = env.Encrypt
			}
			if !cr.Encrypted() {
				if err := cr.Verify(signature, timestamp, nonce); err != nil {
					return fmt.Errorf("signature (plaintext mode: token, timestamp, nonce): %w", err)
				}
				_, err := fmt.Fprintln(a.stdout, echostr)
				return err
			}
			if err := cr.Verify(signature, timestamp, nonce, encrypt); err != nil {
				return fmt.Errorf("msg_signature (token, timestamp, nonce, encrypted text): %w", err)
			}
			msg, err := cr.Decrypt(encrypt)
			if err != nil {
				return err
			}
			if body == "" {
				fmt.Fprintln(a.stderr, "kind: URL verification: serve answers with this echostr")
				_, err = a.stdout.Write(append(msg, '\n'))
				return err
			}
			return a.printPlaintext(msg)
		},
	}
	f := c.Flags()
	f.StringVar(&token, "token", "", "the callback token ($WXARCHIVE_WECOM_TOKEN)")
	f.StringVar(&aesKey, "aes-key", "", "the 43-character EncodingAESKey ($WXARCHIVE_WECOM_AES_KEY); empty for plaintext mode")
	f.StringVar(&receiveID, "receive-id", "", "CorpID (WeCom app), suite id (third-party app) or AppID (Official Account)")
	f.StringVar(&timestamp, "timestamp", "", "the request's timestamp parameter")
	f.StringVar(&nonce, "nonce", "", "the request's nonce parameter")
	f.StringVar(&signature, "signature", "", "the request's msg_signature (or signature in plaintext mode)")
	f.StringVar(&echostr, "echostr", "", "the echostr of a URL verification request (GET)")
	f.StringVar(&body, "body", "", "file holding the body of a message request (POST); - for stdin")
	return c
}

// printPlaintext prints a callback plaintext whatever it is, says on
// stderr what it is, and fails with the reason serve would refuse it.
func (a *app) printPlaintext(plain []byte) error {
	if _, err := a.stdout.Write(append(plain, '\n')); err != nil {
		return err
	}
	what, err := callback.Describe(plain)
	fmt.Fprintln(a.stderr, "kind: "+what)
	if err != nil {
		return fmt.Errorf("decrypted, but: %w", err)
	}
	return nil
}

func readInput(name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, callback.MaxXMLBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > callback.MaxXMLBytes {
		return nil, errors.New("more than 1 MB: not a callback body")
	}
	return data, nil
}
