package sigv4

import (
	"strconv"
	"strings"
	"time"
)

// MaxPresignExpires is the largest X-Amz-Expires, in seconds (7 days).
const MaxPresignExpires = 604800

// Presigned holds the authentication parameters of a presigned
// (query-string authenticated) request.
type Presigned struct {
	Credential Credential
	// Date is X-Amz-Date, in UTC.
	Date time.Time
	// Expires is X-Amz-Expires in seconds, 1..MaxPresignExpires.
	Expires int64
	// SignedHeaders are the lower-case names from X-Amz-SignedHeaders.
	SignedHeaders []string
	// Signature is X-Amz-Signature as sent.
	Signature string
	// ContentSHA256 is X-Amz-Content-Sha256, "" when absent.
	ContentSHA256 string
}

// Encode returns the parameters as a raw query string, names sorted and
// values AWS-URI-encoded, so that ParsePresigned(p.Encode()) returns p.
func (p *Presigned) Encode() string {
	params := []queryParam{
		{"X-Amz-Algorithm", Algorithm},
		{"X-Amz-Credential", p.Credential.String()},
		{"X-Amz-Date", p.Date.UTC().Format(iso8601Basic)},
		{"X-Amz-Expires", strconv.FormatInt(p.Expires, 10)},
		{"X-Amz-SignedHeaders", strings.Join(p.SignedHeaders, ";")},
		{"X-Amz-Signature", p.Signature},
	}
	if p.ContentSHA256 != "" {
		params = append(params, queryParam{"X-Amz-Content-Sha256", p.ContentSHA256})
	}
	return string(appendCanonicalQuery(nil, params, ""))
}

// ParsePresigned parses the authentication parameters of a raw query
// string (r.URL.RawQuery; it is split on '&' only, so a ';' does not break
// it). Errors are *Error with code AuthorizationQueryParametersError, or
// UnsupportedSignature for a Signature Version 2 presigned query.
func ParsePresigned(rawQuery string) (*Presigned, error) {
	params := parseQuery(rawQuery)
	for _, p := range params {
		if p.key == "AWSAccessKeyId" || p.key == "Signature" {
			return nil, errorf(CodeUnsupportedSignature, "Signature Version 2 is not supported; please use AWS4-HMAC-SHA256")
		}
	}
	return parsePresigned(params)
}

func parsePresigned(params []queryParam) (*Presigned, error) {
	var alg, cred, date, expires, signed, sig, sha *string
	var p Presigned
	for i := range params {
		var dst **string
		switch params[i].key {
		case "X-Amz-Algorithm":
			dst = &alg
		case "X-Amz-Credential":
			dst = &cred
		case "X-Amz-Date":
			dst = &date
		case "X-Amz-Expires":
			dst = &expires
		case "X-Amz-SignedHeaders":
			dst = &signed
		case "X-Amz-Signature":
			dst = &sig
		case "X-Amz-Content-Sha256":
			dst = &sha
		default:
			continue
		}
		if *dst != nil {
			return nil, errorf(CodeAuthorizationQueryParametersError, "the query parameter %s is repeated", params[i].key)
		}
		*dst = &params[i].value
	}
	if alg == nil || cred == nil || date == nil || expires == nil || signed == nil || sig == nil {
		return nil, errorf(CodeAuthorizationQueryParametersError, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	if *alg != Algorithm {
		return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	c, ok, msg := parseCredential(*cred)
	if !ok {
		return nil, errorf(CodeAuthorizationQueryParametersError, "Error parsing the X-Amz-Credential parameter; %s", msg)
	}
	p.Credential = c
	t, err := time.Parse(iso8601Basic, *date)
	if err != nil || t.Format(iso8601Basic) != *date {
		return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	p.Date = t
	n, err := strconv.ParseInt(*expires, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != *expires {
		return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Expires should be a number")
	}
	if n < 1 {
		return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Expires must be positive")
	}
	if n > MaxPresignExpires {
		return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	p.Expires = n
	sh, ok := parseSignedHeaders(*signed)
	if !ok {
		return nil, errorf(CodeAuthorizationQueryParametersError, "invalid X-Amz-SignedHeaders")
	}
	p.SignedHeaders = sh
	if *sig == "" {
		return nil, errorf(CodeAuthorizationQueryParametersError, "empty X-Amz-Signature")
	}
	p.Signature = *sig
	if sha != nil {
		if *sha == "" {
			return nil, errorf(CodeAuthorizationQueryParametersError, "empty X-Amz-Content-Sha256")
		}
		p.ContentSHA256 = *sha
	}
	return &p, nil
}
