package s3api_test

import (
	"errors"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// TestDecodeXML checks the strict request-body decoding through the
// CreateBucketConfiguration parser: one element of the expected name, then
// only white space, comments or processing instructions.
func TestDecodeXML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		loc  string
		ok   bool
	}{
		{`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`, "us-east-1", true},
		{`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"> <LocationConstraint> eu-west-1 </LocationConstraint></CreateBucketConfiguration>` + "\n<!-- c -->\n", "eu-west-1", true},
		{`<CreateBucketConfiguration/>`, "", true},
		{`<CreateBucketConfiguration><Unknown>x</Unknown></CreateBucketConfiguration>`, "", false},
		{`<CreateBucketConfiguration xmlns="http://example.com/other"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`, "", false},
		{`<CreateBucketConfiguration><LocationConstraint xmlns="urn:x">us-east-1</LocationConstraint></CreateBucketConfiguration>`, "", false},
		{`<s3:CreateBucketConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:LocationConstraint>eu-west-1</s3:LocationConstraint></s3:CreateBucketConfiguration>`, "eu-west-1", true},
		{`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`, "", false},
		{`<CreateBucketConfiguration><LocationConstraint><X/>us-east-1</LocationConstraint></CreateBucketConfiguration>`, "", false},
		{`<CreateBucketConfiguration/>trailing`, "", false},
		{`<CreateBucketConfiguration/><CreateBucketConfiguration/>`, "", false},
		{`<WrongRoot/>`, "", false},
		{`<CreateBucketConfiguration>`, "", false},
		{`not xml`, "", false},
	}
	for _, tt := range tests {
		loc, err := s3api.ParseCreateBucketBody([]byte(tt.body))
		if tt.ok {
			if err != nil || loc != tt.loc {
				t.Errorf("%q: (%q, %v), want %q", tt.body, loc, err, tt.loc)
			}
			continue
		}
		if !errors.Is(err, s3err.ErrMalformedXML) {
			t.Errorf("%q: err %v, want MalformedXML", tt.body, err)
		}
	}
}

// TestDecodeXMLShape checks the schema checks on the repeated and nested
// bodies: an <Object> with two <Key>s is refused, never half-obeyed.
func TestDecodeXMLShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"two objects", `<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>`, true},
		{"quiet and version", `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a</Key><VersionId>null</VersionId></Object></Delete>`, true},
		{"two keys", `<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>`, false},
		{"two quiet", `<Delete><Quiet>true</Quiet><Quiet>false</Quiet><Object><Key>a</Key></Object></Delete>`, false},
		{"conditional delete", `<Delete><Object><Key>a</Key><ETag>"x"</ETag></Object></Delete>`, false},
		{"foreign namespace", `<Delete xmlns="urn:evil"><Object><Key>a</Key></Object></Delete>`, false},
		{"foreign child namespace", `<Delete><Object xmlns="urn:evil"><Key>a</Key></Object></Delete>`, false},
	}
	for _, tt := range tests {
		_, err := s3api.ParseDeleteRequest([]byte(tt.body))
		if tt.ok != (err == nil) {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, s3err.ErrMalformedXML) {
			t.Errorf("%s: err %v, want MalformedXML", tt.name, err)
		}
	}
	parts := []struct {
		name string
		body string
		ok   bool
	}{
		{"checksums", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>`, true},
		{"two etags", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><ETag>"f"</ETag></Part></CompleteMultipartUpload>`, false},
		{"unknown", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><Size>3</Size></Part></CompleteMultipartUpload>`, false},
	}
	for _, tt := range parts {
		_, err := s3api.ParseCompleteMultipartUpload([]byte(tt.body))
		if tt.ok != (err == nil) {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
