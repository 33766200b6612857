package layout

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "edgemq"

// allowed lists, for each package of the module, the module's packages its
// non-test files may import (a prefix ending in "/..." allows a package and
// everything below it). The direction it encodes: the codec (mqtt) and the
// leaf utilities import nothing of ours; configs only the codec; listeners
// and certs never the engine; the store never the engine; the engine
// (gateway) anything but the commands; only the commands import the engine.
// A new package must be added here, with what it may import.
var allowed = map[string][]string{
	"mqtt":                       nil,
	"mqtt/mqtttest":              {"mqtt"},
	"configs":                    {"mqtt"},
	"listeners":                  {"mqtt", "gateway/logsafe"},
	"listeners/web":              nil,
	"certs":                      {"configs", "gateway/filewatch", "gateway/logsafe"},
	"gateway/filewatch":          nil,
	"gateway/logsafe":            nil,
	"gateway/internal/lockorder": nil,
	"gateway/internal/park":      {"gateway/internal/lockorder"},
	"gateway/internal/testclock": nil,
	"gateway/internal/layout":    nil,
	"gateway/store":              nil,
	"gateway/stats":              {"mqtt"},
	"gateway/acl":                {"mqtt", "configs", "listeners", "gateway/stats", "gateway/filewatch", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/limits":             {"mqtt", "configs", "listeners", "gateway/stats", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/admin":              {"mqtt", "configs", "gateway/stats", "gateway/broker", "gateway/logsafe", "gateway/acl"},
	"gateway/ops":                {"mqtt", "configs", "gateway/stats", "gateway/logsafe"},
	"gateway/broker":             {"mqtt", "gateway/store", "gateway/broker/...", "gateway/stats", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/broker/topictrie":   {"mqtt"},
	"gateway/proto":              {"mqtt", "configs", "listeners", "certs", "gateway/broker/...", "gateway/store", "gateway/auth/...", "gateway/acl", "gateway/limits", "gateway/stats", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/conn":               {"mqtt", "listeners", "gateway/proto", "gateway/broker", "gateway/limits", "gateway/stats", "gateway/logsafe", "gateway/internal/lockorder", "gateway/internal/park"},
	"gateway/store/bolt":         {"gateway/store", "gateway/internal/lockorder"},
	"gateway":                    {"mqtt/...", "configs", "listeners/...", "certs", "gateway/..."},
	"cmd/edgemq":                 {"mqtt", "configs", "gateway", "gateway/auth/passwd", "listeners/web"},
	"cmd/edgemq-bench":           {"mqtt", "listeners"},
	// A NATS client timing the cluster's messages stream alone.
	"cmd/edgemq-bench/streamprobe": nil,

	// Issue 15: several nodes as one broker over NATS.
	"gateway/cluster":             {"mqtt", "configs", "gateway/stats", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/cluster/clustertest": {"configs", "gateway/cluster"},
	// The broker's seams over NATS: below the root, beside the protocol
	// side, never importing it.
	"gateway/cluster/backend": {"mqtt", "configs", "gateway/broker", "gateway/broker/...", "gateway/store", "gateway/cluster",
		"gateway/stats", "gateway/logsafe", "gateway/internal/lockorder"},

	// Authentication: the seams, chain, caps, hash pool, expiry and
	// failure counters, and its backends below it. The backends import
	// auth (the seams), never the other way; cert and httphook read a
	// certificate's identity with certs, a leaf below the engine.
	"gateway/auth":            {"mqtt", "configs", "listeners", "gateway/stats", "gateway/filewatch", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/auth/passwd":     {"mqtt", "configs", "gateway/auth", "gateway/filewatch", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/auth/jwt":        {"mqtt", "configs", "gateway/auth", "gateway/internal/lockorder"},
	"gateway/auth/httphook":   {"mqtt", "configs", "certs", "gateway/auth", "gateway/internal/lockorder"},
	"gateway/auth/cert":       {"mqtt", "configs", "certs", "gateway/auth"},
	"gateway/auth/scram":      {"mqtt", "gateway/auth", "gateway/filewatch", "gateway/logsafe", "gateway/internal/lockorder"},
	"gateway/auth/bruteforce": {"configs", "gateway/internal/lockorder"},
}

// TestImportsPointOneWay fails when a package imports one of ours that the
// table above does not allow, or when a package is missing from it.
func TestImportsPointOneWay(t *testing.T) {
	root := repoRoot(t)
	pkgs := modulePackages(t, root)
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages under %s: the walk is broken", len(pkgs), root)
	}
	for pkg, imports := range pkgs {
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in the layout table (gateway/internal/layout): add it with what it may import", pkg)
			continue
		}
		for _, imp := range imports {
			if !permitted(rules, imp) {
				t.Errorf("%s imports %s, which points the wrong way (allowed: %v)", pkg, imp, rules)
			}
		}
	}
}

// TestPermitted checks the matcher the table relies on.
func TestPermitted(t *testing.T) {
	tests := []struct {
		rules []string
		imp   string
		want  bool
	}{
		{nil, "mqtt", false},
		{[]string{"mqtt"}, "mqtt", true},
		{[]string{"mqtt"}, "mqtt/mqtttest", false},
		{[]string{"mqtt/..."}, "mqtt/mqtttest", true},
		{[]string{"mqtt/..."}, "mqtt", true},
		{[]string{"mqtt/..."}, "mqttx", false},
		{[]string{"gateway/..."}, "gateway/store/bolt", true},
	}
	for _, tt := range tests {
		if got := permitted(tt.rules, tt.imp); got != tt.want {
			t.Errorf("permitted(%v, %q) = %v, want %v", tt.rules, tt.imp, got, tt.want)
		}
	}
}

func permitted(rules []string, imp string) bool {
	for _, r := range rules {
		if base, ok := strings.CutSuffix(r, "/..."); ok {
			if imp == base || strings.HasPrefix(imp, base+"/") {
				return true
			}
		} else if imp == r {
			return true
		}
	}
	return false
}

// repoRoot returns the directory of go.mod above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// modulePackages maps each package directory of the module (relative to
// root, "/"-separated) to the module's packages its non-test files import.
func modulePackages(tb testing.TB, root string) map[string][]string {
	tb.Helper()
	pkgs := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		imports := pkgs[pkg]
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if ours, ok := strings.CutPrefix(p, module+"/"); ok && !slices.Contains(imports, ours) {
				imports = append(imports, ours)
			}
		}
		sort.Strings(imports)
		pkgs[pkg] = imports
		return nil
	})
	if err != nil {
		tb.Fatalf("walking %s: %v", root, err)
	}
	return pkgs
}
