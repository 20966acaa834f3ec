package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden lists selector expressions library packages must not use, with
// the reason. cmd/s3mesh, which builds the process's handlers and registry,
// is exempt.
var forbidden = map[string]string{
	"prometheus.DefaultRegisterer": "register on the Registerer given in Config",
	"prometheus.DefaultGatherer":   "gather from the registry cmd builds",
	"prometheus.MustRegister":      "register on the Registerer given in Config",
	"prometheus.Register":          "register on the Registerer given in Config",
	"promauto.NewCounter":          "promauto registers globally",
	"promauto.NewCounterVec":       "promauto registers globally",
	"promauto.NewGauge":            "promauto registers globally",
	"promauto.NewHistogram":        "promauto registers globally",
	"promauto.NewHistogramVec":     "promauto registers globally",
	"slog.Default":                 "take a *slog.Logger in Config",
	"slog.SetDefault":              "only cmd sets the default logger",
	"slog.Info":                    "log through the Logger in Config",
	"slog.Debug":                   "log through the Logger in Config",
	"slog.Warn":                    "log through the Logger in Config",
	"slog.Error":                   "log through the Logger in Config",
	"log.Printf":                   "log through the Logger in Config",
	"log.Println":                  "log through the Logger in Config",
	"log.Fatal":                    "return errors; only cmd exits",
	"log.Fatalf":                   "return errors; only cmd exits",
	"os.Exit":                      "return errors; only cmd exits",
}

func TestNoGlobalsInLibraries(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (rel == "cmd" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); rel != "." && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil // commands own their process: they may log and exit
		}
		n++
		ast.Inspect(f, func(node ast.Node) bool {
			sel, ok := node.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			if why, bad := forbidden[x.Name+"."+sel.Sel.Name]; bad {
				t.Errorf("%s: %s.%s: %s", fset.Position(sel.Pos()), x.Name, sel.Sel.Name, why)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no Go files found: the walk is broken")
	}
}
