package sigv4

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// unreserved reports whether c is in the RFC 3986 unreserved set that AWS
// URI-encoding leaves alone: A-Z a-z 0-9 - _ . ~
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendURIEncode appends s encoded per the AWS rules: every byte outside the
// unreserved set becomes %XX (upper-case hex); '/' is kept when keepSlash.
func appendURIEncode(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendCanonicalPath appends the canonical URI for a path as sent on the
// wire. S3 neither normalises the path (no dot-segment removal, no slash
// merging) nor double-encodes it: each byte keeps its identity, and only its
// spelling is canonicalised, so that %7e and ~ both become ~, %2f stays %2F
// (a key byte, not a separator), and a raw byte outside the unreserved set
// becomes %XX. A '%' not followed by two hex digits is the byte '%'.
func appendCanonicalPath(dst []byte, raw string) []byte {
	if raw == "" {
		return append(dst, '/')
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) {
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if ok1 && ok2 {
				b := hi<<4 | lo
				if unreserved(b) {
					dst = append(dst, b)
				} else {
					dst = append(dst, '%', upperHex[b>>4], upperHex[b&15])
				}
				i += 2
				continue
			}
		}
		if unreserved(c) || c == '/' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// requestPath returns the path of r exactly as the client sent it.
func requestPath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	if r.URL == nil {
		return "/"
	}
	if r.URL.Opaque != "" {
		// "//host/path" form set by some clients to bypass escaping.
		op := strings.TrimPrefix(r.URL.Opaque, "//")
		if i := strings.IndexByte(op, '/'); i >= 0 {
			return op[i:]
		}
		return "/"
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// queryParam is one decoded name=value pair of a raw query string.
type queryParam struct {
	key, value string
}

// parseQuery splits a raw query on '&' only (a ';' is an ordinary byte, as
// AWS treats it) and decodes each name and value ('+' is a space, an invalid
// %-escape is kept literally). A parameter without '=' has an empty value.
// Empty segments are skipped.
func parseQuery(raw string) []queryParam {
	if raw == "" {
		return nil
	}
	out := make([]queryParam, 0, strings.Count(raw, "&")+1)
	for seg := range strings.SplitSeq(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		out = append(out, queryParam{key: queryUnescape(k), value: queryUnescape(v)})
	}
	return out
}

func queryUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			b = append(b, ' ')
			continue
		case '%':
			if i+2 < len(s) {
				hi, ok1 := unhex(s[i+1])
				lo, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b = append(b, hi<<4|lo)
					i += 2
					continue
				}
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// appendCanonicalQuery appends the canonical query string: parameters
// sorted by name then value, each name and value AWS-URI-encoded, joined as
// name=value with '&'. The parameter named skip (the presigned signature)
// is left out.
func appendCanonicalQuery(dst []byte, params []queryParam, skip string) []byte {
	if len(params) == 0 {
		return dst
	}
	sorted := params
	if !slices.IsSortedFunc(params, cmpParam) {
		sorted = slices.Clone(params)
		slices.SortFunc(sorted, cmpParam)
	}
	first := true
	for _, p := range sorted {
		if skip != "" && p.key == skip {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = appendURIEncode(dst, p.key, false)
		dst = append(dst, '=')
		dst = appendURIEncode(dst, p.value, false)
	}
	return dst
}

func cmpParam(a, b queryParam) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.value, b.value)
}

// headerValues returns the values of a signed header as the client saw
// them. Go's server moves Host to r.Host, and Transfer-Encoding and (for
// chunked bodies) Content-Length out of r.Header; they are rebuilt here.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		if r.URL != nil {
			return []string{r.URL.Host}
		}
		return nil
	case "transfer-encoding":
		if v := r.Header.Values("Transfer-Encoding"); len(v) > 0 {
			return v
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
		return nil
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v
		}
		if r.ContentLength > 0 || (r.ContentLength == 0 && r.Body != nil && r.Body != http.NoBody) {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	}
	if v, ok := r.Header[name]; ok { // non-canonical key set directly
		return v
	}
	return r.Header.Values(name)
}

// appendCanonicalHeaders appends "name:value\n" for every signed header:
// values trimmed, inner runs of spaces collapsed, repeated headers joined
// with ','.
func appendCanonicalHeaders(dst []byte, r *http.Request, signed []string) []byte {
	for _, name := range signed {
		dst = append(dst, name...)
		dst = append(dst, ':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTrimAll(dst, v)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// appendTrimAll appends v without leading and trailing whitespace and with
// each inner run of spaces reduced to one space.
func appendTrimAll(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}
