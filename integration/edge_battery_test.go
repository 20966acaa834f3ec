package integration

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"s3mesh/s3api"
)

// The edge battery: families of bad, broken and hostile requests, each
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

// auth: header-signed requests, each mutated so that it must be refused.
func (g *batteryGen) auth() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	replaceAuth := func(w *wire, old, new string) *wire {
		return w.set("Authorization", strings.Replace(w.get("Authorization"), old, new, 1))
	}
	for _, o := range g.ops() {
		now := signTimeNow()
		date := now.Format("20060102")
		muts := []struct {
			name string
			w    func() *wire
			want []string
		}{
			{"anonymous", func() *wire { return tg.unsigned(o.s) }, []string{"AccessDenied"}},
			{"bad signature", func() *wire {
				w := tg.v4(t, o.s)
				a := w.get("Authorization")
				return w.set("Authorization", a[:len(a)-4]+"0000")
			}, []string{"SignatureDoesNotMatch"}},
			{"wrong secret", func() *wire { return tg.signV4(t, o.s, tg.region, "wrong-secret", now) }, []string{"SignatureDoesNotMatch"}},
			{"unknown key", func() *wire { return replaceAuth(tg.v4(t, o.s), "Credential="+tg.ak, "Credential=NOSUCHKEY") }, []string{"InvalidAccessKeyId"}},
			{"other region", func() *wire { return tg.signV4(t, o.s, "eu-west-3", tg.sk, now) }, []string{"AuthorizationHeaderMalformed"}},
			{"other service", func() *wire { return replaceAuth(tg.v4(t, o.s), "/s3/", "/ec2/") }, []string{"AuthorizationHeaderMalformed"}},
			{"credential date", func() *wire { return replaceAuth(tg.v4(t, o.s), "/"+date+"/", "/20200101/") }, []string{"AuthorizationHeaderMalformed"}},
			{"skewed past", func() *wire { return tg.signV4(t, o.s, tg.region, tg.sk, now.Add(-time.Hour)) }, []string{"RequestTimeTooSkewed"}},
			{"skewed future", func() *wire { return tg.signV4(t, o.s, tg.region, tg.sk, now.Add(time.Hour)) }, []string{"RequestTimeTooSkewed"}},
			{"no date", func() *wire { return tg.v4(t, o.s).del("X-Amz-Date") }, []string{"AccessDenied"}},
			{"bad date", func() *wire { return tg.v4(t, o.s).set("X-Amz-Date", "yesterday") }, []string{"AccessDenied"}},
			{"unsigned meta", func() *wire { return tg.v4(t, o.s).add("X-Amz-Meta-Evil", "1") }, []string{"AccessDenied"}},
			// (A signed copy source with a second value: the signed value
			// changed.)
			{"unsigned copy source", func() *wire { return tg.v4(t, o.s).add("x-amz-copy-source", "/ref/b") }, []string{"AccessDenied", "SignatureDoesNotMatch"}},
			{"unsigned acl", func() *wire { return tg.v4(t, o.s).add("X-Amz-Acl", "private") }, []string{"AccessDenied"}},
			{"unsigned storage class", func() *wire { return tg.v4(t, o.s).add("X-AMZ-STORAGE-CLASS", "STANDARD") }, []string{"AccessDenied"}},
			{"host unsigned", func() *wire {
				w := tg.v4(t, o.s)
				a := regexp.MustCompile(`SignedHeaders=[^,]*`).ReplaceAllStringFunc(w.get("Authorization"), func(sh string) string {
					names := strings.Split(strings.TrimPrefix(sh, "SignedHeaders="), ";")
					names = slices.DeleteFunc(names, func(n string) bool { return n == "host" })
					return "SignedHeaders=" + strings.Join(names, ";")
				})
				return w.set("Authorization", a)
			}, []string{"AccessDenied"}},
			{"host changed", func() *wire { return tg.v4(t, o.s).set("Host", "evil.example:80") }, []string{"SignatureDoesNotMatch"}},
			{"path changed", func() *wire {
				w := tg.v4(t, o.s)
				w.target = "/zz" + w.target
				return w
			}, []string{"SignatureDoesNotMatch", "NotImplemented"}},
			{"repeated authorization", func() *wire { w := tg.v4(t, o.s); return w.add("Authorization", w.get("Authorization")) }, []string{"AuthorizationHeaderMalformed"}},
			{"malformed authorization", func() *wire {
				return tg.v4(t, o.s).set("Authorization", "AWS4-HMAC-SHA256 Credential="+tg.ak+"/"+date+"/"+tg.region+"/s3/aws4_request")
			}, []string{"AuthorizationHeaderMalformed"}},
			{"sigv4a", func() *wire {
				return tg.v4(t, o.s).set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x, SignedHeaders=host, Signature=00")
			}, []string{"UnsupportedSignature"}},
			{"bearer", func() *wire { return tg.v4(t, o.s).set("Authorization", "Bearer abc") }, []string{"InvalidArgument"}},
			{"content sha invalid", func() *wire { return tg.v4(t, o.s).set("X-Amz-Content-Sha256", "nope") }, []string{"InvalidArgument"}},
			{"content sha other", func() *wire { return tg.v4(t, o.s).set("X-Amz-Content-Sha256", sha256hex([]byte("other"))) }, []string{"SignatureDoesNotMatch"}},
			{"header and query auth", func() *wire {
				w := tg.v4(t, o.s)
				sep := "?"
				if strings.Contains(w.target, "?") {
					sep = "&"
				}
				w.target += sep + "X-Amz-Signature=00"
				return w
			}, []string{"InvalidArgument"}},
		}
		if len(o.s.body) > 0 {
			muts = append(muts, struct {
				name string
				w    func() *wire
				want []string
			}{"body tampered", func() *wire {
				w := tg.v4(t, o.s)
				w.body = bytes.Clone(w.body)
				w.body[0] ^= 1
				return w
			}, []string{"XAmzContentSHA256Mismatch", "BadDigest"}})
		}
		for _, m := range muts {
			out = append(out, g.caseFor(o, m.name, m.w(), m.want...))
		}
	}
	return out
}

// presign: presigned URLs, mutated.
func (g *batteryGen) presign() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, o := range g.ops() {
		now := signTimeNow()
		ps := func(s spec) *wire { return tg.presign(t, s, tg.region, now, 300) }
		muts := []struct {
			name string
			w    func() *wire
			want []string
		}{
			{"expired", func() *wire { return tg.presign(t, o.s, tg.region, now.Add(-2*time.Hour), 60) }, []string{"AccessDenied"}},
			{"not yet valid", func() *wire { return tg.presign(t, o.s, tg.region, now.Add(2*time.Hour), 60) }, []string{"AccessDenied"}},
			{"expires too long", func() *wire { return tg.presign(t, o.s, tg.region, now, 604801) }, []string{"AuthorizationQueryParametersError"}},
			{"other region", func() *wire { return tg.presign(t, o.s, "ap-south-1", now, 300) }, []string{"AuthorizationQueryParametersError"}},
			{"bad signature", func() *wire {
				w := ps(o.s)
				i := strings.Index(w.target, "X-Amz-Signature=") + len("X-Amz-Signature=")
				w.target = w.target[:i] + "0000" + w.target[i+4:]
				return w
			}, []string{"SignatureDoesNotMatch"}},
			{"query added", func() *wire { w := ps(o.s); w.target += "&prefix=x"; return w }, []string{"SignatureDoesNotMatch"}},
			{"param dropped", func() *wire {
				w := ps(o.s)
				w.target = regexp.MustCompile(`X-Amz-Date=[^&]*&?`).ReplaceAllString(w.target, "")
				return w
			}, []string{"AuthorizationQueryParametersError"}},
			{"param repeated", func() *wire { w := ps(o.s); w.target += "&X-Amz-Expires=5"; return w }, []string{"AuthorizationQueryParametersError"}},
			{"unsigned copy source", func() *wire { return ps(o.s).add("X-Amz-Copy-Source", "/ref/b") }, []string{"AccessDenied", "SignatureDoesNotMatch"}},
			{"unsigned meta", func() *wire { return ps(o.s).add("x-amz-meta-evil", "1") }, []string{"AccessDenied"}},
			{"unsigned sse", func() *wire { return ps(o.s).add("X-Amz-Server-Side-Encryption", "AES256") }, []string{"AccessDenied"}},
			{"unsigned content sha", func() *wire { return ps(o.s).add("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") }, []string{"AccessDenied"}},
			{"unsigned tagging", func() *wire { return ps(o.s).add("X-Amz-Tagging", "a=b") }, []string{"AccessDenied"}},
			{"with authorization", func() *wire {
				return ps(o.s).add("Authorization", "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
			}, []string{"InvalidArgument"}},
			{"streaming payload", func() *wire {
				w := ps(o.s)
				w.target += "&X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
				return w
			}, []string{"AuthorizationQueryParametersError", "SignatureDoesNotMatch", "InvalidArgument"}},
		}
		for _, m := range muts {
			out = append(out, g.caseFor(o, m.name, m.w(), m.want...))
		}
	}
	return out
}

// sigv2: Signature Version 2 requests, mutated after signing.
func (g *batteryGen) sigv2() []bcase {
	tg := g.tg
	var out []bcase
	for _, o := range g.ops() {
		if o.s.query != "" && o.s.query != "uploads=" && o.s.query != "delete=" && o.s.query != "tagging=" && o.s.query != "location=" {
			continue
		}
		now := signTimeNow()
		s := o.s
		if s.query != "" {
			s.query = strings.TrimSuffix(s.query, "=")
		}
		muts := []struct {
			name string
			w    func() *wire
			want []string
		}{
			{"bad signature", func() *wire {
				return tg.signV2(s, now).set("Authorization", "AWS "+tg.ak+":AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			}, []string{"SignatureDoesNotMatch"}},
			{"added x-amz header", func() *wire { return tg.signV2(s, now).add("X-Amz-Meta-Evil", "1") }, []string{"SignatureDoesNotMatch"}},
			{"added copy source", func() *wire { return tg.signV2(s, now).add("X-Amz-Copy-Source", "/ref/b") }, []string{"SignatureDoesNotMatch"}},
			{"content-md5 changed", func() *wire { return tg.signV2(s, now).set("Content-MD5", md5b64([]byte("x"))) }, []string{"SignatureDoesNotMatch", "BadDigest"}},
			{"skewed", func() *wire { return tg.signV2(s, now.Add(-time.Hour)) }, []string{"RequestTimeTooSkewed"}},
			{"unknown key", func() *wire {
				w := tg.signV2(s, now)
				return w.set("Authorization", strings.Replace(w.get("Authorization"), tg.ak, "NOSUCHKEY", 1))
			}, []string{"InvalidAccessKeyId"}},
			{"no colon", func() *wire { return tg.signV2(s, now).set("Authorization", "AWS "+tg.ak) }, []string{"InvalidArgument"}},
			{"s3mesh header", func() *wire { return tg.signV2(s, now).add("X-S3mesh-Cid", "bafkqaaa") }, []string{"AccessDenied"}},
			{"presigned expired", func() *wire {
				w := tg.unsigned(s)
				sep := "?"
				if strings.Contains(w.target, "?") {
					sep = "&"
				}
				w.target += sep + "AWSAccessKeyId=" + tg.ak + "&Expires=1000&Signature=AAAA"
				return w
			}, []string{"AccessDenied"}},
			{"presigned bad signature", func() *wire {
				w := tg.unsigned(s)
				sep := "?"
				if strings.Contains(w.target, "?") {
					sep = "&"
				}
				w.target += sep + "AWSAccessKeyId=" + tg.ak + "&Expires=" + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + "&Signature=AAAA"
				return w
			}, []string{"SignatureDoesNotMatch"}},
		}
		for _, m := range muts {
			out = append(out, g.caseFor(o, m.name, m.w(), m.want...))
		}
	}
	// Controls: the signer is right, so the mutations above test the
	// server.
	out = append(out,
		bcase{name: "control GET", w: tg.signV2(spec{method: "GET", path: "/ref/a"}, signTimeNow()), ok: true},
		bcase{name: "control HEAD", w: tg.signV2(spec{method: "HEAD", path: "/ref/b"}, signTimeNow()), ok: true},
	)
	return out
}

// contentLength: bodies shorter or longer than announced, and lengths
// net/http cannot parse.
func (g *batteryGen) contentLength() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	sizes := []int{1, 1000, 8192, 16384, 65536, 100 << 10}
	targets := []struct {
		name, path, query string
	}{
		{"PutObject", "/ref/a", ""},
		{"UploadPart", "/scratch/open", "partNumber=2&uploadId=" + g.upload},
	}
	for _, tgt := range targets {
		for _, n := range sizes {
			data := randomBytes(uint64(n), n)
			for _, mode := range []string{"signed", "unsigned"} {
				s := spec{method: "PUT", path: tgt.path, query: tgt.query, body: data}
				if mode == "unsigned" {
					s.payload = "UNSIGNED-PAYLOAD"
				}
				full := tg.v4(t, s)
				head := len(full.bytes()) - n
				for _, sent := range []int{0, n / 2, n - 1} {
					if sent == n || (sent == 0 && n == 1 && false) {
						continue
					}
					name := fmt.Sprintf("%s/%s/%d of %d", tgt.name, mode, sent, n)
					out = append(out,
						bcase{name: name + "/fin", w: full, send: head + sent, end: "fin", want: []string{"IncompleteBody"}},
						bcase{name: name + "/stall", w: full, send: head + sent, end: "stall", want: []string{"RequestTimeout"}},
					)
				}
				// Longer than announced: the announced part does not
				// match its signature; the rest is a malformed request.
				if mode == "signed" {
					short := full.clone().set("Content-Length", strconv.Itoa(n/2))
					out = append(out, bcase{name: fmt.Sprintf("%s/%s/announced %d of %d", tgt.name, mode, n/2, n), w: short, want: []string{"XAmzContentSHA256Mismatch"}})
				}
			}
		}
	}
	for _, cl := range []string{"-1", "abc", "1e3", "10, 20", "0x10", "99999999999999999999", " "} {
		w := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("0123456789")}).set("Content-Length", cl)
		out = append(out, bcase{name: "invalid " + cl, w: w, want: []string{"InvalidRequest"}})
	}
	w := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("0123456789")}).add("Content-Length", "11")
	out = append(out, bcase{name: "two lengths", w: w, want: []string{"InvalidRequest"}})
	for _, te := range []string{"gzip", "chunked, gzip", "identity", "deflate"} {
		w := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("0123456789")}).del("Content-Length").set("Transfer-Encoding", te)
		out = append(out, bcase{name: "transfer-encoding " + te, w: w, want: []string{"NotImplemented", "InvalidRequest"}})
	}
	// Chunked transfer coding that breaks off or lies.
	for _, body := range []string{"5\r\nabc", "zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcdef\r\n0\r\n\r\n", "3\r\nabc\r\n"} {
		w := tg.v4(t, spec{method: "PUT", path: "/ref/a", payload: "UNSIGNED-PAYLOAD"}).del("Content-Length").set("Transfer-Encoding", "chunked")
		w.body = []byte(body)
		// S3 wants a length beside the chunked coding: refused before the
		// body is read.
		out = append(out, bcase{name: fmt.Sprintf("chunked %q", body), w: w, end: "fin", want: []string{"MissingContentLength", "IncompleteBody"}})
	}
	// No length at all on a PUT: S3 requires one.
	w = tg.v4(t, spec{method: "PUT", path: "/ref/a"}).del("Content-Length")
	out = append(out, bcase{name: "no length", w: w, want: []string{"MissingContentLength"}, ok: false})
	return out
}

// halfClose: complete, valid requests whose client half-closes after
// sending them: carried out in full and acknowledged.
func (g *batteryGen) halfClose() []bcase {
	t, tg := g.t, g.tg
	g.written = map[string][]byte{}
	var out []bcase
	for i, n := range []int{0, 1, 1000, 1 << 16, 300 << 10} {
		for _, mode := range []string{"signed", "unsigned", "chunked", "presigned"} {
			key := fmt.Sprintf("hc/%s/%d", mode, n)
			data := randomBytes(uint64(100+i), n)
			var w *wire
			switch mode {
			case "signed":
				w = tg.v4(t, spec{method: "PUT", path: "/scratch/" + key, body: data})
			case "unsigned":
				w = tg.v4(t, spec{method: "PUT", path: "/scratch/" + key, body: data, payload: "UNSIGNED-PAYLOAD"})
			case "chunked":
				if n == 0 {
					continue
				}
				w, _ = tg.streaming(t, "/scratch/"+key, data, 64<<10, nil)
			case "presigned":
				w = tg.presign(t, spec{method: "PUT", path: "/scratch/" + key, body: data}, tg.region, signTimeNow(), 300)
			}
			g.written[key] = data
			out = append(out, bcase{name: "PutObject/" + key, w: w, end: "fin", ok: true})
		}
	}
	for i := range 4 {
		b := fmt.Sprintf("hc-bucket-%d", i)
		g.createdBuckets = append(g.createdBuckets, b)
		out = append(out, bcase{name: "CreateBucket/" + b, w: tg.v4(t, spec{method: "PUT", path: "/" + b}), end: "fin", ok: true})
	}
	g.written["hc/copy"] = nil // copied from ref/empty
	out = append(out,
		bcase{name: "CopyObject", w: tg.v4(t, spec{method: "PUT", path: "/scratch/hc/copy", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/empty"}}}), end: "fin", ok: true},
		bcase{name: "GetObject", w: tg.v4(t, spec{method: "GET", path: "/ref/b"}), end: "fin", ok: true},
		bcase{name: "HeadObject", w: tg.v4(t, spec{method: "HEAD", path: "/ref/big"}), end: "fin", ok: true},
		bcase{name: "ListObjectsV2", w: tg.v4(t, spec{method: "GET", path: "/ref", query: "list-type=2"}), end: "fin", ok: true},
		bcase{name: "UploadPart", w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=3&uploadId=" + g.upload, body: randomBytes(9, 1000)}), end: "fin", ok: true},
	)
	return out
}

// stalls: requests that stop before their end.
func (g *batteryGen) stalls() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	put := tg.v4(t, spec{method: "PUT", path: "/ref/a", body: randomBytes(7, 100<<10)})
	raw := put.bytes()
	head := len(raw) - len(put.body)
	for _, n := range []int{1, 4, 10, 17, 40, head / 2, head - 3, head - 1} {
		out = append(out, bcase{name: fmt.Sprintf("header %d of %d", n, head), w: put, send: n, end: "stall", want: []string{"RequestTimeout"}})
	}
	for _, n := range []int{0, 1, 1000, 50 << 10, 100<<10 - 1} {
		out = append(out, bcase{name: fmt.Sprintf("body %d of %d", n, 100<<10), w: put, send: head + n, end: "stall", want: []string{"RequestTimeout"}})
	}
	get := tg.v4(t, spec{method: "GET", path: "/ref/b"})
	for _, n := range []int{5, 30} {
		out = append(out, bcase{name: fmt.Sprintf("get header %d", n), w: get, send: n, end: "stall", want: []string{"RequestTimeout"}})
	}
	// A connection that sends nothing is closed (no request to answer).
	out = append(out, bcase{name: "silent", w: &wire{method: "GET"}, send: -1, end: "stall", close: true})
	// One byte, then nothing: the request is cut short.
	out = append(out, bcase{name: "one byte", w: get, send: 1, end: "stall", want: []string{"RequestTimeout"}})
	chunkedPut, _ := tg.streaming(t, "/ref/a", randomBytes(8, 100<<10), 64<<10, nil)
	craw := chunkedPut.bytes()
	chead := len(craw) - len(chunkedPut.body)
	for _, n := range []int{10, 100, 70000} {
		out = append(out, bcase{name: fmt.Sprintf("aws-chunked body %d", n), w: chunkedPut, send: chead + n, end: "stall", want: []string{"RequestTimeout"}})
	}
	return out
}

// awsChunked: streaming-signature bodies, corrupted.
func (g *batteryGen) awsChunked() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, n := range []int{1, 8192, 65536, 150000} {
		data := randomBytes(uint64(n)+7, n)
		mk := func() (*wire, *chunked) { return tg.streaming(t, "/ref/a", data, 64<<10, nil) }
		type mut struct {
			name string
			f    func(w *wire, c *chunked)
			want []string
		}
		muts := []mut{
			{"chunk signature", func(w *wire, c *chunked) { c.sigs[0] = strings.Repeat("0", 64); w.body = c.encode() }, []string{"SignatureDoesNotMatch"}},
			{"final signature", func(w *wire, c *chunked) { c.finalSig = strings.Repeat("1", 64); w.body = c.encode() }, []string{"SignatureDoesNotMatch"}},
			{"chunk data", func(w *wire, c *chunked) {
				c.chunks[0] = bytes.Clone(c.chunks[0])
				c.chunks[0][0] ^= 1
				w.body = c.encode()
			}, []string{"SignatureDoesNotMatch"}},
			{"no final chunk", func(w *wire, c *chunked) {
				w.body = w.body[:bytes.LastIndex(w.body, []byte("0;chunk-signature"))]
				w.set("Content-Length", strconv.Itoa(len(w.body)))
			}, []string{"IncompleteBody"}},
			{"decoded length larger", func(w *wire, c *chunked) { w.set("X-Amz-Decoded-Content-Length", strconv.Itoa(n+1)) }, []string{"SignatureDoesNotMatch"}},
			{"decoded length missing", func(w *wire, c *chunked) { w.del("X-Amz-Decoded-Content-Length") }, []string{"MissingContentLength", "SignatureDoesNotMatch"}},
			{"size not hex", func(w *wire, c *chunked) {
				w.body = append([]byte("zz"), w.body[len(strconv.FormatInt(int64(len(c.chunks[0])), 16)):]...)
			}, []string{"InvalidRequest", "IncompleteBody"}},
			{"size too large", func(w *wire, c *chunked) {
				w.body = append([]byte("fffffffffff"), w.body[len(strconv.FormatInt(int64(len(c.chunks[0])), 16)):]...)
			}, []string{"InvalidRequest", "EntityTooLarge"}},
			{"no signature", func(w *wire, c *chunked) {
				w.body = bytes.Replace(w.body, []byte(";chunk-signature="+c.sigs[0]), nil, 1)
			}, []string{"InvalidRequest", "SignatureDoesNotMatch"}},
			{"garbage after", func(w *wire, c *chunked) {
				w.body = append(bytes.Clone(w.body), "garbage"...)
				w.set("Content-Length", strconv.Itoa(len(w.body)))
			}, []string{"InvalidRequest", "IncompleteBody"}},
			{"truncated fin", func(w *wire, c *chunked) {}, []string{"IncompleteBody"}},
			{"no content-encoding", func(w *wire, c *chunked) { w.del("Content-Encoding") }, []string{"SignatureDoesNotMatch"}},
			{"seed swapped", func(w *wire, c *chunked) {
				w.set("Authorization", strings.Replace(w.get("Authorization"), c.headerSignature, strings.Repeat("a", 64), 1))
			}, []string{"SignatureDoesNotMatch"}},
			{"unsigned trailer bad checksum", func(w *wire, c *chunked) {}, nil},
		}
		for _, m := range muts {
			w, c := mk()
			bc := bcase{name: fmt.Sprintf("%d/%s", n, m.name), want: m.want}
			switch m.name {
			case "truncated fin":
				bc.w, bc.send, bc.end = w, len(w.bytes())-len(w.body)/2-1, "fin"
			case "unsigned trailer bad checksum":
				bc.w = tg.unsignedTrailer(t, "/ref/a", data, "AAAAAA==")
				bc.want = []string{"BadDigest"}
			default:
				m.f(w, c)
				bc.w = w
			}
			out = append(out, bc)
		}
	}
	return out
}

// unsignedTrailer returns a STREAMING-UNSIGNED-PAYLOAD-TRAILER PUT of data
// with an x-amz-checksum-crc32 trailer of value sum.
func (tg *edgeTarget) unsignedTrailer(t testing.TB, path string, data []byte, sum string) *wire {
	var b bytes.Buffer
	if len(data) > 0 {
		fmt.Fprintf(&b, "%x\r\n", len(data))
		b.Write(data)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", sum)
	w := tg.signV4(t, spec{method: "PUT", path: path, payload: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", hdr: [][2]string{
		{"Content-Encoding", "aws-chunked"}, {"X-Amz-Decoded-Content-Length", strconv.Itoa(len(data))}, {"X-Amz-Trailer", "x-amz-checksum-crc32"},
	}}, tg.region, tg.sk, signTimeNow())
	w.body = b.Bytes()
	return w.set("Content-Length", strconv.Itoa(b.Len()))
}

// bucketNames: invalid bucket names on the bucket and object operations.
func (g *batteryGen) bucketNames() []bcase {
	t, tg := g.t, g.tg
	names := []string{
		"ab", strings.Repeat("a", 64), "UPPER", "under_score", "-lead", "trail-", ".dot", "dot.", "two..dots",
		"192.168.1.1", "xn--punycode", "sthree-bucket", "name-s3alias", "name--ol-s3", "spa%20ce", "semi%3Bcolon",
		"%C3%A9t%C3%A9", "a.-b", "a-.b", "name--x-s3", "amzn-s3-demo-", "b%2Fslash", "quote%22", "tab%09", "nul%00",
	}
	var out []bcase
	for _, n := range names {
		for _, o := range []struct {
			name string
			s    spec
		}{
			{"CreateBucket", spec{method: "PUT", path: "/" + n}},
			{"ListObjectsV2", spec{method: "GET", path: "/" + n, query: "list-type=2"}},
			{"PutObject", spec{method: "PUT", path: "/" + n + "/k", body: []byte("x")}},
			{"GetObject", spec{method: "GET", path: "/" + n + "/k"}},
			{"HeadBucket", spec{method: "HEAD", path: "/" + n}},
			{"DeleteBucket", spec{method: "DELETE", path: "/" + n}},
		} {
			out = append(out, bcase{name: o.name + "/" + n, w: tg.v4(t, o.s), want: []string{"InvalidBucketName"}})
		}
	}
	// Valid names of buckets that do not exist.
	for _, n := range []string{"nosuchbucket", "no.such.bucket", "a1b", strings.Repeat("z", 63)} {
		out = append(out,
			bcase{name: "ListObjectsV2/" + n, w: tg.v4(t, spec{method: "GET", path: "/" + n, query: "list-type=2"}), want: []string{"NoSuchBucket"}},
			bcase{name: "PutObject/" + n, w: tg.v4(t, spec{method: "PUT", path: "/" + n + "/k", body: []byte("x")}), want: []string{"NoSuchBucket"}},
			bcase{name: "DeleteBucket/" + n, w: tg.v4(t, spec{method: "DELETE", path: "/" + n}), want: []string{"NoSuchBucket"}},
		)
	}
	// Existing buckets: reserved and not empty.
	out = append(out,
		bcase{name: "CreateBucket/ref exists", w: tg.v4(t, spec{method: "PUT", path: "/ref"}), want: []string{"BucketAlreadyOwnedByYou"}},
		bcase{name: "DeleteBucket/ref not empty", w: tg.v4(t, spec{method: "DELETE", path: "/ref"}), want: []string{"BucketNotEmpty"}},
		bcase{name: "CreateBucket/other location", w: tg.v4(t, spec{method: "PUT", path: "/otherloc", body: []byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)}), want: []string{"InvalidLocationConstraint", "IllegalLocationConstraintException"}},
	)
	return out
}

// keyNames: keys that are too long or not UTF-8, and keys that do not
// exist.
func (g *batteryGen) keyNames() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	bad := map[string][]string{
		strings.Repeat("k", 1025):                {"KeyTooLongError"},
		strings.Repeat("%C3%A9", 513):            {"KeyTooLongError"},
		"%FF%FE":                                 {"InvalidArgument"},
		"a%C3":                                   {"InvalidArgument"},
		"%ED%A0%80":                              {"InvalidArgument"},
		"ok/" + strings.Repeat("x", 1100):        {"KeyTooLongError"},
		"%C0%AF":                                 {"InvalidArgument"},
		"bad%zzescape":                           {"InvalidRequest", "InvalidURI"},
		strings.Repeat("%E2%82%AC", 342):         {"KeyTooLongError"},
		"%F4%90%80%80":                           {"InvalidArgument"},
		"x%80":                                   {"InvalidArgument"},
		"../" + strings.Repeat("y", 1030):        {"KeyTooLongError"},
		"%2F%2F" + strings.Repeat("z", 1024):     {"KeyTooLongError"},
		"tab%09" + strings.Repeat("w", 1024):     {"KeyTooLongError"},
		"%00%00%FF":                              {"InvalidArgument"},
		"emoji%F0%9F%98" + strings.Repeat("", 0): {"InvalidArgument"},
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, o := range []spec{
			{method: "PUT", path: "/ref/" + k, body: []byte("x")},
			{method: "GET", path: "/ref/" + k},
			{method: "HEAD", path: "/ref/" + k},
			{method: "DELETE", path: "/ref/" + k},
			{method: "PUT", path: "/ref/" + k, hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/a"}}},
			{method: "POST", path: "/ref/" + k, query: "uploads="},
		} {
			out = append(out, bcase{name: fmt.Sprintf("%s %.40s", o.method, k), w: tg.v4(t, o), want: bad[k]})
		}
	}
	for _, k := range []string{"missing", "a/", "dir", "dir/", "A", "a%20", "./a", "a//b", "b%3Fx", "../a", "%E2%82%AC", "%F0%9F%98%80"} {
		out = append(out,
			bcase{name: "GET missing " + k, w: tg.v4(t, spec{method: "GET", path: "/ref/" + k}), want: []string{"NoSuchKey"}},
			bcase{name: "HEAD missing " + k, w: tg.v4(t, spec{method: "HEAD", path: "/ref/" + k}), want: []string{"NoSuchKey"}},
			bcase{name: "tagging missing " + k, w: tg.v4(t, spec{method: "GET", path: "/ref/" + k, query: "tagging="}), want: []string{"NoSuchKey"}},
		)
	}
	return out
}

// headers: headers asking for what the node does not do, or wrong.
func (g *batteryGen) headers() []bcase {
	t, tg := g.t, g.tg
	type hc struct {
		name string
		hdr  [][2]string
		want []string
	}
	cases := []hc{
		{"sse AES256", [][2]string{{"X-Amz-Server-Side-Encryption", "AES256"}}, []string{"NotImplemented"}},
		{"sse kms", [][2]string{{"X-Amz-Server-Side-Encryption", "aws:kms"}}, []string{"NotImplemented"}},
		{"sse bogus", [][2]string{{"X-Amz-Server-Side-Encryption", "rot13"}}, []string{"InvalidArgument"}},
		{"sse kms key", [][2]string{{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", "k"}}, []string{"NotImplemented"}},
		{"sse-c", [][2]string{{"X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"}, {"X-Amz-Server-Side-Encryption-Customer-Key", "a2V5"}, {"X-Amz-Server-Side-Encryption-Customer-Key-Md5", "bWQ1"}}, []string{"NotImplemented"}},
		{"sse-c key only", [][2]string{{"X-Amz-Server-Side-Encryption-Customer-Key", "a2V5"}}, []string{"NotImplemented"}},
		{"bucket key", [][2]string{{"X-Amz-Server-Side-Encryption-Bucket-Key-Enabled", "true"}}, []string{"NotImplemented"}},
		{"object lock mode", [][2]string{{"X-Amz-Object-Lock-Mode", "GOVERNANCE"}}, []string{"InvalidRequest"}},
		{"object lock until", [][2]string{{"X-Amz-Object-Lock-Retain-Until-Date", "2030-01-01T00:00:00Z"}}, []string{"InvalidRequest"}},
		{"legal hold", [][2]string{{"X-Amz-Object-Lock-Legal-Hold", "ON"}}, []string{"InvalidRequest"}},
		{"storage class bogus", [][2]string{{"X-Amz-Storage-Class", "BOGUS"}}, []string{"InvalidStorageClass"}},
		{"storage class glacier", [][2]string{{"X-Amz-Storage-Class", "GLACIER"}}, []string{"InvalidStorageClass"}},
		{"storage class lower", [][2]string{{"X-Amz-Storage-Class", "standard"}}, []string{"InvalidStorageClass"}},
		{"storage class RRS", [][2]string{{"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"}}, []string{"InvalidStorageClass"}},
		{"sdk checksum MD6", [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "MD6"}}, []string{"InvalidRequest"}},
		{"sdk checksum empty", [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", ""}}, []string{"InvalidRequest"}},
		{"checksum algorithm bogus", [][2]string{{"X-Amz-Checksum-Algorithm", "XXH3"}}, []string{"InvalidRequest"}},
		{"website redirect", [][2]string{{"X-Amz-Website-Redirect-Location", "/x"}}, []string{"NotImplemented"}},
		{"expected owner", [][2]string{{"X-Amz-Expected-Bucket-Owner", "123456789012"}}, []string{"AccessDenied"}},
		{"mfa", [][2]string{{"X-Amz-Mfa", "123 456"}}, []string{"NotImplemented"}},
		{"grant", [][2]string{{"X-Amz-Grant-Read", "uri=http://acs.amazonaws.com/groups/global/AllUsers"}}, []string{"NotImplemented"}},
		{"acl public", [][2]string{{"X-Amz-Acl", "public-read"}}, []string{"NotImplemented"}},
		{"acl bogus", [][2]string{{"X-Amz-Acl", "everyone"}}, []string{"InvalidArgument"}},
		{"write offset", [][2]string{{"X-Amz-Write-Offset-Bytes", "0"}}, []string{"NotImplemented"}},
	}
	var out []bcase
	for _, c := range cases {
		for _, o := range []struct {
			name string
			s    spec
		}{
			{"PutObject", spec{method: "PUT", path: "/ref/a", body: []byte("new")}},
			{"CopyObject", spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}, {"X-Amz-Metadata-Directive", "REPLACE"}}}},
			{"CreateMultipartUpload", spec{method: "POST", path: "/ref/a", query: "uploads="}},
		} {
			s := o.s
			s.hdr = append(slices.Clone(s.hdr), c.hdr...)
			out = append(out, bcase{name: o.name + "/" + c.name, w: tg.v4(t, s), want: c.want})
		}
	}
	// Reads with encryption headers: the node has no such object.
	for _, c := range cases[:7] {
		out = append(out, bcase{name: "GetObject/" + c.name, w: tg.v4(t, spec{method: "GET", path: "/ref/a", hdr: c.hdr}), want: c.want})
	}
	body := []byte("new")
	out = append(out,
		bcase{name: "content-md5 wrong", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"Content-MD5", md5b64([]byte("other"))}}}), want: []string{"BadDigest"}},
		bcase{name: "content-md5 invalid", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"Content-MD5", "nope"}}}), want: []string{"InvalidDigest"}},
		bcase{name: "checksum wrong", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Checksum-Crc32", "AAAAAA=="}}}), want: []string{"BadDigest"}},
		bcase{name: "checksum invalid", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Checksum-Sha256", "x"}}}), want: []string{"InvalidRequest", "InvalidDigest", "InvalidArgument"}},
		bcase{name: "metadata too large", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Meta-Big", strings.Repeat("m", 3000)}}}), want: []string{"MetadataTooLarge"}},
		bcase{name: "tagging malformed", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: body, hdr: [][2]string{{"X-Amz-Tagging", "a=b&a=c"}}}), want: []string{"InvalidTag", "InvalidArgument"}},
	)
	// Header sections too large, in bytes or in fields, signed or not.
	big := func(n int) [][2]string { return [][2]string{{"X-Pad", strings.Repeat("p", n)}} }
	many := func(n int) [][2]string {
		h := make([][2]string, n)
		for i := range h {
			h[i] = [2]string{fmt.Sprintf("X-H%d", i), "v"}
		}
		return h
	}
	for _, hs := range []struct {
		name string
		h    [][2]string
	}{{"70 KiB", big(70 << 10)}, {"1 MiB", big(1 << 20)}, {"5000 fields", many(5000)}, {"600 fields", many(600)}, {"60 KiB over 2", append(big(30<<10), [2]string{"X-Pad2", strings.Repeat("q", 40<<10)})}} {
		for _, m := range []string{"GET", "PUT"} {
			s := spec{method: m, path: "/ref/a", hdr: hs.h}
			if m == "PUT" {
				s.body = []byte("new")
			}
			out = append(out,
				bcase{name: "too large/" + hs.name + "/" + m, w: tg.v4(t, s), want: []string{"RequestHeaderSectionTooLarge"}},
				bcase{name: "too large unsigned/" + hs.name + "/" + m, w: tg.unsigned(s), want: []string{"RequestHeaderSectionTooLarge"}},
			)
		}
	}
	// Header fields net/http cannot parse.
	for _, bad := range []string{"No-Colon", "Sp ace: x", ": empty", "X-Bad\x00: v", "X-Nl: a\rb"} {
		b := tg.v4(t, spec{method: "GET", path: "/ref/a"}).bytes()
		b = append(b[:len(b)-2], []byte(bad+"\r\n\r\n")...)
		out = append(out, bcase{name: fmt.Sprintf("unparsable %q", bad), w: rawWire(b), want: []string{"InvalidRequest"}})
	}
	for _, line := range []string{"GET /ref/a HTTP/2.0", "GET /ref/a", "GET  /ref/a HTTP/1.1", "BREW /ref/a HTTP/1.1", "GET ref/a HTTP/1.1"} {
		out = append(out, bcase{name: "request line " + line, w: rawWire([]byte(line + "\r\nHost: " + tg.addr + "\r\n\r\n")), want: []string{"InvalidRequest", "NotImplemented", "MethodNotAllowed", "AccessDenied", "InvalidURI"}})
	}
	return out
}

// rawWire is a wire whose bytes are given as is.
func rawWire(b []byte) *wire {
	i := bytes.IndexByte(b, ' ')
	m := "GET"
	if i > 0 {
		m = string(b[:i])
	}
	return &wire{method: m, raw: b}
}

// ranges: unsatisfiable ranges and part numbers.
func (g *batteryGen) ranges() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, o := range []struct {
		key  string
		size int
	}{{"a", 1000}, {"b", 100 << 10}, {"empty", 0}, {"big", 5<<20 + 1000}} {
		for _, r := range []string{
			fmt.Sprintf("bytes=%d-", o.size), fmt.Sprintf("bytes=%d-%d", o.size, o.size+10), fmt.Sprintf("bytes=%d-", o.size+1000),
			"bytes=99999999999-", "bytes=-0",
		} {
			if o.size == 0 && r == "bytes=-0" {
				continue
			}
			for _, m := range []string{"GET", "HEAD"} {
				out = append(out, bcase{name: fmt.Sprintf("%s %s %s", m, o.key, r), w: tg.v4(t, spec{method: m, path: "/ref/" + o.key, hdr: [][2]string{{"Range", r}}}), want: []string{"InvalidRange"}})
			}
		}
		for _, pn := range []string{"0", "-1", "10001", "abc", "1.5"} {
			out = append(out, bcase{name: fmt.Sprintf("GET %s partNumber=%s", o.key, pn), w: tg.v4(t, spec{method: "GET", path: "/ref/" + o.key, query: "partNumber=" + pn}), want: []string{"InvalidArgument", "InvalidPartNumber"}})
		}
		out = append(out,
			bcase{name: "GET " + o.key + " partNumber past", w: tg.v4(t, spec{method: "GET", path: "/ref/" + o.key, query: "partNumber=3"}), want: []string{"InvalidPartNumber"}},
			bcase{name: "GET " + o.key + " range and part", w: tg.v4(t, spec{method: "GET", path: "/ref/" + o.key, query: "partNumber=1", hdr: [][2]string{{"Range", "bytes=0-1"}}}), want: []string{"InvalidRequest"}},
		)
	}
	return out
}

// conditionals: preconditions that fail, on reads, writes and copies.
func (g *batteryGen) conditionals() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	future := time.Now().Add(48 * time.Hour).UTC().Format(http.TimeFormat)
	for _, key := range []string{"a", "b", "empty", "big", "dir/c"} {
		for _, m := range []string{"GET", "HEAD"} {
			out = append(out,
				bcase{name: m + " if-match " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-Match", `"0123"`}}}), want: []string{"PreconditionFailed"}},
				bcase{name: m + " if-unmodified-since " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-Unmodified-Since", past}}}), want: []string{"PreconditionFailed"}},
				bcase{name: m + " if-none-match * " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-None-Match", "*"}}}), status: http.StatusNotModified, want: []string{"NotModified"}},
				bcase{name: m + " if-modified-since future " + key, w: tg.v4(t, spec{method: m, path: "/ref/" + key, hdr: [][2]string{{"If-Modified-Since", future}}}), status: http.StatusNotModified, want: []string{"NotModified"}},
			)
		}
		out = append(out,
			bcase{name: "PUT if-none-match * " + key, w: tg.v4(t, spec{method: "PUT", path: "/ref/" + key, body: []byte("x"), hdr: [][2]string{{"If-None-Match", "*"}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "PUT if-match wrong " + key, w: tg.v4(t, spec{method: "PUT", path: "/ref/" + key, body: []byte("x"), hdr: [][2]string{{"If-Match", `"0123"`}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "copy if-match wrong " + key, w: tg.v4(t, spec{method: "PUT", path: "/scratch/cond", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/" + key}, {"X-Amz-Copy-Source-If-Match", `"0123"`}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "copy if-unmodified-since " + key, w: tg.v4(t, spec{method: "PUT", path: "/scratch/cond", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/" + key}, {"X-Amz-Copy-Source-If-Unmodified-Since", past}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "copy if-none-match * " + key, w: tg.v4(t, spec{method: "PUT", path: "/scratch/cond", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/" + key}, {"X-Amz-Copy-Source-If-None-Match", "*"}}}), want: []string{"PreconditionFailed"}},
			bcase{name: "DELETE if-match wrong " + key, w: tg.v4(t, spec{method: "DELETE", path: "/ref/" + key, hdr: [][2]string{{"If-Match", `"0123"`}}}), want: []string{"PreconditionFailed", "NotImplemented"}},
		)
	}
	return out
}

// xmlBodies: request bodies that are malformed or do not validate.
func (g *batteryGen) xmlBodies() []bcase {
	t, tg := g.t, g.tg
	type target struct {
		name, method, path, query, root string
		md5                             bool
	}
	targets := []target{
		{"DeleteObjects", "POST", "/ref", "delete=", "Delete", true},
		{"CompleteMultipartUpload", "POST", "/scratch/open", "uploadId=" + g.upload, "CompleteMultipartUpload", false},
		{"CreateBucket", "PUT", "/xmlbucket", "", "CreateBucketConfiguration", false},
		{"PutObjectTagging", "PUT", "/ref/a", "tagging=", "Tagging", false},
		{"PutObjectAcl", "PUT", "/ref/a", "acl=", "AccessControlPolicy", false},
	}
	inner := map[string]string{
		"Delete":                    "<Object><Key>a</Key></Object>",
		"CompleteMultipartUpload":   "<Part><PartNumber>1</PartNumber><ETag>" + g.partETag + "</ETag></Part>",
		"CreateBucketConfiguration": "<LocationConstraint>" + tg.region + "</LocationConstraint>",
		"Tagging":                   "<TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet>",
		"AccessControlPolicy":       "<Owner><ID>s3mesh</ID></Owner><AccessControlList></AccessControlList>",
	}
	dup := map[string]string{
		"Delete":                    "<Object><Key>b</Key><Key>a</Key></Object>",
		"CompleteMultipartUpload":   "<Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>" + g.partETag + "</ETag></Part>",
		"CreateBucketConfiguration": "<LocationConstraint>" + tg.region + "</LocationConstraint><LocationConstraint>" + tg.region + "</LocationConstraint>",
		"Tagging":                   "<TagSet><Tag><Key>k</Key><Key>k2</Key><Value>v</Value></Tag></TagSet>",
		"AccessControlPolicy":       "<Owner><ID>s3mesh</ID><ID>other</ID></Owner>",
	}
	var out []bcase
	for _, tt := range targets {
		r := tt.root
		bodies := []struct {
			name string
			body string
			want []string
		}{
			{"foreign namespace", `<` + r + ` xmlns="urn:evil">` + inner[r] + `</` + r + `>`, []string{"MalformedXML"}},
			{"foreign prefix", `<e:` + r + ` xmlns:e="urn:evil">` + inner[r] + `</e:` + r + `>`, []string{"MalformedXML"}},
			{"duplicate element", `<` + r + `>` + dup[r] + `</` + r + `>`, []string{"MalformedXML"}},
			{"unknown element", `<` + r + `>` + inner[r] + `<Evil>1</Evil></` + r + `>`, []string{"MalformedXML"}},
			{"wrong root", `<Other>` + inner[r] + `</Other>`, []string{"MalformedXML"}},
			{"truncated", `<` + r + `>` + inner[r], []string{"MalformedXML"}},
			{"not xml", `{"json": true}`, []string{"MalformedXML"}},
			{"two roots", `<` + r + `>` + inner[r] + `</` + r + `><` + r + `/>`, []string{"MalformedXML"}},
			{"entity", `<!DOCTYPE x [<!ENTITY e "a">]><` + r + `>&e;` + inner[r] + `</` + r + `>`, []string{"MalformedXML"}},
			{"nested deep", `<` + r + `>` + strings.Repeat("<Object>", 500) + `</` + r + `>`, []string{"MalformedXML"}},
			{"text in element", `<` + r + `>text` + inner[r] + `<Evil/></` + r + `>`, []string{"MalformedXML"}},
			{"too large", `<` + r + `>` + strings.Repeat(" ", 3<<20) + `</` + r + `>`, []string{"MaxMessageLengthExceeded", "MalformedXML", "EntityTooLarge"}},
		}
		for _, b := range bodies {
			body := []byte(b.body)
			var hdr [][2]string
			if tt.md5 {
				hdr = [][2]string{{"Content-MD5", md5b64(body)}}
			}
			want := b.want
			if tt.name == "CreateBucket" && (b.name == "not xml" || b.name == "wrong root") {
				want = append(want, "MalformedXML")
			}
			out = append(out, bcase{name: tt.name + "/" + b.name, w: tg.v4(t, spec{method: tt.method, path: tt.path, query: tt.query, body: body, hdr: hdr}), want: want})
		}
		if tt.name != "CreateBucket" {
			out = append(out, bcase{name: tt.name + "/empty", w: tg.v4(t, spec{method: tt.method, path: tt.path, query: tt.query, body: []byte{}}), want: []string{"MissingRequestBodyError", "MalformedXML", "InvalidRequest"}})
		}
	}
	del := []byte(`<Delete><Object><Key>a</Key></Object></Delete>`)
	out = append(out,
		bcase{name: "DeleteObjects/no md5", w: tg.v4(t, spec{method: "POST", path: "/ref", query: "delete=", body: del}), want: []string{"InvalidRequest", "MissingContentMD5"}},
		bcase{name: "DeleteObjects/wrong md5", w: tg.v4(t, spec{method: "POST", path: "/ref", query: "delete=", body: del, hdr: [][2]string{{"Content-MD5", md5b64([]byte("x"))}}}), want: []string{"BadDigest"}},
		bcase{name: "DeleteObjects/1001 keys", w: func() *wire {
			b := []byte("<Delete>" + strings.Repeat("<Object><Key>a</Key></Object>", 1001) + "</Delete>")
			return tg.v4(t, spec{method: "POST", path: "/ref", query: "delete=", body: b, hdr: [][2]string{{"Content-MD5", md5b64(b)}}})
		}(), want: []string{"MalformedXML"}},
	)
	return out
}

// multipart: sequences that must be refused.
func (g *batteryGen) multipart() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	u := g.upload
	small := randomBytes(11, 100)
	for _, pn := range []string{"0", "10001", "-1", "abc", "", "1.0", "99999999999"} {
		out = append(out, bcase{name: "UploadPart partNumber=" + pn, w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=" + pn + "&uploadId=" + u, body: small}), want: []string{"InvalidArgument", "InvalidPartNumber"}})
	}
	for _, id := range []string{"nosuchupload", "", "%00", strings.Repeat("u", 2000), u + "x"} {
		out = append(out,
			bcase{name: "UploadPart upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=1&uploadId=" + id, body: small}), want: []string{"NoSuchUpload", "InvalidArgument"}},
			bcase{name: "ListParts upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "GET", path: "/scratch/open", query: "uploadId=" + id}), want: []string{"NoSuchUpload", "InvalidArgument"}},
			bcase{name: "Abort upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "DELETE", path: "/scratch/open", query: "uploadId=" + id}), want: []string{"NoSuchUpload", "InvalidArgument"}},
			bcase{name: "Complete upload " + id[:min(len(id), 20)], w: tg.v4(t, spec{method: "POST", path: "/scratch/open", query: "uploadId=" + id, body: completeBody(g.partETag)}), want: []string{"NoSuchUpload", "InvalidArgument"}},
		)
	}
	// The upload under another key.
	out = append(out,
		bcase{name: "UploadPart other key", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", query: "partNumber=1&uploadId=" + u, body: small}), want: []string{"NoSuchUpload"}},
		bcase{name: "Complete other key", w: tg.v4(t, spec{method: "POST", path: "/ref/a", query: "uploadId=" + u, body: completeBody(g.partETag)}), want: []string{"NoSuchUpload"}},
	)
	part := func(n int, etag string) string {
		return fmt.Sprintf("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, etag)
	}
	completes := []struct {
		name  string
		parts string
		want  []string
	}{
		{"missing part", part(1, g.partETag) + part(7, `"00000000000000000000000000000000"`), []string{"InvalidPart"}},
		{"wrong etag", part(1, `"00000000000000000000000000000000"`), []string{"InvalidPart"}},
		{"descending", part(2, `"x"`) + part(1, g.partETag), []string{"InvalidPartOrder", "InvalidPart"}},
		{"repeated", part(1, g.partETag) + part(1, g.partETag), []string{"InvalidPartOrder", "InvalidPart"}},
		{"zero", part(0, g.partETag), []string{"InvalidArgument", "InvalidPart", "MalformedXML"}},
		{"too high", part(10001, g.partETag), []string{"InvalidArgument", "InvalidPart", "MalformedXML"}},
		{"none", "", []string{"MalformedXML"}},
		{"not a number", "<Part><PartNumber>one</PartNumber><ETag>x</ETag></Part>", []string{"MalformedXML", "InvalidArgument", "InvalidPart"}},
	}
	for _, c := range completes {
		out = append(out, bcase{name: "Complete " + c.name, w: tg.v4(t, spec{method: "POST", path: "/scratch/open", query: "uploadId=" + u, body: []byte("<CompleteMultipartUpload>" + c.parts + "</CompleteMultipartUpload>")}), want: c.want})
	}
	for _, q := range []string{"uploads=&max-uploads=-1", "uploads=&max-uploads=abc", "uploadId=" + u + "&max-parts=-1", "uploadId=" + u + "&part-number-marker=abc"} {
		method, path := "GET", "/scratch"
		if strings.HasPrefix(q, "uploadId") {
			path = "/scratch/open"
		}
		out = append(out, bcase{name: "list " + q, w: tg.v4(t, spec{method: method, path: path, query: q}), want: []string{"InvalidArgument"}})
	}
	return out
}

// copySources: x-amz-copy-source values that must be refused.
func (g *batteryGen) copySources() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	srcs := []struct {
		src  string
		want []string
	}{
		{"", []string{"InvalidArgument"}},
		{"/", []string{"InvalidArgument"}},
		{"ref", []string{"InvalidArgument"}},
		{"/ref", []string{"InvalidArgument"}},
		{"/ref/", []string{"InvalidArgument"}},
		{"/nosuchbucket/a", []string{"NoSuchBucket"}},
		{"/ref/nosuchkey", []string{"NoSuchKey"}},
		{"/ref/a%zz", []string{"InvalidArgument"}},
		{"/ref/a?versionId=xyz", []string{"NoSuchVersion", "InvalidArgument"}},
		{"/BAD_BUCKET/a", []string{"InvalidBucketName", "InvalidArgument", "NoSuchBucket"}},
		{"/ref/" + strings.Repeat("k", 1100), []string{"KeyTooLongError", "InvalidArgument"}},
		{"/ref/%FF", []string{"InvalidArgument"}},
	}
	for _, s := range srcs {
		out = append(out,
			bcase{name: "CopyObject " + s.src[:min(len(s.src), 30)], w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", s.src}}}), want: s.want},
			bcase{name: "UploadPartCopy " + s.src[:min(len(s.src), 30)], w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=2&uploadId=" + g.upload, hdr: [][2]string{{"X-Amz-Copy-Source", s.src}}}), want: s.want},
		)
	}
	out = append(out,
		bcase{name: "CopyObject onto itself", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/a"}}}), want: []string{"InvalidRequest"}},
		bcase{name: "CopyObject with body", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: []byte("x"), hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}}}), want: []string{"InvalidRequest", "UnexpectedContent"}},
		bcase{name: "CopyObject bad directive", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}, {"X-Amz-Metadata-Directive", "MERGE"}}}), want: []string{"InvalidArgument"}},
		bcase{name: "CopyObject with range", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/b"}, {"X-Amz-Copy-Source-Range", "bytes=0-1"}}}), want: []string{"InvalidArgument", "InvalidRequest"}},
	)
	for _, r := range []string{"bytes=0-99999999", "bytes=5-1", "bytes=abc", "0-1", "bytes=-5", "bytes=2000000-2000001"} {
		out = append(out, bcase{name: "UploadPartCopy range " + r, w: tg.v4(t, spec{method: "PUT", path: "/scratch/open", query: "partNumber=2&uploadId=" + g.upload, hdr: [][2]string{{"X-Amz-Copy-Source", "/ref/a"}, {"X-Amz-Copy-Source-Range", r}}}), want: []string{"InvalidArgument", "InvalidRange"}})
	}
	return out
}

// cid: x-s3mesh-cid, which adopts stored content, misused or unsigned.
func (g *batteryGen) cid() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	for _, c := range []struct {
		name string
		hdr  [][2]string
		body []byte
		want []string
	}{
		{"not a cid", [][2]string{{"X-S3mesh-Cid", "not-a-cid"}}, nil, []string{"InvalidArgument"}},
		{"empty", [][2]string{{"X-S3mesh-Cid", ""}}, nil, []string{"InvalidArgument"}},
		{"with body", [][2]string{{"X-S3mesh-Cid", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}}, []byte("x"), []string{"InvalidRequest"}},
		{"unknown content", [][2]string{{"X-S3mesh-Cid", "bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom"}}, nil, []string{"InvalidRequest", "NoSuchKey", "InvalidArgument", "ServiceUnavailable"}},
		{"twice", [][2]string{{"X-S3mesh-Cid", "bafkqaaa"}, {"X-S3mesh-Cid", "bafkqaaa"}}, nil, []string{"InvalidArgument"}},
	} {
		s := spec{method: "PUT", path: "/ref/a", hdr: c.hdr, body: c.body}
		out = append(out, bcase{name: c.name, w: tg.v4(t, s), want: c.want})
		// Added after signing: never obeyed.
		out = append(out, bcase{name: c.name + "/unsigned", w: tg.v4(t, spec{method: "PUT", path: "/ref/a", body: c.body}).add("X-S3mesh-Cid", "bafkqaaa"), want: []string{"AccessDenied"}})
		out = append(out, bcase{name: c.name + "/presigned unsigned", w: tg.presign(t, spec{method: "PUT", path: "/ref/a", body: c.body}, tg.region, signTimeNow(), 300).add("X-S3mesh-Cid", "bafkqaaa"), want: []string{"AccessDenied"}})
	}
	return out
}

// adminIPFS: the admin API and the IPFS gateway paths without valid
// credentials. In-process (no admin API), they are S3 paths.
func (g *batteryGen) adminIPFS() []bcase {
	t, tg := g.t, g.tg
	var out []bcase
	paths := []string{"/admin/v1/status", "/admin/v1/gc", "/admin/v1/peers", "/admin/v1/buckets/ref/replicate", "/ipfs/bafkqaaa", "/ipfs/notacid", "/ipfs/bafkqaaa/x", "/ui/api"}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			want := []string{"AccessDenied", "NotImplemented", "MethodNotAllowed"}
			out = append(out,
				bcase{name: m + " " + p + " anonymous", w: tg.unsigned(spec{method: m, path: p}), want: want},
				bcase{name: m + " " + p + " bad signature", w: func() *wire {
					w := tg.v4(t, spec{method: m, path: p})
					a := w.get("Authorization")
					return w.set("Authorization", a[:len(a)-4]+"0000")
				}(), want: append(want, "SignatureDoesNotMatch")},
				bcase{name: m + " " + p + " other region", w: tg.signV4(t, spec{method: m, path: p}, "eu-west-3", tg.sk, signTimeNow()), want: append(want, "AuthorizationHeaderMalformed")},
			)
		}
	}
	if tg.process {
		// The admin API and the status page answer JSON errors: only the
		// status is checked.
		for i := range out {
			if strings.Contains(out[i].name, " /admin") || strings.Contains(out[i].name, " /ui") {
				out[i].anyError = true
			}
		}
	}
	return out
}
