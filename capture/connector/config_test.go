package connector_test

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
)

// types are every registered connector type: the configuration is checked
// against their rules.
var types = all.Registry(all.Options{})

// Validate checks cs as serve does.
func Validate(cs []connector.Config) error { return types.Validate(cs) }

// SourceName is the archive source of a connector's messages.
func SourceName(c connector.Config) string { return types.Source(c) }

type file struct {
	Connectors []connector.Config `yaml:"connectors"`
}

func parse(t testing.TB, s string) ([]connector.Config, error) {
	t.Helper()
	var f file
	err := yaml.Unmarshal([]byte(s), &f)
	return f.Connectors, err
}

const good = `archive_id: x
connectors:
  - id: hr-app
    type: wecom-callback
    corp_id: ww5823bf96d3bd56c7
    token: {env: HR_TOKEN}
    aes_key: {file: /etc/wxarchive/hr.aeskey}
    app_secret: {env: HR_SECRET}
  - id: public-account
    type: oa-callback
    app_id: wx2c2769f8efd9abc2
    token: {env: OA_TOKEN}
    plaintext: true
    enabled: false
`

func TestConfigParse(t *testing.T) {
	cs, err := parse(t, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(cs); err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || callback.ReceiveID(&cs[0]) != "ww5823bf96d3bd56c7" || callback.ReceiveID(&cs[1]) != "wx2c2769f8efd9abc2" ||
		!cs[0].IsEnabled() || cs[1].IsEnabled() || cs[0].Token.Env != "HR_TOKEN" || cs[0].AESKey.File != "/etc/wxarchive/hr.aeskey" || cs[0].Line() != 3 {
		t.Fatalf("parsed %+v", cs)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"inline secret", "connectors:\n  - id: a\n    type: wecom-callback\n    corp_id: ww1\n    token: hunter2\n    aes_key: {env: K}\n",
			"line 2: connectors[0] (a): token: a secret must not be written in the configuration file: use {env: NAME} or {file: PATH} (line 5)"},
		{"missing token", "connectors:\n  - id: a\n    type: wecom-callback\n    corp_id: ww1\n    aes_key: {env: K}\n", "connectors[0] (a): token: required"},
		{"wecom needs a key", "connectors:\n  - id: a\n    type: wecom-callback\n    corp_id: ww1\n    token: {env: T}\n", "aes_key: required"},
		{"unknown type", "connectors:\n  - id: a\n    type: smoke-signal\n", `type: "smoke-signal": expected`},
		{"bad id", "connectors:\n  - id: HR App\n    type: oa-callback\n    app_id: wx1\n    token: {env: T}\n", `id: "HR App": use lower-case`},
		{"duplicate id", "connectors:\n  - {id: a, type: oa-callback, app_id: wx1, token: {env: T}}\n  - {id: a, type: oa-callback, app_id: wx2, token: {env: T}}\n", `line 3: connectors[1] (a): id: "a" is also connectors[0]`},
		{"both sources", "connectors:\n  - {id: a, type: oa-callback, app_id: wx1, token: {env: T, file: /x}}\n", "token: give env or file, not both"},
		{"wrong id field", "connectors:\n  - {id: a, type: oa-callback, corp_id: ww1, token: {env: T}}\n", "app_id: required"},
		{"bad api base", "connectors:\n  - {id: a, type: oa-callback, app_id: wx1, token: {env: T}, api_base: 'ftp://x'}\n", "api_base"},
	} {
		cs, err := parse(t, tc.yaml)
		if err == nil {
			err = Validate(cs)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
	// wecom-archive connectors.
	ok := "connectors:\n  - id: archive\n    type: wecom-archive\n    corp_id: ww1\n    secret: {env: S}\n    sdk_path: /opt/wecom/libWeWorkFinanceSdk_C.so\n    private_keys:\n      1: {file: /etc/k1.pem}\n      2: {file: /etc/k2.pem}\n    poll_interval: 1m\n"
	if cs, err := parse(t, ok); err != nil || Validate(cs) != nil || len(cs[0].PrivateKeys) != 2 || cs[0].PollInterval != time.Minute || SourceName(cs[0]) != "wecom-archive:ww1" {
		t.Fatalf("wecom-archive: %+v %v %v", cs, err, Validate(cs))
	}
	if cs, err := parse(t, "connectors:\n  - {id: svc, type: wecom-kf, corp_id: ww1, app_secret: {env: S}, open_kfid: wkA, poll_interval: 1m}\n"); err != nil || Validate(cs) != nil || SourceName(cs[0]) != "wecom-kf:ww1" {
		t.Fatalf("wecom-kf: %v %v", err, Validate(cs))
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"no keys", "connectors:\n  - {id: a, type: wecom-archive, corp_id: ww1, secret: {env: S}, sdk_path: /x.so}\n", "private_keys: required"},
		{"inline key", "connectors:\n  - {id: a, type: wecom-archive, corp_id: ww1, secret: {env: S}, sdk_path: /x.so, private_keys: {1: 'BEGIN'}}\n", "private_keys[1]: a secret must not be written"},
		{"no sdk", "connectors:\n  - {id: a, type: wecom-archive, corp_id: ww1, secret: {env: S}, private_keys: {1: {env: K}}}\n", "sdk_path: required"},
		{"fast poll", "connectors:\n  - {id: a, type: wecom-archive, corp_id: ww1, secret: {env: S}, sdk_path: /x.so, private_keys: {1: {env: K}}, poll_interval: 10ms}\n", "poll_interval: 10ms: at least 1s"},
		{"kf without secret", "connectors:\n  - {id: a, type: wecom-kf, corp_id: ww1}\n", "app_secret: required"},
		{"archive field on a callback", "connectors:\n  - {id: a, type: oa-callback, app_id: wx1, token: {env: T}, sdk_path: /x.so}\n", "sdk_path: is for wecom-archive"},
	} {
		cs, err := parse(t, tc.yaml)
		if err == nil {
			err = Validate(cs)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Unknown keys are parse errors with the line.
	for _, tc := range []struct{ name, yaml, want string }{
		{"misspelt key", "connectors:\n  - id: a\n    type: oa-callback\n    appid: wx1\n", `line 4: unknown key "appid"`},
		{"misspelt secret key", "connectors:\n  - id: a\n    token: {environment: T}\n", `line 3: unknown key "environment"`},
		{"not a mapping", "connectors:\n  - just-a-name\n", "line 2: a connector is a mapping"},
	} {
		if _, err := parse(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Every problem is reported, not only the first.
	cs, _ := parse(t, "connectors:\n  - {id: a, type: oa-callback}\n  - {id: b, type: wecom-callback}\n")
	if err := Validate(cs); err == nil || strings.Count(err.Error(), "\n") < 4 {
		t.Errorf("all problems: %v", err)
	}
}

// TestConfigPlaintext: an Official Account callback without an
// EncodingAESKey (plaintext mode, forgeable by anyone who sees one request)
// is refused at load, naming the line, unless the configuration says
// plaintext: true; the freshness window is bounded.
func TestConfigPlaintext(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"plaintext without consent", "connectors:\n  - id: public\n    type: oa-callback\n    app_id: wx1\n    token: {env: T}\n",
			"line 2: connectors[0] (public): aes_key: required unless plaintext: true"},
		{"both", "connectors:\n  - {id: public, type: oa-callback, app_id: wx1, token: {env: T}, aes_key: {env: K}, plaintext: true}\n",
			"line 2: connectors[0] (public): plaintext: true with an aes_key"},
		{"plaintext on a WeCom app", "connectors:\n  - {id: a, type: wecom-callback, corp_id: ww1, token: {env: T}, aes_key: {env: K}, plaintext: true}\n",
			"plaintext: is for oa-callback connectors"},
		{"window too wide", "connectors:\n  - {id: a, type: wecom-callback, corp_id: ww1, token: {env: T}, aes_key: {env: K}, freshness: 2h}\n",
			"freshness: 2h0m0s: between 30s and 1h0m0s"},
		{"window on a pull", "connectors:\n  - {id: a, type: wecom-kf, corp_id: ww1, app_secret: {env: S}, freshness: 1m}\n",
			"freshness: is for wecom-callback, oa-callback connectors"},
	} {
		cs, err := parse(t, tc.yaml)
		if err == nil {
			err = Validate(cs)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, y := range []string{
		"connectors:\n  - {id: public, type: oa-callback, app_id: wx1, token: {env: T}, plaintext: true}\n",
		"connectors:\n  - {id: public, type: oa-callback, app_id: wx1, token: {env: T}, aes_key: {env: K}, freshness: 2m}\n",
	} {
		cs, err := parse(t, y)
		if err != nil || Validate(cs) != nil {
			t.Errorf("%q: %v %v", y, err, Validate(cs))
		}
	}
}

// FuzzConfig: any YAML gives connectors or an error, and validation never
// panics.
func FuzzConfig(f *testing.F) {
	f.Add(good)
	f.Add("connectors:\n  - {id: a, type: oa-callback, app_id: wx1, token: hunter2}\n")
	f.Add("connectors: [1, [2], {token: {env: [x]}}]\n")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := parse(t, s)
		if err != nil {
			return
		}
		if err := Validate(cs); err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("validation error shows an inline secret: %v", err)
		}
		for _, c := range cs {
			callback.ReceiveID(&c)
			c.IsEnabled()
		}
	})
}
