package archtest

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/wxarchive/wxarchive"

// adapters are the storage engines' packages: only cmd/ chooses them.
var adapters = []string{"store/sqlite", "store/postgres", "blob/fsblob", "blob/s3blob"}

// ground is the ground floor: contracts, the journal, text analysis. It
// imports nothing above itself.
var ground = []string{"archive", "journal", "textindex", "extract", "blob", "store"}

// edges are the surfaces: they render app/ and import no vendor connector.
var edges = []string{"httpapi", "httpx", "http", "web", "api"}

// top is what may import app/ and the surfaces: the surfaces themselves,
// the commands, and test helpers.
var top = append([]string{"app", "cmd", "bench", "internal/archivetest"}, edges...)

func under(pkg string, roots ...string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

// testHelper: conformance suites and test helpers (…test) may wire any
// adapter, as tests may.
func testHelper(pkg string) bool { return strings.HasSuffix(pkg, "test") || pkg == "bench" }

// utility: an internal/ package that imports nothing of the project (a
// disk probe, say) belongs to no floor and may be used from any.
func utility(graph map[string][]string, pkg string) bool {
	return under(pkg, "internal") && len(graph[pkg]) == 0 && !testHelper(pkg)
}

// violations lists every import against the rules, for a graph of
// package → imports (paths relative to the module).
func violations(graph map[string][]string) []string {
	var out []string
	bad := func(p, q, why string) { out = append(out, p+" imports "+q+": "+why) }
	for p, imps := range graph {
		for _, q := range imps {
			switch {
			case under(q, adapters...) && !under(p, "cmd") && !testHelper(p) && !under(p, adapters...):
				bad(p, q, "only cmd/ chooses storage engines (repo.Engines)")
			case under(p, edges...) && under(q, "capture/wecom"):
				bad(p, q, "a surface imports no vendor connector (use the capture seam)")
			case under(q, top...) && !under(p, top...) && !testHelper(p):
				bad(p, q, "nothing below app/ imports app/, a surface or cmd/")
			case p == "archive":
				bad(p, q, "archive imports nothing of the project")
			case under(p, ground...) && !under(q, ground...) && !utility(graph, q):
				bad(p, q, "the ground floor imports nothing above it")
			}
		}
	}
	sort.Strings(out)
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// importGraph is the project's packages and their imports of each other
// (not test imports: tests may wire anything).
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		p := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		graph[p] = nil
		for _, q := range f[1:] {
			if strings.HasPrefix(q, module+"/") {
				graph[p] = append(graph[p], strings.TrimPrefix(q, module+"/"))
			}
		}
	}
	if len(graph) < 20 {
		t.Fatalf("go list found %d packages: not the project", len(graph))
	}
	return graph
}

// TestRulesOfTheHouse: the code keeps the rules of docs/ARCHITECTURE.md.
func TestRulesOfTheHouse(t *testing.T) {
	for _, v := range violations(importGraph(t)) {
		t.Error(v)
	}
}

// TestRulesCatchViolations: each rule fires on the import it forbids — the
// check above cannot pass by checking nothing.
func TestRulesCatchViolations(t *testing.T) {
	for _, c := range []struct{ from, to, rule string }{
		{"repo", "store/sqlite", "only cmd/"},
		{"verify", "blob/fsblob", "only cmd/"},
		{"httpapi", "capture/wecom/msgaudit", "vendor connector"},
		{"httpx", "capture/wecom/callback", "vendor connector"},
		{"review", "app", "below app/"},
		{"supervise", "httpapi", "below app/"},
		{"ingest", "cmd/wxarchive", "below app/"},
		{"archive", "journal", "archive imports nothing"},
		{"journal", "ingest", "ground floor"},
		{"store", "repo", "ground floor"},
	} {
		got := violations(map[string][]string{c.from: {c.to}})
		if len(got) != 1 || !strings.Contains(got[0], c.rule) {
			t.Errorf("%s → %s: %v, want one violation of %q", c.from, c.to, got, c.rule)
		}
	}
	// An internal/ package is a utility only while it imports nothing of
	// the project.
	if got := violations(map[string][]string{"store": {"internal/x"}, "internal/x": {"ingest"}}); len(got) != 1 || !strings.Contains(got[0], "store imports internal/x: the ground floor") {
		t.Errorf("store → internal/x → ingest: %v, want the ground-floor violation", got)
	}
	// And what is allowed stays allowed.
	for _, ok := range [][2]string{{"cmd/wxarchive", "store/sqlite"}, {"internal/archivetest", "blob/fsblob"}, {"store/storetest", "store"},
		{"httpapi", "app"}, {"app", "review"}, {"capture/wecom/kf", "ingest"}, {"store/sqlite", "textindex"}, {"blob/fsblob", "internal/diskprobe"}} {
		if got := violations(map[string][]string{ok[0]: {ok[1]}}); len(got) != 0 {
			t.Errorf("%s → %s should be allowed: %v", ok[0], ok[1], got)
		}
	}
}

// accessJournaling finds, in the non-test Go files under root, every place
// that builds an access event or records a review view — journal calls
// the invariant keeps in app/ (archive defines the types; review defines
// what a view is).
func accessJournaling(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || under(filepath.ToSlash(filepath.Dir(rel)), "app", "archive", "review") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "archive" && (x.Sel.Name == "EventAccessView" || x.Sel.Name == "AccessEvent") {
					out = append(out, fset.Position(x.Pos()).String()+": archive."+x.Sel.Name)
				}
			case *ast.KeyValueExpr:
				// review.Action{Action: review.View, …}: a view journaled by hand.
				if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Action" {
					if s, ok := x.Value.(*ast.SelectorExpr); ok && s.Sel.Name == "View" {
						if id, ok := s.X.(*ast.Ident); ok && id.Name == "review" {
							out = append(out, fset.Position(x.Pos()).String()+": review view")
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if r, err := filepath.Rel(root, o); err == nil {
			out[i] = r
		}
	}
	return out
}

// TestAccessJournalingOnlyInApp: no access event is built outside app/
// (invariant 4: every access is journaled, in one place, by the use case
// that shows the content — an edge never journals by hand).
func TestAccessJournalingOnlyInApp(t *testing.T) {
	for _, v := range accessJournaling(t, moduleRoot(t)) {
		t.Errorf("access journaled outside app/: %s", v)
	}
}

// TestAccessJournalingCheckFires: the scan finds a hand-written access.
func TestAccessJournalingCheckFires(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "httpapi"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package httpapi\n\nfunc f() {\n\t_ = archive.AccessEvent{What: \"message\"}\n\t_ = review.Action{Action: review.View}\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "httpapi", "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := accessJournaling(t, dir); len(got) != 2 {
		t.Fatalf("found %v, want the access event and the review view", got)
	}
}
