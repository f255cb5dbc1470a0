package pull_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
)

// parse reads the connectors section of a configuration file.
func parse(t testing.TB, s string) ([]connector.Config, error) {
	t.Helper()
	var f struct {
		Connectors []connector.Config `yaml:"connectors"`
	}
	err := yaml.Unmarshal([]byte(s), &f)
	return f.Connectors, err
}

// Validate checks cs against every registered connector type, as serve does.
func Validate(cs []connector.Config) error { return all.Registry(all.Options{}).Validate(cs) }

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
	cl, err := pull.ArchiveAPIClient(&cs[0])
	if err != nil || cl == nil || cl.BaseURL != "http://127.0.0.1:9" || cl.ID != "ww1" || cl.Secret != "the-msgaudit-secret" {
		t.Fatalf("client %+v, %v", cl, err)
	}
	// `api: {}` turns the calls on with the defaults; no section, no client.
	if cs, err := parse(t, head+"    api: {}\n"); err != nil || Validate(cs) != nil || cs[0].API == nil {
		t.Fatalf("api: {}: %v", err)
	}
	if cs, _ := parse(t, head); cs[0].API != nil {
		t.Fatal("api section without the key")
	} else if cl, err := pull.ArchiveAPIClient(&cs[0]); cl != nil || err != nil {
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
	if _, err := pull.ArchiveAPIClient(&cs[0]); err == nil || !strings.Contains(err.Error(), "WXA_TEST_MSGAUDIT is not set") {
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
	archive, err := pull.ArchiveAPIClient(&cs[0])
	if err != nil {
		t.Fatal(err)
	}
	contact, err := pull.ContactAPIClient(&cs[0])
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
	if cl, err := pull.ContactAPIClient(&cs2[0]); err != nil || cl.Secret != "file-contact-secret" {
		t.Fatalf("from a file: %+v %v", cl, err)
	}
	// Optional: no contact_secret (or no api section), no client.
	for _, y := range []string{head + "    api: {}\n", head} {
		cs, err := parse(t, y)
		if err != nil || Validate(cs) != nil {
			t.Fatalf("%v %v", err, Validate(cs))
		}
		if cl, err := pull.ContactAPIClient(&cs[0]); cl != nil || err != nil {
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
	if _, err := pull.ContactAPIClient(&cs[0]); err == nil || err.Error() != "contact_secret: environment variable WXA_TEST_CONTACT is not set" {
		t.Fatalf("unset contact secret: %v", err)
	}
}
