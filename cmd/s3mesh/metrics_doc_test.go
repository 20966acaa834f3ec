package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// forbiddenLabels are label names STYLE forbids on our metrics: unbounded
// values (a bucket, key, CID, peer ID or access key per series).
var forbiddenLabels = []string{"bucket", "key", "object", "cid", "peer", "peer_id", "access_key"}

// metricDoc is one row of README.md's Metrics table.
type metricDoc struct {
	typ    string   // counter, gauge or histogram
	labels []string // label names, sorted; none for "—"
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readmeMetrics parses the table of README.md's "## Metrics" section: rows
// whose first cell is a backticked s3mesh_ name, then type and labels.
func readmeMetrics(t *testing.T, path string) map[string]metricDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal(`README.md has no "## Metrics" section`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	docs := map[string]metricDoc{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `s3mesh_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) < 4 {
			t.Errorf("README.md Metrics row has %d cells, want metric, type, labels, meaning, use: %s", len(cells), line)
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if _, dup := docs[name]; dup {
			t.Errorf("README.md documents %s twice", name)
		}
		d := metricDoc{typ: strings.TrimSpace(cells[1])}
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			d.labels = append(d.labels, m[1])
		}
		sort.Strings(d.labels)
		docs[name] = d
	}
	if len(docs) == 0 {
		t.Fatal("README.md's Metrics section has no s3mesh_ rows")
	}
	return docs
}

// TestREADMEDocumentsEveryMetric keeps README.md's Metrics table true. It
// starts a node, makes the requests an office makes (bucket, put, get,
// head, list, copy, delete, a failed get, a completed multipart upload and
// one left open) so that labelled vectors have series, scrapes /metrics,
// and then checks:
//
//   - every s3mesh_* family on /metrics has a README row with its type and
//     exactly its label names;
//   - no s3mesh_* family has a label in forbiddenLabels;
//   - every README row without labels names a family on /metrics. The
//     rule for stale rows is limited to those: a family without labels is
//     registered when serve starts and so is present on every scrape,
//     while a labelled one only appears with its first series, after an
//     event this test may not cause (an upload expiring, a block fetched
//     from a peer); its row is checked against the code by the first rule
//     whenever it does appear.
func TestREADMEDocumentsEveryMetric(t *testing.T) {
	docs := readmeMetrics(t, filepath.Join("..", "..", "README.md"))

	ep, stdout, _ := startServe(t, t.TempDir(), func(string) string { return "" })
	m := regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+)\s+export AWS_SECRET_ACCESS_KEY=(\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("generated credentials not printed:\n%s", stdout)
	}
	core, err := minio.NewCore(ep, &minio.Options{Creds: credentials.NewStaticV4(m[1], m[2], "")})
	if err != nil {
		t.Fatal(err)
	}
	office(t, core)

	families := scrape(t, "http://"+ep+"/metrics")

	// The requests above left their series: the checks below saw the
	// labelled vectors, not only what exists at start.
	for _, want := range []struct{ family, label, value string }{
		{"s3mesh_s3_requests_total", "op", "PutObject"},
		{"s3mesh_s3_requests_total", "op", "CompleteMultipartUpload"},
		{"s3mesh_s3_requests_total", "code", "NoSuchKey"},
		{"s3mesh_s3_backend_duration_seconds", "result", "client_error"},
		{"s3mesh_gateway_put_objects_total", "result", "ok"},
		{"s3mesh_gateway_multipart_uploads_total", "event", "completed"},
	} {
		if !hasSeries(families[want.family], want.label, want.value) {
			t.Errorf("/metrics has no %s{%s=%q} after the requests", want.family, want.label, want.value)
		}
	}
	if g := families["s3mesh_gateway_multipart_uploads_in_progress"]; g == nil || len(g.Metric) != 1 || g.Metric[0].GetGauge().GetValue() != 1 {
		t.Errorf("s3mesh_gateway_multipart_uploads_in_progress = %v, want 1 (one upload left open)", g)
	}

	ours := 0
	for name, f := range families {
		if !strings.HasPrefix(name, "s3mesh_") {
			continue
		}
		ours++
		labels := labelNames(f)
		for _, l := range labels {
			if slices.Contains(forbiddenLabels, l) {
				t.Errorf("%s has the unbounded label %q", name, l)
			}
		}
		d, ok := docs[name]
		if !ok {
			t.Errorf("README.md's Metrics section does not document %s (%s, labels %v)", name, typeName(f), labels)
			continue
		}
		if d.typ != typeName(f) {
			t.Errorf("README.md says %s is a %s; /metrics says %s", name, d.typ, typeName(f))
		}
		if !slices.Equal(d.labels, labels) {
			t.Errorf("README.md gives %s the labels %v; /metrics has %v", name, d.labels, labels)
		}
	}
	if ours == 0 {
		t.Fatal("/metrics has no s3mesh_ family")
	}
	for name, d := range docs {
		if len(d.labels) == 0 && families[name] == nil {
			t.Errorf("README.md documents %s, which /metrics does not export (it has no labels, so it would be present)", name)
		}
	}
}

// office makes the requests of a working office through core.
func office(t *testing.T, core *minio.Core) {
	t.Helper()
	ctx := context.Background()
	const bucket = "builds"
	if err := core.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("s3mesh "), 450000) // 3.15 MB: four leaves of the default 1 MiB chunk size
	if _, err := core.Client.PutObject(ctx, bucket, "v1/release.tar.gz", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := core.Client.GetObject(ctx, bucket, "v1/release.tar.gz", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GetObject: %d bytes, %v", len(got), err)
	}
	if _, err := core.Client.StatObject(ctx, bucket, "v1/release.tar.gz", minio.StatObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Client.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "v1/copy"}, minio.CopySrcOptions{Bucket: bucket, Object: "v1/release.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	if err := core.Client.RemoveObject(ctx, bucket, "v1/copy", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Client.StatObject(ctx, bucket, "missing", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of a missing key: %v", err)
	}
	if _, _, _, err := core.GetObject(ctx, bucket, "missing", minio.GetObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("GET of a missing key: %v, want NoSuchKey", err)
	}

	id, err := core.NewMultipartUpload(ctx, bucket, "v1/big.bin", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part, err := core.PutObjectPart(ctx, bucket, "v1/big.bin", id, 1, bytes.NewReader(body), int64(len(body)), minio.PutObjectPartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.CompleteMultipartUpload(ctx, bucket, "v1/big.bin", id, []minio.CompletePart{{PartNumber: 1, ETag: part.ETag}}, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.NewMultipartUpload(ctx, bucket, "v1/unfinished.bin", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	n := 0
	for o := range core.Client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("listed %d objects, want 2", n)
	}
}

// scrape reads a /metrics page in the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// typeName is a family's type as README.md writes it.
func typeName(f *dto.MetricFamily) string {
	return strings.ToLower(f.GetType().String())
}

// labelNames returns the sorted label names used by any series of f.
func labelNames(f *dto.MetricFamily) []string {
	var names []string
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if !slices.Contains(names, l.GetName()) {
				names = append(names, l.GetName())
			}
		}
	}
	sort.Strings(names)
	return names
}

func hasSeries(f *dto.MetricFamily, label, value string) bool {
	if f == nil {
		return false
	}
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if l.GetName() == label && l.GetValue() == value {
				return true
			}
		}
	}
	return false
}
