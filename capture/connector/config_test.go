package connector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type file struct {
	Connectors []Config `yaml:"connectors"`
}

func parse(t testing.TB, s string) ([]Config, error) {
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
	if len(cs) != 2 || cs[0].ReceiveID() != "ww5823bf96d3bd56c7" || cs[1].ReceiveID() != "wx2c2769f8efd9abc2" ||
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

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	os.WriteFile(p, []byte("s3cret\n"), 0o600)
	t.Setenv("WXA_TEST_SECRET", "from-env")
	for _, tc := range []struct {
		s       Secret
		want    string
		wantErr string
	}{
		{Secret{File: p}, "s3cret", ""},
		{Secret{Env: "WXA_TEST_SECRET"}, "from-env", ""},
		{Secret{Env: "WXA_TEST_UNSET_SECRET"}, "", "WXA_TEST_UNSET_SECRET is not set"},
		{Secret{File: filepath.Join(dir, "none")}, "", "read " + filepath.Join(dir, "none")},
		{Secret{}, "", "not configured"},
		{Secret{inline: true}, "", "written in the configuration file"},
	} {
		got, err := tc.s.Resolve()
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: %q, %v; want %q, %q", tc.s, got, err, tc.want, tc.wantErr)
		}
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := (Secret{File: p}).Resolve(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
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
			c.ReceiveID()
			c.IsEnabled()
		}
	})
}

// TestConfigArchiveAPI: the optional REST section of a wecom-archive
// connector and its expected employees.
func TestConfigArchiveAPI(t *testing.T) {
	const head = "connectors:\n  - id: archive\n    type: wecom-archive\n    corp_id: ww1\n    secret: {env: WXA_TEST_MSGAUDIT}\n    sdk_path: /x.so\n    private_keys: {1: {env: K}}\n"
	cs, err := parse(t, head+"    api_base: http://127.0.0.1:9\n    api:\n      room_refresh: 12h\n      permit_interval: 30m\n      min_interval: 50ms\n      consent_batch: 20\n    expected_employees: [zhangwei, lina]\n")
	if err != nil || Validate(cs) != nil {
		t.Fatalf("%v %v", err, Validate(cs))
	}
	a := cs[0].API
	if a == nil || a.RoomRefresh != 12*time.Hour || a.PermitInterval != 30*time.Minute || a.ConsentRefresh != 0 || a.MinInterval != 50*time.Millisecond ||
		a.ConsentBatch != 20 || strings.Join(cs[0].ExpectedEmployees, ",") != "zhangwei,lina" {
		t.Fatalf("parsed %+v %+v", a, cs[0])
	}
	t.Setenv("WXA_TEST_MSGAUDIT", "the-msgaudit-secret")
	cl, err := cs[0].ArchiveAPIClient()
	if err != nil || cl == nil || cl.BaseURL != "http://127.0.0.1:9" || cl.ID != "ww1" || cl.Secret != "the-msgaudit-secret" {
		t.Fatalf("client %+v, %v", cl, err)
	}
	// `api: {}` turns the calls on with the defaults; no section, no client.
	if cs, err := parse(t, head+"    api: {}\n"); err != nil || Validate(cs) != nil || cs[0].API == nil {
		t.Fatalf("api: {}: %v", err)
	}
	if cs, _ := parse(t, head); cs[0].API != nil {
		t.Fatal("api section without the key")
	} else if cl, err := cs[0].ArchiveAPIClient(); cl != nil || err != nil {
		t.Fatalf("no api section: %v %v", cl, err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"employees without api", head + "    expected_employees: [zhangwei]\n", "expected_employees: needs the api section"},
		{"duplicate employee", head + "    api: {}\n    expected_employees: [a, a]\n", `expected_employees[1]: "a" is listed twice`},
		{"fast refresh", head + "    api: {room_refresh: 10s}\n", "api.room_refresh: 10s: at least 1m"},
		{"slow rate", head + "    api: {min_interval: 2m}\n", "api.min_interval"},
		{"huge batch", head + "    api: {consent_batch: 5000}\n", "api.consent_batch"},
		{"api on a callback", "connectors:\n  - {id: a, type: oa-callback, app_id: wx1, token: {env: T}, api: {}}\n", "api: is for wecom-archive"},
	} {
		cs, err := parse(t, tc.yaml)
		if err == nil {
			err = Validate(cs)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A misspelt key inside the section is a parse error with its line.
	if _, err := parse(t, head+"    api:\n      room_refesh: 1h\n"); err == nil || !strings.Contains(err.Error(), `line 9: unknown key "room_refesh"`) {
		t.Fatalf("misspelt api key: %v", err)
	}
	// The secret is never in an error.
	t.Setenv("WXA_TEST_MSGAUDIT", "")
	if _, err := cs[0].ArchiveAPIClient(); err == nil || !strings.Contains(err.Error(), "WXA_TEST_MSGAUDIT is not set") {
		t.Fatalf("unset secret: %v", err)
	}
}

// TestConfigContactSecret: the optional customer-contact secret of a
// wecom-archive connector's api section, read from env or file like every
// secret, and its client apart from the msgaudit one.
func TestConfigContactSecret(t *testing.T) {
	const head = "connectors:\n  - id: archive\n    type: wecom-archive\n    corp_id: ww1\n    secret: {env: WXA_TEST_MSGAUDIT}\n    sdk_path: /x.so\n    private_keys: {1: {env: K}}\n    api_base: http://127.0.0.1:9\n"
	cs, err := parse(t, head+"    api:\n      room_refresh: 12h\n      contact_secret: {env: WXA_TEST_CONTACT}\n")
	if err != nil || Validate(cs) != nil {
		t.Fatalf("%v %v", err, Validate(cs))
	}
	if a := cs[0].API; a == nil || a.ContactSecret.Env != "WXA_TEST_CONTACT" || a.RoomRefresh != 12*time.Hour {
		t.Fatalf("parsed %+v", a)
	}
	t.Setenv("WXA_TEST_MSGAUDIT", "the-msgaudit-secret")
	t.Setenv("WXA_TEST_CONTACT", "the-contact-secret")
	archive, err := cs[0].ArchiveAPIClient()
	if err != nil {
		t.Fatal(err)
	}
	contact, err := cs[0].ContactAPIClient()
	if err != nil || contact == nil || contact == archive || contact.Secret != "the-contact-secret" || contact.ID != "ww1" || contact.BaseURL != "http://127.0.0.1:9" || archive.Secret != "the-msgaudit-secret" {
		t.Fatalf("contact client %+v, %v (archive client %p)", contact, err, archive)
	}
	// From a file.
	p := filepath.Join(t.TempDir(), "contact")
	if err := os.WriteFile(p, []byte("file-contact-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cs2, err := parse(t, head+"    api: {contact_secret: {file: "+p+"}}\n")
	if err != nil || Validate(cs2) != nil {
		t.Fatalf("%v %v", err, Validate(cs2))
	}
	if cl, err := cs2[0].ContactAPIClient(); err != nil || cl.Secret != "file-contact-secret" {
		t.Fatalf("from a file: %+v %v", cl, err)
	}
	// Optional: no contact_secret (or no api section), no client.
	for _, y := range []string{head + "    api: {}\n", head} {
		cs, err := parse(t, y)
		if err != nil || Validate(cs) != nil {
			t.Fatalf("%v %v", err, Validate(cs))
		}
		if cl, err := cs[0].ContactAPIClient(); cl != nil || err != nil {
			t.Fatalf("without contact_secret: %+v %v", cl, err)
		}
	}
	// Parse errors name the line of the unknown key.
	for _, tc := range []struct{ name, yaml, want string }{
		{"misspelt key", head + "    api:\n      room_refresh: 1h\n      contact_secrets: {env: X}\n", `line 11: unknown key "contact_secrets"`},
		{"misspelt secret key", head + "    api:\n      contact_secret:\n        environment: X\n", `line 11: unknown key "environment"`},
	} {
		if _, err := parse(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Validation errors, never with the secret's value.
	for _, tc := range []struct{ name, yaml, want string }{
		{"inline", head + "    api:\n      contact_secret: hunter2\n", "api.contact_secret: a secret must not be written in the configuration file: use {env: NAME} or {file: PATH} (line 10)"},
		{"both", head + "    api: {contact_secret: {env: X, file: /x}}\n", "api.contact_secret: give env or file, not both"},
	} {
		cs, err := parse(t, tc.yaml)
		if err == nil {
			err = Validate(cs)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A secret that cannot be read: where it was looked for, not its value.
	t.Setenv("WXA_TEST_CONTACT", "")
	if _, err := cs[0].ContactAPIClient(); err == nil || err.Error() != "contact_secret: environment variable WXA_TEST_CONTACT is not set" {
		t.Fatalf("unset contact secret: %v", err)
	}
}
