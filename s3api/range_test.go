package s3api_test

import (
	"testing"

	"s3mesh/s3api"
)

func TestParseRange(t *testing.T) {
	t.Parallel()
	const none, ok, unsat = s3api.RangeNone, s3api.RangeOK, s3api.RangeUnsatisfiable
	tests := []struct {
		header        string
		size          int64
		start, length int64
		kind          s3api.RangeKind
	}{
		{"", 10, 0, 0, none},
		{"bytes=0-4", 10, 0, 5, ok},
		{"bytes=0-0", 10, 0, 1, ok},
		{"bytes=9-9", 10, 9, 1, ok},
		{"bytes=5-", 10, 5, 5, ok},
		{"bytes=5-100", 10, 5, 5, ok},
		{"bytes=-3", 10, 7, 3, ok},
		{"bytes=-100", 10, 0, 10, ok},
		{"Bytes = 2-3", 10, 2, 2, ok},
		{"bytes= 2 - 3 ", 10, 2, 2, ok},
		{"bytes=0-99999999999999999999999", 10, 0, 10, ok},
		{"bytes=10-", 10, 0, 0, unsat},
		{"bytes=10-20", 10, 0, 0, unsat},
		{"bytes=99999999999999999999999-", 10, 0, 0, unsat},
		{"bytes=-0", 10, 0, 0, unsat},
		{"bytes=0-", 0, 0, 0, unsat},
		{"bytes=-5", 0, 0, 0, unsat},
		// Ignored: the whole object is served.
		{"bytes=0-1,3-4", 10, 0, 0, none},
		{"bytes=5-2", 10, 0, 0, none},
		{"bytes=a-b", 10, 0, 0, none},
		{"bytes=-", 10, 0, 0, none},
		{"bytes=--1", 10, 0, 0, none},
		{"bytes=1", 10, 0, 0, none},
		{"bytes=+1-2", 10, 0, 0, none},
		{"items=0-1", 10, 0, 0, none},
		{"0-1", 10, 0, 0, none},
	}
	for _, tt := range tests {
		start, length, kind := s3api.ParseRange(tt.header, tt.size)
		if kind != tt.kind || start != tt.start || length != tt.length {
			t.Errorf("ParseRange(%q, %d) = (%d, %d, %d), want (%d, %d, %d)",
				tt.header, tt.size, start, length, kind, tt.start, tt.length, tt.kind)
		}
	}
}

// FuzzParseRange checks that a satisfiable range lies inside [0, size) and
// that only ranges starting at or past the end (or empty ones) are
// unsatisfiable.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=5-", "bytes=-3", "bytes=0-1,2-3", "bytes=10-", "bytes=-0", "bytes=9-8", ""} {
		f.Add(s, int64(10))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		start, length, kind := s3api.ParseRange(header, size)
		switch kind {
		case s3api.RangeOK:
			if start < 0 || length <= 0 || start >= size || length > size-start {
				t.Fatalf("ParseRange(%q, %d) = [%d, +%d) outside the object", header, size, start, length)
			}
		case s3api.RangeNone, s3api.RangeUnsatisfiable:
			if start != 0 || length != 0 {
				t.Fatalf("ParseRange(%q, %d): kind %d with range (%d, %d)", header, size, kind, start, length)
			}
		default:
			t.Fatalf("unknown kind %d", kind)
		}
	})
}
