package s3api

import (
	"strconv"
	"strings"
)

// rangeKind is the outcome of parsing a Range header against an object.
type rangeKind int

const (
	// rangeNone: no usable range; serve the whole object with 200. This is
	// the outcome of no header, a syntactically invalid one, and more than
	// one range (S3 ignores multi-range requests).
	rangeNone rangeKind = iota
	// rangeOK: serve the byte range with 206.
	rangeOK
	// rangeUnsatisfiable: 416 InvalidRange.
	rangeUnsatisfiable
)

// byteRange is a satisfiable range: length > 0 bytes from start, inside
// the object (length 0 only for an empty part of a multipart object).
type byteRange struct {
	start, length int64
}

// contentRange is the Content-Range value of a range of an object of size
// bytes.
func (br byteRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(br.start, 10) + "-" +
		strconv.FormatInt(br.start+br.length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// parseRange interprets a Range header for an object of size bytes. It
// accepts one range of the forms bytes=first-last, bytes=first- and
// bytes=-suffix (RFC 9110, section 14.1.2); last is clamped to the end of
// the object. A range that starts at or past the end, a zero suffix and any
// range of an empty object are unsatisfiable.
func parseRange(header string, size int64) (byteRange, rangeKind) {
	if header == "" || size < 0 {
		return byteRange{}, rangeNone
	}
	unit, spec, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return byteRange{}, rangeNone
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return byteRange{}, rangeNone
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return byteRange{}, rangeNone
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		n, ok := parseDigits(last)
		if !ok {
			return byteRange{}, rangeNone
		}
		if n == 0 || size == 0 {
			return byteRange{}, rangeUnsatisfiable
		}
		n = min(n, size)
		return byteRange{start: size - n, length: n}, rangeOK
	}
	start, ok := parseDigits(first)
	if !ok {
		return byteRange{}, rangeNone
	}
	end := int64(-1)
	if last != "" {
		if end, ok = parseDigits(last); !ok || end < start {
			return byteRange{}, rangeNone
		}
	}
	if start >= size {
		return byteRange{}, rangeUnsatisfiable
	}
	if end < 0 || end >= size {
		end = size - 1
	}
	return byteRange{start: start, length: end - start + 1}, rangeOK
}

// parseDigits parses a non-empty string of ASCII digits; a value past
// int64 saturates, which for a range is as good as infinite.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-9)/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
