package sigv4

import (
	"strings"
)

// Algorithm is the only signing algorithm accepted, as named in the
// Authorization header and in the X-Amz-Algorithm query parameter.
const Algorithm = "AWS4-HMAC-SHA256"

const (
	scopeTerminator = "aws4_request"
	yyyymmdd        = "20060102"
	iso8601Basic    = "20060102T150405Z"
)

// Credential is the credential part of a signature:
// AccessKey/Date/Region/Service/aws4_request.
type Credential struct {
	AccessKey string
	Date      string // yyyymmdd
	Region    string
	Service   string
}

// Scope returns "Date/Region/Service/aws4_request".
func (c Credential) Scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/" + scopeTerminator
}

// String returns the credential in its wire form.
func (c Credential) String() string { return c.AccessKey + "/" + c.Scope() }

// parseCredential parses AccessKey/Date/Region/Service/aws4_request. The
// access key is everything before the last four '/'-separated fields, so it
// may itself contain '/'. On failure it returns a client-safe reason, which
// the caller wraps in the code that fits (header or query).
func parseCredential(s string) (Credential, bool, string) {
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return Credential{}, false, "the credential is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\""
	}
	n := len(parts)
	c := Credential{
		AccessKey: strings.Join(parts[:n-4], "/"),
		Date:      parts[n-4],
		Region:    parts[n-3],
		Service:   parts[n-2],
	}
	if parts[n-1] != scopeTerminator {
		return Credential{}, false, "the credential is malformed; incorrect terminal \"" + parts[n-1] + "\", expecting \"aws4_request\""
	}
	if c.AccessKey == "" {
		return Credential{}, false, "the credential is malformed; the access key is empty"
	}
	if !isDate(c.Date) {
		return Credential{}, false, "the credential is malformed; invalid date \"" + c.Date + "\", expecting YYYYMMDD"
	}
	if c.Region == "" {
		return Credential{}, false, "the credential is malformed; the region is empty"
	}
	if c.Service == "" {
		return Credential{}, false, "the credential is malformed; the service is empty"
	}
	return c, true, ""
}

func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Authorization is a parsed AWS4-HMAC-SHA256 Authorization header.
type Authorization struct {
	Credential Credential
	// SignedHeaders are the lower-case header names, in the order given.
	SignedHeaders []string
	// Signature is the hex signature as sent.
	Signature string
}

// String returns the header in the canonical form the AWS SDKs send.
func (a *Authorization) String() string {
	return Algorithm + " Credential=" + a.Credential.String() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

// ParseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc...
//
// tolerating, as AWS does, spaces around and between the components, empty
// components between commas, and any component order. Errors are *Error
// with code AuthorizationHeaderMalformed (or UnsupportedSignature for
// Signature Version 2 and SigV4a headers, InvalidArgument for another
// scheme).
func ParseAuthorization(h string) (*Authorization, error) {
	h = strings.TrimSpace(h)
	rest, ok := strings.CutPrefix(h, Algorithm)
	if !ok {
		return nil, schemeError(h)
	}
	if rest == "" {
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; missing Credential, SignedHeaders and Signature")
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return nil, schemeError(h)
	}
	var (
		a                       Authorization
		haveCred, haveSH, haveS bool
	)
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; the component %q is not of the form key=value", truncate(part))
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "Credential":
			if haveCred {
				return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; Credential is repeated")
			}
			c, ok, msg := parseCredential(val)
			if !ok {
				return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; %s", msg)
			}
			a.Credential, haveCred = c, true
		case "SignedHeaders":
			if haveSH {
				return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; SignedHeaders is repeated")
			}
			sh, ok := parseSignedHeaders(val)
			if !ok {
				return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; invalid SignedHeaders")
			}
			a.SignedHeaders, haveSH = sh, true
		case "Signature":
			if haveS {
				return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; Signature is repeated")
			}
			if val == "" || strings.ContainsAny(val, " \t") {
				return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; invalid Signature")
			}
			a.Signature, haveS = val, true
		default:
			return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; unknown component %q", truncate(key))
		}
	}
	switch {
	case !haveCred:
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; missing Credential")
	case !haveSH:
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; missing SignedHeaders")
	case !haveS:
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; missing Signature")
	}
	return &a, nil
}

func schemeError(h string) *Error {
	if strings.HasPrefix(h, "AWS ") {
		return errorf(CodeUnsupportedSignature, "Signature Version 2 is not supported; please use AWS4-HMAC-SHA256")
	}
	if strings.HasPrefix(h, "AWS4-ECDSA-P256-SHA256") {
		return errorf(CodeUnsupportedSignature, "Signature Version 4A is not supported; please use AWS4-HMAC-SHA256")
	}
	return errorf(CodeInvalidArgument, "Unsupported Authorization Type")
}

// parseSignedHeaders splits a ';'-separated list of header names. Names must
// be non-empty and free of whitespace and ','; they are lower-cased.
func parseSignedHeaders(s string) ([]string, bool) {
	if s == "" {
		return nil, false
	}
	out := make([]string, 0, 8)
	for name := range strings.SplitSeq(s, ";") {
		if name == "" || strings.ContainsAny(name, " \t,=") {
			return nil, false
		}
		out = append(out, strings.ToLower(name))
	}
	return out, true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
