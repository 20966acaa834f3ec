package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"s3mesh/s3api/s3err"
)

// The edge battery's harness: requests signed like a client's, then put on
// a raw TCP connection as bytes, so that lengths can lie, bodies can stop,
// connections can half-close or stall, and headers can be added after
// signing.

// edgeTarget is the endpoint under test.
type edgeTarget struct {
	addr   string // HOST:PORT
	ak, sk string
	region string
	// process is true for a real s3mesh process, which serves the admin
	// API and /ipfs/ beside S3.
	process bool
}

// wire is one HTTP/1.1 request as bytes to be: request line, header fields
// in order, body.
type wire struct {
	method string
	target string // path?query as sent
	hdr    [][2]string
	body   []byte
	// raw, when set, is sent instead: bytes net/http cannot parse.
	raw []byte
}

func (w *wire) get(name string) string {
	for _, h := range w.hdr {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func (w *wire) set(name, value string) *wire {
	for i, h := range w.hdr {
		if strings.EqualFold(h[0], name) {
			w.hdr[i][1] = value
			return w
		}
	}
	w.hdr = append(w.hdr, [2]string{name, value})
	return w
}

func (w *wire) add(name, value string) *wire {
	w.hdr = append(w.hdr, [2]string{name, value})
	return w
}

func (w *wire) del(name string) *wire {
	w.hdr = slices.DeleteFunc(w.hdr, func(h [2]string) bool { return strings.EqualFold(h[0], name) })
	return w
}

func (w *wire) clone() *wire {
	c := *w
	c.hdr = slices.Clone(w.hdr)
	c.body = slices.Clone(w.body)
	return &c
}

func (w *wire) bytes() []byte {
	if w.raw != nil {
		return w.raw
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", w.method, w.target)
	for _, h := range w.hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	b.Write(w.body)
	return b.Bytes()
}

// spec describes a request to sign.
type spec struct {
	method string
	path   string // escaped path
	query  string // raw query, without '?'
	hdr    [][2]string
	body   []byte
	// payload is x-amz-content-sha256: "" for the body's SHA-256.
	payload string
}

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// signTimeNow is the signing time of the battery's requests.
func signTimeNow() time.Time { return time.Now().UTC() }

// unsigned returns the request as is, with Host and Content-Length.
func (tg *edgeTarget) unsigned(s spec) *wire {
	target := s.path
	if s.query != "" {
		target += "?" + s.query
	}
	w := &wire{method: s.method, target: target, body: s.body}
	w.add("Host", tg.addr)
	for _, h := range s.hdr {
		w.add(h[0], h[1])
	}
	if s.body != nil || s.method == http.MethodPut || s.method == http.MethodPost {
		w.set("Content-Length", strconv.Itoa(len(s.body)))
	}
	return w
}

// signV4 signs s with SigV4 in the Authorization header, region and time
// as given. Content-Length is not signed, so it can lie afterwards.
func (tg *edgeTarget) signV4(t testing.TB, s spec, region, sk string, when time.Time) *wire {
	t.Helper()
	payload := s.payload
	if payload == "" {
		payload = sha256hex(s.body)
	}
	req := tg.newRequest(t, s.method, s.path, s.query)
	for _, h := range s.hdr {
		req.Header.Add(h[0], h[1])
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: tg.ak, SecretAccessKey: sk}, req, payload, "s3", region, when); err != nil {
		t.Fatal(err)
	}
	w := tg.unsigned(spec{method: s.method, path: s.path, query: s.query, body: s.body})
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			w.add(k, v)
		}
	}
	return w
}

func (tg *edgeTarget) v4(t testing.TB, s spec) *wire {
	return tg.signV4(t, s, tg.region, tg.sk, signTimeNow())
}

// presign returns s as a presigned URL request (signed headers: host and
// those of s), expiring after expires seconds, with extra query parameters
// signed into it.
func (tg *edgeTarget) presign(t testing.TB, s spec, region string, when time.Time, expires int) *wire {
	t.Helper()
	q := s.query
	if q != "" {
		q += "&"
	}
	q += "X-Amz-Expires=" + strconv.Itoa(expires)
	req := tg.newRequest(t, s.method, s.path, q)
	for _, h := range s.hdr {
		req.Header.Add(h[0], h[1])
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, hdr, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: tg.ak, SecretAccessKey: tg.sk}, req, "UNSIGNED-PAYLOAD", "s3", region, when)
	if err != nil {
		t.Fatal(err)
	}
	target := u[strings.Index(u[len("http://"):], "/")+len("http://"):]
	w := &wire{method: s.method, target: target, body: s.body}
	w.add("Host", tg.addr)
	for k, vv := range hdr {
		if strings.EqualFold(k, "host") {
			continue
		}
		for _, v := range vv {
			w.add(k, v)
		}
	}
	if s.body != nil || s.method == http.MethodPut || s.method == http.MethodPost {
		w.set("Content-Length", strconv.Itoa(len(s.body)))
	}
	return w
}

// newRequest returns a request for the escaped path as is (even one that
// does not decode), for the signer.
func (tg *edgeTarget) newRequest(t testing.TB, method, path, query string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+tg.addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = &url.URL{Scheme: "http", Host: tg.addr, Opaque: "//" + tg.addr + path, RawQuery: query}
	return req
}

// signV2 signs s with Signature Version 2 in the Authorization header
// (path-style, sub-resources as in s.query must be among those V2 signs).
func (tg *edgeTarget) signV2(s spec, when time.Time) *wire {
	w := tg.unsigned(s)
	date := when.UTC().Format(http.TimeFormat)
	w.set("Date", date)
	var amz []string
	for _, h := range w.hdr {
		if l := strings.ToLower(h[0]); strings.HasPrefix(l, "x-amz-") {
			amz = append(amz, l+":"+strings.TrimSpace(h[1]))
		}
	}
	sort.Strings(amz)
	sts := s.method + "\n" + w.get("Content-MD5") + "\n" + w.get("Content-Type") + "\n" + date + "\n"
	for _, a := range amz {
		sts += a + "\n"
	}
	sts += s.path
	if s.query != "" {
		sts += "?" + s.query
	}
	m := hmac.New(sha1.New, []byte(tg.sk))
	m.Write([]byte(sts))
	w.set("Authorization", "AWS "+tg.ak+":"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	return w
}

// signingKey derives the SigV4 key for date (yyyymmdd).
func (tg *edgeTarget) signingKey(date string) []byte {
	k := hmacSHA([]byte("AWS4"+tg.sk), date)
	k = hmacSHA(k, tg.region)
	k = hmacSHA(k, "s3")
	return hmacSHA(k, "aws4_request")
}

func hmacSHA(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// chunked is an aws-chunked body being built.
type chunked struct {
	key             []byte
	amzDate, scope  string
	prev            string
	chunks          [][]byte
	sigs            []string
	finalSig        string
	encoded         []byte
	decodedLen      int
	headerSignature string
}

// streaming signs a STREAMING-AWS4-HMAC-SHA256-PAYLOAD PutObject of data
// cut into chunks of size chunk, and returns the wire request and its
// parts for corruption.
func (tg *edgeTarget) streaming(t testing.TB, path string, data []byte, chunk int, extra [][2]string) (*wire, *chunked) {
	t.Helper()
	when := signTimeNow()
	var sizes []int
	for off := 0; off < len(data); off += chunk {
		sizes = append(sizes, min(chunk, len(data)-off))
	}
	hdr := append([][2]string{
		{"Content-Encoding", "aws-chunked"},
		{"X-Amz-Decoded-Content-Length", strconv.Itoa(len(data))},
	}, extra...)
	w := tg.signV4(t, spec{method: http.MethodPut, path: path, hdr: hdr, payload: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, tg.region, tg.sk, when)
	// signV4 set the header Content-Length once more from the empty body.
	w.del("Content-Length")
	authz := w.get("Authorization")
	seed := authz[strings.LastIndex(authz, "=")+1:]
	c := &chunked{
		key: tg.signingKey(when.Format("20060102")), amzDate: when.Format("20060102T150405Z"),
		scope: when.Format("20060102") + "/" + tg.region + "/s3/aws4_request", prev: seed,
		decodedLen: len(data), headerSignature: seed,
	}
	off := 0
	for _, n := range sizes {
		c.chunks = append(c.chunks, data[off:off+n])
		c.sigs = append(c.sigs, c.sign(data[off:off+n]))
		off += n
	}
	c.finalSig = c.sign(nil)
	c.encoded = c.encode()
	w.body = c.encoded
	w.set("Content-Length", strconv.Itoa(len(c.encoded)))
	return w, c
}

func (c *chunked) sign(data []byte) string {
	sum := sha256.Sum256(data)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + emptySHA + "\n" + hex.EncodeToString(sum[:])
	c.prev = hex.EncodeToString(hmacSHA(c.key, sts))
	return c.prev
}

func (c *chunked) encode() []byte {
	var b bytes.Buffer
	for i, ch := range c.chunks {
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(ch), c.sigs[i])
		b.Write(ch)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n\r\n", c.finalSig)
	return b.Bytes()
}

// bcase is one battery request and what must come of it.
type bcase struct {
	family, name string
	w            *wire
	// send is how many bytes of the request are sent; 0 means all.
	send int
	// end is what the client does after sending: "" waits, "fin"
	// half-closes, "stall" sends nothing more and waits.
	end string
	// want are the acceptable S3 error codes, the documented one first;
	// nil with ok false means any 4xx S3 error.
	want []string
	// status, when set, is the status wanted (304, or a code-less answer).
	status int
	// ok: a 2xx is wanted.
	ok bool
	// close: the connection may close without an answer (a silent
	// client's connection at a header timeout).
	close bool
	// anyError: any 4xx answer will do, XML or not (the admin API
	// answers JSON).
	anyError bool
}

// result is what a case got.
type result struct {
	status int
	code   string
	ctype  string
	body   []byte
	err    error
}

// exchange sends c on a fresh connection and reads the answer, within
// bound (a deadline on the connection: a hang fails, it is not timed).
func (tg *edgeTarget) exchange(c bcase, bound time.Duration) result {
	conn, err := net.DialTimeout("tcp", tg.addr, bound)
	if err != nil {
		return result{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(bound))
	raw := c.w.bytes()
	switch {
	case c.send < 0:
		raw = nil
	case c.send > 0 && c.send < len(raw):
		raw = raw[:c.send]
	}
	go func() {
		_, _ = conn.Write(raw)
		if c.end == "fin" {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: c.w.method})
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{status: resp.StatusCode, err: fmt.Errorf("read body: %w", err)}
	}
	res := result{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: body}
	var e struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
	}
	if len(body) > 0 && xml.Unmarshal(body, &e) == nil {
		res.code = e.Code
	}
	return res
}

// check reports what is wrong with res for c, "" when it is right.
func (c bcase) check(res result) string {
	if res.err != nil {
		if c.close && res.status == 0 {
			return ""
		}
		return fmt.Sprintf("no complete answer: %v", res.err)
	}
	if c.ok {
		if res.status/100 != 2 {
			return fmt.Sprintf("status %d code %s, want 2xx", res.status, res.code)
		}
		return ""
	}
	if c.status != 0 && res.status == c.status && (c.status == http.StatusNotModified || c.w.method == http.MethodHead) {
		return ""
	}
	if res.status/100 == 5 && res.status != http.StatusNotImplemented && res.status != http.StatusServiceUnavailable {
		return fmt.Sprintf("status %d (%s)", res.status, res.code)
	}
	if res.status/100 == 2 || res.status/100 == 3 {
		return fmt.Sprintf("status %d, want an error %v", res.status, c.want)
	}
	if c.anyError && res.status/100 == 4 {
		return ""
	}
	if c.w.method == http.MethodHead {
		if len(c.want) > 0 && res.status != s3err.Code(c.want[0]).Status() {
			return fmt.Sprintf("HEAD status %d, want %d (%s)", res.status, s3err.Code(c.want[0]).Status(), c.want[0])
		}
		return ""
	}
	if !strings.HasPrefix(res.ctype, "application/xml") || res.code == "" {
		return fmt.Sprintf("status %d, not an S3 XML error: %q %.200q", res.status, res.ctype, res.body)
	}
	if len(c.want) > 0 && !slices.Contains(c.want, res.code) {
		return fmt.Sprintf("code %s (status %d), want %v: %.300s", res.code, res.status, c.want, res.body)
	}
	if st := s3err.Code(res.code).Status(); s3err.Code(res.code).Known() && st != res.status {
		return fmt.Sprintf("code %s with status %d, want %d", res.code, res.status, st)
	}
	return ""
}

// runCases runs cases on workers connections at a time and returns the
// failures by family and the counts.
func (tg *edgeTarget) runCases(t *testing.T, cases []bcase, workers int, bound time.Duration) (counts map[string]int, failures []string) {
	counts = map[string]int{}
	var mu sync.Mutex
	ch := make(chan bcase)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				res := tg.exchange(c, bound)
				msg := c.check(res)
				mu.Lock()
				counts[c.family]++
				if msg != "" {
					failures = append(failures, fmt.Sprintf("%s/%s: %s", c.family, c.name, msg))
				}
				mu.Unlock()
			}
		}()
	}
	for _, c := range cases {
		ch <- c
	}
	close(ch)
	wg.Wait()
	return counts, failures
}

// mustOK sends w and fails unless it is answered 2xx; it returns the body.
func (tg *edgeTarget) mustOK(t *testing.T, what string, w *wire) []byte {
	t.Helper()
	res := tg.exchange(bcase{w: w}, 30*time.Second)
	if res.err != nil || res.status/100 != 2 {
		t.Fatalf("%s: status %d err %v: %s", what, res.status, res.err, res.body)
	}
	return res.body
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}
