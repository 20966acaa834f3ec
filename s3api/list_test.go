package s3api_test

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3mem"
)

type listResult struct {
	Name                  string
	Prefix                string
	Marker                *string
	NextMarker            string
	ContinuationToken     string
	NextContinuationToken string
	StartAfter            string
	KeyCount              *int
	MaxKeys               int
	Delimiter             string
	EncodingType          string
	IsTruncated           bool
	Contents              []struct {
		Key          string
		ETag         string
		Size         int64
		StorageClass string
		Owner        *struct{ ID, DisplayName string }
	}
	CommonPrefixes []struct{ Prefix string }
}

func (l listResult) keys() []string {
	var out []string
	for _, c := range l.Contents {
		out = append(out, c.Key)
	}
	for _, p := range l.CommonPrefixes {
		out = append(out, p.Prefix+"(prefix)")
	}
	return out
}

func listEnv(t *testing.T, keys ...string) *env {
	t.Helper()
	clock := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnvStore(t, s3mem.NewWithConfig(s3mem.Config{Now: func() time.Time { return clock }}))
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	for _, k := range keys {
		e.mustDo(req{method: "PUT", target: "/bkt1/" + escapeKey(k), body: []byte(k)}, 200)
	}
	return e
}

func (e *env) list(query string) listResult {
	e.t.Helper()
	rec := e.mustDo(req{method: "GET", target: "/bkt1?" + query}, 200)
	var res listResult
	if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		e.t.Fatalf("list body: %v\n%s", err, rec.Body.String())
	}
	return res
}

func TestListObjectsV1(t *testing.T) {
	t.Parallel()
	e := listEnv(t, "a", "b/1", "b/2", "c", "d/x/y")
	tests := []struct {
		query     string
		keys      []string
		truncated bool
		next      string
	}{
		{"", []string{"a", "b/1", "b/2", "c", "d/x/y"}, false, ""},
		{"prefix=b/", []string{"b/1", "b/2"}, false, ""},
		{"delimiter=/", []string{"a", "c", "b/(prefix)", "d/(prefix)"}, false, ""},
		{"delimiter=/&max-keys=2", []string{"a", "b/(prefix)"}, true, "b/"},
		{"delimiter=/&marker=b/", []string{"c", "d/(prefix)"}, false, ""},
		{"max-keys=2", []string{"a", "b/1"}, true, ""},
		{"marker=b/1", []string{"b/2", "c", "d/x/y"}, false, ""},
		{"max-keys=0", nil, false, ""},
		{"max-keys=5000", []string{"a", "b/1", "b/2", "c", "d/x/y"}, false, ""},
	}
	for _, tt := range tests {
		res := e.list(tt.query)
		if !slices.Equal(res.keys(), tt.keys) || res.IsTruncated != tt.truncated || res.NextMarker != tt.next {
			t.Errorf("%q: keys %v truncated %v next %q, want %v %v %q", tt.query, res.keys(), res.IsTruncated, res.NextMarker, tt.keys, tt.truncated, tt.next)
		}
		if res.Marker == nil || res.KeyCount != nil {
			t.Errorf("%q: V1 Marker %v KeyCount %v", tt.query, res.Marker, res.KeyCount)
		}
		for _, c := range res.Contents {
			if c.Owner == nil || c.Owner.ID != s3api.DefaultOwnerID || c.StorageClass != "STANDARD" {
				t.Errorf("%q: entry %+v", tt.query, c)
			}
		}
	}
	if res := e.list("max-keys=5000"); res.MaxKeys != 1000 {
		t.Errorf("MaxKeys %d, want 1000", res.MaxKeys)
	}
	for _, q := range []string{"max-keys=-1", "max-keys=x", "encoding-type=base64"} {
		if got := errorCode(t, e.do(req{method: "GET", target: "/bkt1?" + q})); got != "InvalidArgument" {
			t.Errorf("%q: code %q", q, got)
		}
	}
	if got := errorCode(t, e.do(req{method: "GET", target: "/nosuchbucket"})); got != "NoSuchBucket" {
		t.Errorf("no bucket: %q", got)
	}
	if got := errorCode(t, e.do(req{method: "GET", target: "/nosuchbucket?max-keys=0"})); got != "NoSuchBucket" {
		t.Errorf("no bucket, max-keys=0: %q", got)
	}
}

func TestListObjectsV1Golden(t *testing.T) {
	t.Parallel()
	e := listEnv(t, "a b", "photos/2006/x.jpg", "photos/2007/y.jpg")
	rec := e.mustDo(req{method: "GET", target: "/bkt1?delimiter=/&prefix=photos/&max-keys=1"}, 200)
	golden(t, "list_objects_v1.xml", rec.Body.Bytes())
	rec = e.mustDo(req{method: "GET", target: "/bkt1?list-type=2&encoding-type=url&start-after=a"}, 200)
	golden(t, "list_objects_v2_url.xml", rec.Body.Bytes())
}

// TestListObjectsV2Pages walks every page with the continuation token,
// with and without a delimiter; the union is the whole listing, in order,
// with each common prefix once.
func TestListObjectsV2Pages(t *testing.T) {
	t.Parallel()
	var keys []string
	for i := range 7 {
		keys = append(keys, fmt.Sprintf("k%02d", i), fmt.Sprintf("p%d/x", i%3), fmt.Sprintf("p%d/y", i%3))
	}
	e := listEnv(t, keys...)
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06", "p0/x", "p0/y", "p1/x", "p1/y", "p2/x", "p2/y"}},
		{"&delimiter=/", []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06", "p0/(prefix)", "p1/(prefix)", "p2/(prefix)"}},
	} {
		for _, size := range []int{1, 2, 5} {
			var got []string
			token := ""
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatalf("%q by %d: too many pages", tt.query, size)
				}
				q := fmt.Sprintf("list-type=2&max-keys=%d%s", size, tt.query)
				if token != "" {
					q += "&continuation-token=" + url.QueryEscape(token)
				}
				res := e.list(q)
				if res.KeyCount == nil || *res.KeyCount != len(res.Contents)+len(res.CommonPrefixes) {
					t.Fatalf("KeyCount %v", res.KeyCount)
				}
				if res.ContinuationToken != token {
					t.Fatalf("ContinuationToken %q, sent %q", res.ContinuationToken, token)
				}
				for _, c := range res.Contents {
					got = append(got, c.Key)
					if c.Owner != nil {
						t.Fatal("Owner without fetch-owner")
					}
				}
				for _, p := range res.CommonPrefixes {
					got = append(got, p.Prefix+"(prefix)")
				}
				if !res.IsTruncated {
					break
				}
				token = res.NextContinuationToken
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%q by %d: %v, want %v", tt.query, size, got, want)
			}
		}
	}
}

func TestListObjectsV2(t *testing.T) {
	t.Parallel()
	e := listEnv(t, "a", "b", "c d+e%f", "x/ü")
	res := e.list("list-type=2&start-after=a&fetch-owner=true")
	if !slices.Equal(res.keys(), []string{"b", "c d+e%f", "x/ü"}) || res.StartAfter != "a" {
		t.Errorf("start-after: %v %q", res.keys(), res.StartAfter)
	}
	if res.Contents[0].Owner == nil {
		t.Error("no Owner with fetch-owner=true")
	}
	// The token wins over start-after.
	res = e.list("list-type=2&start-after=x&continuation-token=" + s3api.EncodeContinuationToken("a"))
	if !slices.Equal(res.keys(), []string{"b", "c d+e%f", "x/ü"}) {
		t.Errorf("token over start-after: %v", res.keys())
	}
	res = e.list("list-type=2&encoding-type=url&prefix=c%20&delimiter=%2B")
	if res.EncodingType != "url" || res.Prefix != "c%20" || res.Delimiter != "%2B" || !slices.Equal(res.keys(), []string{"c%20d%2B(prefix)"}) {
		t.Errorf("url encoding: %+v", res)
	}
	// An empty continuation token is no token.
	res = e.list("list-type=2&start-after=b&continuation-token=")
	if !slices.Equal(res.keys(), []string{"c d+e%f", "x/ü"}) || res.ContinuationToken != "" {
		t.Errorf("empty continuation token: %+v", res)
	}
	res = e.list("list-type=2&encoding-type=url&prefix=x/")
	if !slices.Equal(res.keys(), []string{"x/%C3%BC"}) {
		t.Errorf("url encoding of UTF-8: %v", res.keys())
	}
	res = e.list("list-type=2&max-keys=0")
	if res.IsTruncated || len(res.keys()) != 0 || res.KeyCount == nil || *res.KeyCount != 0 {
		t.Errorf("max-keys=0: %+v", res)
	}
	for _, q := range []string{"list-type=2&continuation-token=!!!", "list-type=2&encoding-type=xml"} {
		if got := errorCode(t, e.do(req{method: "GET", target: "/bkt1?" + q})); got != "InvalidArgument" {
			t.Errorf("%q: code %q", q, got)
		}
	}
}

// TestListNewlineKeys: keys and prefixes holding a newline survive XML
// as sent, and are %0A with encoding-type=url.
func TestListNewlineKeys(t *testing.T) {
	t.Parallel()
	e := listEnv(t, "l\n1/a", "l\n2", "m n")
	res := e.list("list-type=2&delimiter=/")
	if got := res.keys(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"l\n1/(prefix)", "l\n2", "m n"}) {
		t.Errorf("plain: %q", res.keys())
	}
	res = e.list("list-type=2&delimiter=/&encoding-type=url&prefix=l%0A")
	if got := res.keys(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"l%0A1/(prefix)", "l%0A2"}) || res.Prefix != "l%0A" {
		t.Errorf("url: %q, prefix %q", res.keys(), res.Prefix)
	}
	rec := e.mustDo(req{method: "GET", target: "/bkt1?versions&encoding-type=url&prefix=m"}, 200)
	if !strings.Contains(rec.Body.String(), "<Key>m%20n</Key>") {
		t.Errorf("ListObjectVersions url: %s", rec.Body.String())
	}
}

func TestS3URLEncode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":         "",
		"abc/DEF":  "abc/DEF",
		"a b":      "a%20b",
		"a\nb":     "a%0Ab",
		"a+b":      "a%2Bb",
		"a%b":      "a%25b",
		"-_.~":     "-_.~",
		"ü":        "%C3%BC",
		"\x01&=?#": "%01%26%3D%3F%23",
	} {
		if got := s3api.S3URLEncode(in); got != want {
			t.Errorf("S3URLEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
