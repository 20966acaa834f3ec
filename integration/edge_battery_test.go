package integration

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"s3mesh/s3api"
)

// The edge battery (this file runs it; edge_battery_harness_test.go sends
// raw requests; edge_battery_{auth,body,names}_test.go make the families):
// families of bad, broken and hostile requests, each
// variant sent on a raw connection. Every one must be answered with the
// documented S3 error (XML, never a 5xx but the documented 501 and 503,
// never a hang: each connection has a deadline); the complete requests of
// the half-close family must be carried out in full. Afterwards the
// reference objects written before the battery read back byte for byte,
// and nothing else appeared.

// Bounds of the battery's server, short so that stalls end quickly.
const (
	batteryBodyIdle   = 300 * time.Millisecond
	batteryHeaderIdle = 500 * time.Millisecond
	batteryBound      = 20 * time.Second
)

// TestEdgeBattery runs the battery against the S3 handler over a gateway
// node, served by s3api.Server as s3mesh serves it.
func TestEdgeBattery(t *testing.T) {
	store := newTestStore(t)
	h, err := s3api.New(s3api.Config{
		Credentials:     s3api.Credentials{AccessKey: testAccessKey, SecretKey: testSecretKey},
		Region:          testRegion,
		BodyIdleTimeout: batteryBodyIdle,
		RequestTimeout:  batteryBound,
		Logger:          slog.New(slog.DiscardHandler),
	}, store)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := s3api.NewServer(s3api.ServerConfig{ReadHeaderTimeout: batteryHeaderIdle, WriteIdleTimeout: 5 * time.Second}, h)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	runBattery(t, &edgeTarget{addr: ln.Addr().String(), ak: testAccessKey, sk: testSecretKey, region: testRegion})
}

// TestEdgeBatteryProcess runs the battery against a real s3mesh process,
// admin API and /ipfs/ included (integration suite).
func TestEdgeBatteryProcess(t *testing.T) {
	needIntegration(t)
	p := startNode(t, t.TempDir(), "--body-idle-timeout", batteryBodyIdle.String(), "--read-header-timeout", batteryHeaderIdle.String(),
		"--request-timeout", batteryBound.String(), "--fetch-timeout", "2s")
	runBattery(t, &edgeTarget{addr: p.endpoint, ak: procAccessKey, sk: procSecretKey, region: "us-east-1", process: true})
}

// refObject is an object written before the battery.
type refObject struct {
	key  string
	data []byte
}

func runBattery(t *testing.T, tg *edgeTarget) {
	// The reference state.
	tg.mustOK(t, "create ref", tg.v4(t, spec{method: "PUT", path: "/ref"}))
	tg.mustOK(t, "create scratch", tg.v4(t, spec{method: "PUT", path: "/scratch"}))
	refs := []refObject{
		{"a", randomBytes(1, 1000)},
		{"b", randomBytes(2, 100<<10)},
		{"empty", nil},
		{"dir/c", []byte("ccc")},
	}
	for _, o := range refs {
		tg.mustOK(t, "put ref "+o.key, tg.v4(t, spec{method: "PUT", path: "/ref/" + o.key, body: o.data}))
	}
	// A multipart reference and an open upload for the multipart family.
	part1, part2 := randomBytes(3, 5<<20), randomBytes(4, 1000)
	big := append(slices.Clone(part1), part2...)
	refs = append(refs, refObject{"big", big})
	up := tg.createUpload(t, "/ref/big")
	e1 := tg.uploadPart(t, "/ref/big", up, 1, part1)
	e2 := tg.uploadPart(t, "/ref/big", up, 2, part2)
	tg.mustOK(t, "complete ref big", tg.v4(t, spec{method: "POST", path: "/ref/big", query: "uploadId=" + up, body: completeBody(e1, e2)}))
	open := tg.createUpload(t, "/scratch/open")
	oe1 := tg.uploadPart(t, "/scratch/open", open, 1, part1)

	gen := &batteryGen{t: t, tg: tg, upload: open, partETag: oe1}
	families := []struct {
		name string
		make func() []bcase
	}{
		{"auth", gen.auth},
		{"presign", gen.presign},
		{"sigv2", gen.sigv2},
		{"content-length", gen.contentLength},
		{"half-close", gen.halfClose},
		{"stall", gen.stalls},
		{"aws-chunked", gen.awsChunked},
		{"bucket-name", gen.bucketNames},
		{"key-name", gen.keyNames},
		{"header", gen.headers},
		{"range", gen.ranges},
		{"conditional", gen.conditionals},
		{"xml", gen.xmlBodies},
		{"multipart", gen.multipart},
		{"copy-source", gen.copySources},
		{"s3mesh-cid", gen.cid},
		{"admin-ipfs", gen.adminIPFS},
	}
	var cases []bcase
	for _, f := range families {
		fc := f.make()
		for i := range fc {
			fc[i].family = f.name
		}
		cases = append(cases, fc...)
	}
	counts, failures := tg.runCases(t, cases, 8, batteryBound)
	names := make([]string, 0, len(counts))
	total := 0
	for n, c := range counts {
		names = append(names, n)
		total += c
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("family %-15s %4d requests", n, counts[n])
	}
	t.Logf("total %d requests, %d failures", total, len(failures))
	sort.Strings(failures)
	for i, f := range failures {
		if i == 100 {
			t.Errorf("... and %d more", len(failures)-100)
			break
		}
		t.Error(f)
	}
	if total < 1500 {
		t.Errorf("battery sent %d requests, want at least 1500", total)
	}

	// Nothing changed but what the half-close family wrote.
	tg.mustOK(t, "abort open upload", tg.v4(t, spec{method: "DELETE", path: "/scratch/open", query: "uploadId=" + open}))
	buckets := listBuckets(t, tg)
	wantBuckets := append([]string{"ref", "scratch"}, gen.createdBuckets...)
	sort.Strings(wantBuckets)
	if !slices.Equal(buckets, wantBuckets) {
		t.Errorf("buckets after the battery: %v, want %v", buckets, wantBuckets)
	}
	var refKeys []string
	for _, o := range refs {
		refKeys = append(refKeys, o.key)
		got := tg.mustOK(t, "get ref "+o.key, tg.v4(t, spec{method: "GET", path: "/ref/" + o.key}))
		if !bytes.Equal(got, o.data) {
			t.Errorf("reference %s changed: %d bytes, md5 %s, want %d bytes, md5 %s", o.key, len(got), md5hex(got), len(o.data), md5hex(o.data))
		}
	}
	sort.Strings(refKeys)
	if keys := batteryKeys(t, tg, "ref"); !slices.Equal(keys, refKeys) {
		t.Errorf("keys in ref after the battery: %v, want %v", keys, refKeys)
	}
	var scratchKeys []string
	for k, data := range gen.written {
		scratchKeys = append(scratchKeys, k)
		got := tg.mustOK(t, "get written "+k, tg.v4(t, spec{method: "GET", path: "/scratch/" + k}))
		if !bytes.Equal(got, data) {
			t.Errorf("acknowledged write %s: %d bytes read back, want %d", k, len(got), len(data))
		}
	}
	sort.Strings(scratchKeys)
	if keys := batteryKeys(t, tg, "scratch"); !slices.Equal(keys, scratchKeys) {
		t.Errorf("keys in scratch after the battery: %v, want %v", keys, scratchKeys)
	}
}

var uploadIDRE = regexp.MustCompile(`<UploadId>([^<]+)</UploadId>`)

func (tg *edgeTarget) createUpload(t *testing.T, path string) string {
	t.Helper()
	body := tg.mustOK(t, "create upload", tg.v4(t, spec{method: "POST", path: path, query: "uploads="}))
	m := uploadIDRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("create upload: %s", body)
	}
	return string(m[1])
}

func (tg *edgeTarget) uploadPart(t *testing.T, path, upload string, n int, data []byte) string {
	t.Helper()
	res := tg.exchange(bcase{w: tg.v4(t, spec{method: "PUT", path: path, query: fmt.Sprintf("partNumber=%d&uploadId=%s", n, upload), body: data})}, batteryBound)
	if res.err != nil || res.status != 200 {
		t.Fatalf("upload part %d: %d %v %s", n, res.status, res.err, res.body)
	}
	return `"` + md5hex(data) + `"`
}

func completeBody(etags ...string) []byte {
	var b bytes.Buffer
	b.WriteString("<CompleteMultipartUpload>")
	for i, e := range etags {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, e)
	}
	b.WriteString("</CompleteMultipartUpload>")
	return b.Bytes()
}

func listBuckets(t *testing.T, tg *edgeTarget) []string {
	t.Helper()
	var res struct {
		Names []string `xml:"Buckets>Bucket>Name"`
	}
	if err := xml.Unmarshal(tg.mustOK(t, "list buckets", tg.v4(t, spec{method: "GET", path: "/"})), &res); err != nil {
		t.Fatal(err)
	}
	sort.Strings(res.Names)
	return res.Names
}

func batteryKeys(t *testing.T, tg *edgeTarget, bucket string) []string {
	t.Helper()
	var res struct {
		Keys []string `xml:"Contents>Key"`
	}
	if err := xml.Unmarshal(tg.mustOK(t, "list "+bucket, tg.v4(t, spec{method: "GET", path: "/" + bucket, query: "list-type=2"})), &res); err != nil {
		t.Fatal(err)
	}
	sort.Strings(res.Keys)
	return res.Keys
}

// batteryGen generates the families' cases.
type batteryGen struct {
	t        *testing.T
	tg       *edgeTarget
	upload   string // an open upload of scratch/open, part 1 uploaded
	partETag string
	// written are the scratch keys the half-close family writes, with
	// their content; createdBuckets the buckets it creates.
	written        map[string][]byte
	createdBuckets []string
}

// op is an operation the auth and presign families mutate.
type op struct {
	name string
	s    spec
	head bool
}

// ops are requests that would change or reveal the reference state if
// they were obeyed.
func (g *batteryGen) ops() []op {
	del := []byte(`<Delete><Object><Key>a</Key></Object></Delete>`)
	return []op{
		{"PutObject", spec{method: "PUT", path: "/ref/a", body: []byte("overwritten")}, false},
		{"PutObjectEmpty", spec{method: "PUT", path: "/ref/new"}, false},
		{"GetObject", spec{method: "GET", path: "/ref/a"}, false},
		{"HeadObject", spec{method: "HEAD", path: "/ref/a"}, true},
		{"DeleteObject", spec{method: "DELETE", path: "/ref/a"}, false},
		{"DeleteObjects", spec{method: "POST", path: "/ref", query: "delete=", body: del, hdr: [][2]string{{"Content-MD5", md5b64(del)}}}, false},
		{"CopyObject", spec{method: "PUT", path: "/ref/copy", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}}}, false},
		{"CreateBucket", spec{method: "PUT", path: "/newbucket"}, false},
		{"DeleteBucket", spec{method: "DELETE", path: "/scratch"}, false},
		{"ListObjectsV2", spec{method: "GET", path: "/ref", query: "list-type=2"}, false},
		{"ListBuckets", spec{method: "GET", path: "/"}, false},
		{"CreateMultipartUpload", spec{method: "POST", path: "/ref/mp", query: "uploads="}, false},
		{"PutObjectTagging", spec{method: "PUT", path: "/ref/a", query: "tagging=", body: []byte(`<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`)}, false},
		{"GetBucketLocation", spec{method: "GET", path: "/ref", query: "location="}, false},
	}
}

func (g *batteryGen) caseFor(o op, name string, w *wire, want ...string) bcase {
	return bcase{name: o.name + "/" + name, w: w, want: want}
}
