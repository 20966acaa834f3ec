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
		{`<CreateBucketConfiguration><Unknown>x</Unknown></CreateBucketConfiguration>`, "", true},
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
