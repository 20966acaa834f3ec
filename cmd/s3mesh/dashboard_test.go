package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The tests in this file keep the Grafana dashboard true to the node:
// every metric it queries is one the node exports (see deploy_test.go for
// the rest of the packaging).

// family is a metric family a node exports: its type as README.md writes it
// and its label names, sorted.
type family struct {
	typ    string
	labels []string
}

// nodeFamilies returns the families a node's /metrics exports: the s3mesh_
// rows of README.md's Metrics table (TestREADMEDocumentsEveryMetric keeps
// them equal to what a node registers) and the Go and process collectors,
// gathered from a registry that registers them as runServe does.
func nodeFamilies(t *testing.T) map[string]family {
	t.Helper()
	out := map[string]family{}
	for name, d := range readmeMetrics(t, filepath.Join(repoRoot, "README.md")) {
		out[name] = family{typ: d.typ, labels: d.labels}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		out[mf.GetName()] = family{typ: typeName(mf), labels: labelNames(mf)}
	}
	return out
}

// series resolves a name a query selects to its family: the family itself,
// or a histogram's _bucket, _sum or _count series (a summary's _sum and
// _count). It returns the labels the series has.
func series(fams map[string]family, name string) ([]string, bool) {
	if f, ok := fams[name]; ok {
		return f.labels, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f, ok := fams[base]
		switch {
		case !ok:
		case f.typ == "histogram" && suffix == "_bucket":
			return append(slices.Clone(f.labels), "le"), true
		case f.typ == "histogram", f.typ == "summary" && suffix != "_bucket":
			return f.labels, true
		}
	}
	return nil, false
}

// promqlFuncs are the PromQL functions and aggregation operators a
// dashboard query may call; a name outside it is a typo.
var promqlFuncs = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`
		sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
		abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week
		day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction
		histogram_quantile histogram_stddev histogram_stdvar histogram_sum double_exponential_smoothing
		holt_winters hour idelta increase irate label_join label_replace ln log2 log10 minute month
		predict_linear rate resets round scalar sgn sort sort_desc sort_by_label sort_by_label_desc sqrt
		time timestamp vector year avg_over_time min_over_time max_over_time sum_over_time
		count_over_time quantile_over_time stddev_over_time stdvar_over_time last_over_time
		present_over_time mad_over_time`) {
		promqlFuncs[f] = true
	}
}

// promqlKeywords are PromQL words that are neither metrics nor functions.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"inf": true, "nan": true, "start": true, "end": true,
}

// labelListKeywords take a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// selector is one metric selector of a query: the metric name and its
// label matchers (label name to the matcher text, such as `=~"$job"`).
type selector struct {
	metric   string
	matchers map[string]string
}

// promqlRefs is what a query refers to.
type promqlRefs struct {
	selectors []selector
	funcs     []string
	// grouping are the labels of by (…), without (…), on (…), ignoring (…)
	// and group_left/right (…) lists.
	grouping []string
	// by are the labels of by (…) lists only: the labels an aggregated
	// result keeps.
	by []string
}

// parsePromQL extracts the metric selectors, functions and grouping labels
// of a PromQL expression as Grafana sends it (with $variables). It is a
// scanner, not a parser: it assumes an expression Prometheus accepts, which
// the queries are checked to be when a Prometheus evaluates them.
func parsePromQL(expr string) (promqlRefs, error) {
	var refs promqlRefs
	s := expr
	i := 0
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
	}
	ident := func() string {
		start := i
		for i < len(s) && isIdent(s[i]) {
			i++
		}
		return s[start:i]
	}
	str := func() (string, error) { // at a quote: the string literal, quotes included
		q, start := s[i], i
		for i++; i < len(s); i++ {
			if s[i] == '\\' && q != '`' {
				i++
				continue
			}
			if s[i] == q {
				i++
				return s[start:i], nil
			}
		}
		return "", fmt.Errorf("unterminated string at %d", start)
	}
	labelList := func() ([]string, error) { // at "(": label names up to ")"
		i++
		var names []string
		for {
			skipSpace()
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated label list")
			}
			switch {
			case s[i] == ')':
				i++
				return names, nil
			case s[i] == ',':
				i++
			case isIdentStart(s[i]):
				names = append(names, ident())
			default:
				return nil, fmt.Errorf("unexpected %q in a label list at %d", s[i], i)
			}
		}
	}
	matchers := func() (map[string]string, error) { // at "{": matchers up to "}"
		i++
		m := map[string]string{}
		for {
			skipSpace()
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated label matchers")
			}
			switch {
			case s[i] == '}':
				i++
				return m, nil
			case s[i] == ',':
				i++
			case isIdentStart(s[i]):
				name := ident()
				skipSpace()
				op := ""
				for i < len(s) && strings.IndexByte("=!~", s[i]) >= 0 {
					op += string(s[i])
					i++
				}
				if op != "=" && op != "!=" && op != "=~" && op != "!~" {
					return nil, fmt.Errorf("label %s: bad match operator %q", name, op)
				}
				skipSpace()
				if i >= len(s) || strings.IndexByte("\"'`", s[i]) < 0 {
					return nil, fmt.Errorf("label %s: value is not a string", name)
				}
				v, err := str()
				if err != nil {
					return nil, err
				}
				m[name] = op + v
			default:
				return nil, fmt.Errorf("unexpected %q in label matchers at %d", s[i], i)
			}
		}
	}
	depth := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '"' || c == '\'' || c == '`':
			if _, err := str(); err != nil {
				return refs, err
			}
		case c == '[': // a range or subquery: durations and $__range
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return refs, fmt.Errorf("unterminated [ at %d", i)
			}
			i += end + 1
		case c == '{':
			return refs, fmt.Errorf("label matchers without a metric name at %d", i)
		case c == '$': // a Grafana variable
			i++
			ident()
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			word := ident()
			skipSpace()
			next := byte(0)
			if i < len(s) {
				next = s[i]
			}
			afterWord := "" // the word after this one: "by" in "sum by (…)"
			if isIdentStart(next) {
				j := i
				for j < len(s) && isIdent(s[j]) {
					j++
				}
				afterWord = s[i:j]
			}
			switch {
			case (word == "group_left" || word == "group_right") && next != '(':
			case labelListKeywords[word]:
				if next != '(' {
					return refs, fmt.Errorf("%s without a label list", word)
				}
				names, err := labelList()
				if err != nil {
					return refs, err
				}
				refs.grouping = append(refs.grouping, names...)
				if word == "by" {
					refs.by = append(refs.by, names...)
				}
			case next == '(', afterWord == "by" || afterWord == "without":
				refs.funcs = append(refs.funcs, word)
			case promqlKeywords[word]:
			default:
				sel := selector{metric: word}
				if next == '{' {
					m, err := matchers()
					if err != nil {
						return refs, fmt.Errorf("%s: %w", word, err)
					}
					sel.matchers = m
				}
				refs.selectors = append(refs.selectors, sel)
			}
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth--; depth < 0 {
				return refs, fmt.Errorf("unbalanced ) at %d", i)
			}
			i++
		default:
			i++
		}
	}
	if depth != 0 {
		return refs, fmt.Errorf("unbalanced parentheses")
	}
	return refs, nil
}

func TestParsePromQL(t *testing.T) {
	for _, tc := range []struct {
		expr      string
		selectors []string
		funcs     []string
		grouping  []string
	}{
		{`rate(x_total{job=~"$job"}[$__rate_interval]) * 8`, []string{"x_total"}, []string{"rate"}, nil},
		{`histogram_quantile(0.99, sum by (le, op) (rate(d_bucket{op=~"A|B"}[5m])))`, []string{"d_bucket"}, []string{"histogram_quantile", "sum", "rate"}, []string{"le", "op"}},
		{`sum(a) by (instance) / ignoring(code) group_left sum(b{code!="OK"})`, []string{"a", "b"}, []string{"sum", "sum"}, []string{"instance", "code"}},
		{`max(quantile_over_time(0.95, rate(c[5m])[$__range:1m])) * 8 + 1e9 offset 1d`, []string{"c"}, []string{"max", "quantile_over_time", "rate"}, nil},
		{`predict_linear(g{a="}{"}[7d], 30 * 86400) > bool 0`, []string{"g"}, []string{"predict_linear"}, nil},
	} {
		refs, err := parsePromQL(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		var sels []string
		for _, s := range refs.selectors {
			sels = append(sels, s.metric)
		}
		if !slices.Equal(sels, tc.selectors) || !slices.Equal(refs.funcs, tc.funcs) || !slices.Equal(refs.grouping, tc.grouping) {
			t.Errorf("%s: selectors %v, funcs %v, grouping %v; want %v, %v, %v", tc.expr, sels, refs.funcs, refs.grouping, tc.selectors, tc.funcs, tc.grouping)
		}
	}
	for _, bad := range []string{`sum(x`, `x{a=1}`, `{a="b"}`, `sum by x`, `x{a="b}`} {
		if _, err := parsePromQL(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of a collapsed row
}

var legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// TestDashboardQueriesExportedMetrics checks deploy/grafana/s3mesh.json:
// every panel queries the selected datasource; every metric a query or a
// variable selects is one a node exports (an s3mesh_ family of README.md's
// Metrics table, or a Go or process collector's), with only the labels it
// has; every metric selector of a panel is limited to the selected job and
// offices; legends name labels the result keeps; and the panels do not
// overlap.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "s3mesh.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("s3mesh.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d: want a uid, a title and schemaVersion >= 36", d.UID, d.Title, d.SchemaVersion)
	}
	fams := nodeFamilies(t)
	// always are the labels Prometheus adds to every scraped series.
	always := []string{"instance", "job"}

	// check checks one query and returns the labels its result may keep.
	check := func(where, expr string, scoped bool) []string {
		refs, err := parsePromQL(expr)
		if err != nil {
			t.Errorf("%s: %v in %s", where, err, expr)
			return nil
		}
		for _, f := range refs.funcs {
			if !promqlFuncs[f] {
				t.Errorf("%s: unknown function %s in %s", where, f, expr)
			}
		}
		if len(refs.selectors) == 0 {
			t.Errorf("%s: selects no metric: %s", where, expr)
		}
		labels := slices.Clone(always)
		for _, sel := range refs.selectors {
			have, ok := series(fams, sel.metric)
			if !ok {
				t.Errorf("%s: %s is not a metric the node exports (README.md's Metrics table, Go and process collectors)", where, sel.metric)
				continue
			}
			labels = append(labels, have...)
			for l := range sel.matchers {
				if !slices.Contains(have, l) && !slices.Contains(always, l) {
					t.Errorf("%s: %s has no label %q (it has %v)", where, sel.metric, l, have)
				}
			}
			if scoped && (sel.matchers["job"] != `=~"$job"` || sel.matchers["instance"] != `=~"$instance"`) {
				t.Errorf("%s: %s is not limited to the selected offices: want job=~\"$job\" and instance=~\"$instance\" in %s", where, sel.metric, expr)
			}
		}
		for _, l := range refs.grouping {
			if !slices.Contains(labels, l) {
				t.Errorf("%s: groups by %q, a label none of its metrics has: %s", where, l, expr)
			}
		}
		if len(refs.by) > 0 {
			return refs.by
		}
		return labels
	}

	vars := map[string]bool{}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %v: want label_values(METRIC, LABEL)", v.Name, v.Query)
			continue
		}
		if labels := check("variable "+v.Name, m[1], false); !slices.Contains(labels, m[2]) {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
	}
	for _, want := range []string{"datasource", "job", "instance"} {
		if !vars[want] {
			t.Errorf("dashboard has no %q variable", want)
		}
	}

	var panels []dashboardPanel
	for _, p := range d.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	ids := map[int]string{}
	queries := 0
	for _, p := range panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id also used by %q", where, other)
		}
		ids[p.ID] = p.Title
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("%s: gridPos %+v outside the 24 columns", where, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource %+v, want the prometheus ${datasource} variable", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			queries++
			labels := check(where+" query "+tg.RefID, tg.Expr, true)
			for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
				if labels != nil && !slices.Contains(labels, m[1]) {
					t.Errorf("%s query %s: legend {{%s}}, a label the result does not keep (%v)", where, tg.RefID, m[1], labels)
				}
			}
		}
	}
	if queries == 0 {
		t.Fatal("dashboard has no query")
	}
	for i, a := range panels {
		for _, b := range panels[i+1:] {
			ga, gb := a.GridPos, b.GridPos
			if ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H {
				t.Errorf("panels %q %+v and %q %+v overlap", a.Title, ga, b.Title, gb)
			}
		}
	}
}
