package s3api_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func TestCheckReadConditions(t *testing.T) {
	t.Parallel()
	const etag = "abc123"
	lm := time.Date(2024, 5, 1, 12, 0, 0, 500e6, time.UTC)
	before := lm.Add(-time.Hour).Format(http.TimeFormat)
	after := lm.Add(time.Hour).Format(http.TimeFormat)
	same := lm.Format(http.TimeFormat)
	tests := []struct {
		name string
		hdr  map[string]string
		want error
	}{
		{"none", nil, nil},
		{"if-match ok", map[string]string{"If-Match": `"abc123"`}, nil},
		{"if-match unquoted", map[string]string{"If-Match": `abc123`}, nil},
		{"if-match list", map[string]string{"If-Match": `"x", "abc123"`}, nil},
		{"if-match star", map[string]string{"If-Match": `*`}, nil},
		{"if-match fails", map[string]string{"If-Match": `"other"`}, s3err.ErrPreconditionFailed},
		{"if-unmodified-since ok", map[string]string{"If-Unmodified-Since": after}, nil},
		{"if-unmodified-since same second", map[string]string{"If-Unmodified-Since": same}, nil},
		{"if-unmodified-since fails", map[string]string{"If-Unmodified-Since": before}, s3err.ErrPreconditionFailed},
		{"if-match wins over if-unmodified-since", map[string]string{"If-Match": `"abc123"`, "If-Unmodified-Since": before}, nil},
		{"if-none-match matches", map[string]string{"If-None-Match": `"abc123"`}, s3err.ErrNotModified},
		{"if-none-match weak", map[string]string{"If-None-Match": `W/"abc123"`}, s3err.ErrNotModified},
		{"if-none-match star", map[string]string{"If-None-Match": `*`}, s3err.ErrNotModified},
		{"if-none-match other", map[string]string{"If-None-Match": `"other"`}, nil},
		{"if-modified-since not modified", map[string]string{"If-Modified-Since": after}, s3err.ErrNotModified},
		{"if-modified-since same second", map[string]string{"If-Modified-Since": same}, s3err.ErrNotModified},
		{"if-modified-since modified", map[string]string{"If-Modified-Since": before}, nil},
		{"if-none-match wins over if-modified-since", map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": after}, nil},
		{"if-match ok and if-none-match matches", map[string]string{"If-Match": `"abc123"`, "If-None-Match": `"abc123"`}, s3err.ErrNotModified},
		{"412 before 304", map[string]string{"If-Match": `"other"`, "If-None-Match": `"abc123"`}, s3err.ErrPreconditionFailed},
		{"bad date ignored", map[string]string{"If-Modified-Since": "yesterday", "If-Unmodified-Since": "tomorrow"}, nil},
	}
	for _, tt := range tests {
		hdr := http.Header{}
		for k, v := range tt.hdr {
			hdr.Set(k, v)
		}
		err := s3api.CheckReadConditions(hdr, etag, lm)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestParsePutConditions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hdr  map[string]string
		want s3api.PutConditions
		code s3err.Code
	}{
		{nil, s3api.PutConditions{}, ""},
		{map[string]string{"If-None-Match": "*"}, s3api.PutConditions{IfNoneMatch: "*"}, ""},
		{map[string]string{"If-Match": `"e1"`}, s3api.PutConditions{IfMatch: "e1"}, ""},
		{map[string]string{"If-None-Match": `"e1"`}, s3api.PutConditions{IfNoneMatch: "e1"}, ""},
		{map[string]string{"If-None-Match": `"e1", "e2"`}, s3api.PutConditions{}, s3err.ErrNotImplemented},
		{map[string]string{"If-Match": `"e1", "e2"`}, s3api.PutConditions{}, s3err.ErrNotImplemented},
	}
	for _, tt := range tests {
		hdr := http.Header{}
		for k, v := range tt.hdr {
			hdr.Set(k, v)
		}
		got, err := s3api.ParsePutConditions(hdr)
		if tt.code != "" {
			if !errors.Is(err, tt.code) {
				t.Errorf("%v: err %v, want %s", tt.hdr, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: (%+v, %v), want %+v", tt.hdr, got, err, tt.want)
		}
	}
}
