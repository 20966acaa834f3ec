package s3api_test

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func TestValidBucketName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"docexamplebucket1", true},
		{"log-delivery-march-2020", true},
		{"my-hosted-content", true},
		{"docexamplewebsite.com", true},
		{"www.docexamplewebsite.com", true},
		{"my.example.s3.bucket", true},
		{"abc", true},
		{"a1b", true},
		{"123", true},
		{strings.Repeat("a", 63), true},
		{"1.2.3", true},
		{"1.2.3.4.5", true},
		{"256.1.1.1a", true},
		{"doc_example_bucket", false},
		{"DocExampleBucket", false},
		{"doc-example-bucket-", false},
		{"-doc", false},
		{".doc", false},
		{"doc.", false},
		{"ab", false},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"my..bucket", false},
		{"my.-bucket", false},
		{"my-.bucket", false},
		{"192.168.5.4", false},
		{"1.1.1.1", false},
		{"xn--bucket", false},
		{"sthree-bucket", false},
		{"amzn-s3-demo-bucket", false},
		{"bucket-s3alias", false},
		{"bucket--ol-s3", false},
		{"bucket.mrap", false},
		{"bucket--x-s3", false},
		{"bucket--table-s3", false},
		{"buck et", false},
		{"bucket/x", false},
		{"bücket", false},
	}
	for _, tt := range tests {
		err := s3api.ValidBucketName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidBucketName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, s3err.ErrInvalidBucketName) {
			t.Errorf("ValidBucketName(%q) = %v, not InvalidBucketName", tt.name, err)
		}
	}
}

// FuzzValidBucketName checks the validator is total and that every name it
// accepts obeys the basic rules.
func FuzzValidBucketName(f *testing.F) {
	for _, s := range []string{"docexamplebucket1", "my..bucket", "192.168.5.4", "xn--a", "a-s3alias", "ab", "a.b-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if s3api.ValidBucketName(name) != nil {
			return
		}
		if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") || strings.ToLower(name) != name {
			t.Fatalf("accepted %q", name)
		}
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
				t.Fatalf("accepted %q with %q", name, c)
			}
		}
	})
}

// FuzzCreateBucketXML checks the CreateBucketConfiguration parser never
// panics and yields MalformedXML for what it rejects.
func FuzzCreateBucketXML(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`))
	f.Add([]byte(`<CreateBucketConfiguration/>`))
	f.Add([]byte(`<Other/>`))
	f.Add([]byte(`<CreateBucketConfiguration>`))
	f.Add([]byte(`<CreateBucketConfiguration/><x/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := s3api.ParseCreateBucketBody(data)
		if err != nil && !errors.Is(err, s3err.ErrMalformedXML) {
			t.Fatalf("error %v is not MalformedXML", err)
		}
	})
}

func TestBucketOps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Create, with and without a configuration.
	rec := e.mustDo(req{method: "PUT", target: "/alpha"}, 200)
	if rec.Header().Get("Location") != "/alpha" {
		t.Errorf("Location %q", rec.Header().Get("Location"))
	}
	e.mustDo(req{method: "PUT", target: "/beta", body: []byte(
		`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`)}, 200)
	for _, tt := range []struct {
		r    req
		code string
	}{
		{req{method: "PUT", target: "/alpha"}, "BucketAlreadyOwnedByYou"},
		{req{method: "PUT", target: "/gamma", body: []byte("garbage")}, "MalformedXML"},
		{req{method: "PUT", target: "/gamma", body: []byte("<Nope/>")}, "MalformedXML"},
		{req{method: "PUT", target: "/gamma", body: []byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)}, "InvalidLocationConstraint"},
		{req{method: "PUT", target: "/Bad_Name"}, "InvalidBucketName"},
		{req{method: "PUT", target: "/gamma", body: []byte("<CreateBucketConfiguration>" + strings.Repeat(" ", 70<<10) + "</CreateBucketConfiguration>")}, "MaxMessageLengthExceeded"},
		{req{method: "DELETE", target: "/nosuchbucket"}, "NoSuchBucket"},
		{req{method: "GET", target: "/nosuchbucket?location"}, "NoSuchBucket"},
	} {
		if got := errorCode(t, e.do(tt.r)); got != tt.code {
			t.Errorf("%s %s: code %q, want %q", tt.r.method, tt.r.target, got, tt.code)
		}
	}
	// Head.
	rec = e.mustDo(req{method: "HEAD", target: "/alpha"}, 200)
	if rec.Header().Get("x-amz-bucket-region") != testRegion {
		t.Errorf("x-amz-bucket-region %q", rec.Header().Get("x-amz-bucket-region"))
	}
	e.mustDo(req{method: "HEAD", target: "/nosuchbucket"}, 404)
	// Location.
	rec = e.mustDo(req{method: "GET", target: "/alpha?location"}, 200)
	golden(t, "get_bucket_location.xml", rec.Body.Bytes())
	// List.
	rec = e.mustDo(req{method: "GET", target: "/"}, 200)
	var list struct {
		XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
		Owner   struct{ ID, DisplayName string }
		Buckets []struct{ Name, CreationDate string } `xml:"Buckets>Bucket"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatalf("ListBuckets body: %v\n%s", err, rec.Body.String())
	}
	if len(list.Buckets) != 2 || list.Buckets[0].Name != "alpha" || list.Buckets[1].Name != "beta" || list.Owner.ID != s3api.DefaultOwnerID {
		t.Errorf("ListBuckets: %+v", list)
	}
	if !strings.HasSuffix(list.Buckets[0].CreationDate, "Z") || len(list.Buckets[0].CreationDate) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("CreationDate %q", list.Buckets[0].CreationDate)
	}
	// Delete: not empty, then empty.
	e.mustDo(req{method: "PUT", target: "/alpha/obj", body: []byte("x")}, 200)
	if got := errorCode(t, e.do(req{method: "DELETE", target: "/alpha"})); got != "BucketNotEmpty" {
		t.Errorf("delete non-empty: %q", got)
	}
	e.mustDo(req{method: "DELETE", target: "/alpha/obj"}, 204)
	e.mustDo(req{method: "DELETE", target: "/alpha"}, 204)
	e.mustDo(req{method: "HEAD", target: "/alpha"}, 404)
}

func TestListBucketsGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *s3api.Config) { c.Owner = s3api.Owner{ID: "owner-id", DisplayName: "office"} })
	rec := e.mustDo(req{method: "GET", target: "/"}, 200)
	golden(t, "list_buckets_empty.xml", rec.Body.Bytes())
}
