package s3api

import (
	"net/http"
	"strings"
	"time"

	"s3mesh/s3api/s3err"
)

// checkReadConditions evaluates the conditional headers of a GetObject or
// HeadObject against the object, in the precedence S3 documents:
//
//  1. If-Match that does not match: 412 PreconditionFailed.
//  2. If-Unmodified-Since, when If-Match is absent, and the object was
//     modified after it: 412.
//  3. If-None-Match that matches: 304 Not Modified.
//  4. If-Modified-Since, when If-None-Match is absent, and the object was
//     not modified after it: 304.
//
// An unparsable date is ignored. It returns nil when the request proceeds.
func checkReadConditions(hdr http.Header, etag string, lastModified time.Time) error {
	lm := lastModified.Truncate(time.Second)
	ifMatch := hdr.Get("If-Match")
	if ifMatch != "" {
		if !etagListMatches(ifMatch, etag) {
			return s3err.ErrPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(hdr.Get("If-Unmodified-Since")); ok && lm.After(t) {
		return s3err.ErrPreconditionFailed
	}
	ifNoneMatch := hdr.Get("If-None-Match")
	if ifNoneMatch != "" {
		if etagListMatches(ifNoneMatch, etag) {
			return s3err.ErrNotModified
		}
	} else if t, ok := parseHTTPTime(hdr.Get("If-Modified-Since")); ok && !lm.After(t) {
		return s3err.ErrNotModified
	}
	return nil
}

// parseHTTPTime parses an HTTP date; ok is false when absent or invalid.
func parseHTTPTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	return t, err == nil
}

// etagListMatches reports whether a comma-separated list of entity tags
// (quoted or not, weak or strong), or "*", names etag.
func etagListMatches(list, etag string) bool {
	for part := range strings.SplitSeq(list, ",") {
		t := strings.TrimSpace(part)
		if t == "*" {
			return true
		}
		if t != "" && unquoteETag(t) == etag {
			return true
		}
	}
	return false
}

// unquoteETag strips a weak prefix and the quotes of an entity tag.
func unquoteETag(t string) string {
	t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = t[1 : len(t)-1]
	}
	return t
}

// quoteETag returns etag quoted for the ETag header.
func quoteETag(etag string) string { return `"` + etag + `"` }

// parsePutConditions reads the conditional-write headers of a PutObject:
// If-None-Match with "*" or one entity tag, and If-Match with one entity
// tag.
func parsePutConditions(hdr http.Header) (PutConditions, error) {
	var c PutConditions
	if v := strings.TrimSpace(hdr.Get("If-None-Match")); v != "" {
		if strings.Contains(v, ",") {
			return c, s3err.New(s3err.ErrNotImplemented, "If-None-Match on a write supports * or one entity tag.")
		}
		c.IfNoneMatch = "*"
		if v != "*" {
			c.IfNoneMatch = unquoteETag(v)
		}
	}
	if v := strings.TrimSpace(hdr.Get("If-Match")); v != "" {
		if strings.Contains(v, ",") {
			return c, s3err.New(s3err.ErrNotImplemented, "If-Match on a write supports one entity tag.")
		}
		c.IfMatch = unquoteETag(v)
	}
	return c, nil
}
