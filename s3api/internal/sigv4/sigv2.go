package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature versions reported in Result.Version.
const (
	// SignatureV2 is AWS Signature Version 2 (HMAC-SHA1): the
	// "Authorization: AWS AccessKeyId:Signature" header, or the
	// AWSAccessKeyId, Expires and Signature query parameters.
	SignatureV2 = 2
	// SignatureV4 is AWS Signature Version 4 (AWS4-HMAC-SHA256).
	SignatureV4 = 4
)

// v2Scheme is the Authorization scheme of Signature Version 2, with its
// separating space.
const v2Scheme = "AWS "

// v2SubResources are the query parameters that Signature Version 2 signs in
// the CanonicalizedResource: the sub-resources of the AWS documentation and
// the response header overrides, together with those botocore
// (HmacV1Auth.QSAOfInterest), s3cmd and minio-go add for later APIs. Any
// other parameter (prefix, max-keys, the authentication parameters...) is
// not signed.
var v2SubResources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "cors": true,
	"delete": true, "encryption": true, "inventory": true, "legal-hold": true,
	"lifecycle": true, "location": true, "logging": true, "metrics": true,
	"notification": true, "object-lock": true, "partNumber": true,
	"policy": true, "replication": true, "requestPayment": true,
	"response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "response-content-language": true,
	"response-content-type": true, "response-expires": true,
	"restore": true, "retention": true, "select": true, "select-type": true,
	"storageClass": true, "tagging": true, "torrent": true, "uploadId": true,
	"uploads": true, "versionId": true, "versioning": true, "versions": true,
	"website": true,
}

// v2DateLayouts are the date forms accepted in Date and x-amz-date: the
// HTTP forms, RFC 1123 with a numeric zone (the AWS documentation's and
// s3cmd's form), and ISO 8601 basic.
var v2DateLayouts = []string{
	http.TimeFormat, time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC, iso8601Basic,
}

// isV2Query reports whether a parameter name belongs to Signature Version 2
// query-string authentication.
func isV2Query(name string) bool {
	return name == "AWSAccessKeyId" || name == "Signature"
}

// verifyV2Header authenticates "Authorization: AWS AccessKeyId:Signature".
func (v *Verifier) verifyV2Header(r *http.Request, header string, params []queryParam) (*Result, error) {
	cred := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(header), strings.TrimSpace(v2Scheme)))
	i := strings.LastIndexByte(cred, ':')
	if i <= 0 || i == len(cred)-1 {
		return nil, errorf(CodeInvalidArgument, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
	}
	accessKey, sig := cred[:i], cred[i+1:]
	if err := checkUnsignableV2(r, v.cfg.MustSign); err != nil {
		return nil, err
	}

	// With x-amz-date, the Date position of the string to sign is empty.
	date := strings.TrimSpace(r.Header.Get("Date"))
	amzDate := strings.TrimSpace(r.Header.Get("X-Amz-Date"))
	when := date
	if amzDate != "" {
		when, date = amzDate, ""
	}
	t, ok := parseV2Date(when)
	if !ok {
		return nil, errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if d := v.cfg.Now().Sub(t); d > v.cfg.MaxSkew || -d > v.cfg.MaxSkew {
		return nil, errorf(CodeRequestTimeTooSkewed, "The difference between the request time and the server's time is too large.")
	}
	secret, ok := v.cfg.Credentials(accessKey)
	if !ok {
		return nil, errorf(CodeInvalidAccessKeyID, "The AWS Access Key Id you provided does not exist in our records.")
	}
	if !v.matchV2(r, params, secret, sig, date, nil) {
		return nil, errorf(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return v2Result(r, accessKey, false), nil
}

// verifyV2Query authenticates a Signature Version 2 presigned URL:
// AWSAccessKeyId, Expires (Unix seconds) and Signature. As on AWS, any
// future Expires is accepted. The x-amz-* query parameters, which
// botocore's presigner moves there from the signed headers, are signed as
// headers.
func (v *Verifier) verifyV2Query(r *http.Request, params []queryParam) (*Result, error) {
	var accessKey, expires, sig *string
	for i := range params {
		var dst **string
		switch params[i].key {
		case "AWSAccessKeyId":
			dst = &accessKey
		case "Expires":
			dst = &expires
		case "Signature":
			dst = &sig
		default:
			continue
		}
		if *dst != nil {
			return nil, errorf(CodeInvalidArgument, "the query parameter %s is repeated", params[i].key)
		}
		*dst = &params[i].value
	}
	if accessKey == nil || expires == nil || sig == nil || *accessKey == "" || *sig == "" {
		return nil, errorf(CodeAccessDenied, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	if err := checkUnsignableV2(r, v.cfg.MustSign); err != nil {
		return nil, err
	}
	exp, err := strconv.ParseInt(*expires, 10, 64)
	if err != nil {
		return nil, errorf(CodeAccessDenied, "Invalid date (should be seconds since epoch): %s", truncate(*expires))
	}
	if v.cfg.Now().Unix() > exp {
		return nil, errorf(CodeAccessDenied, "Request has expired")
	}
	secret, ok := v.cfg.Credentials(*accessKey)
	if !ok {
		return nil, errorf(CodeInvalidAccessKeyID, "The AWS Access Key Id you provided does not exist in our records.")
	}
	// A '+' of the base64 signature left unescaped decodes as a space,
	// which base64 never contains.
	got := strings.ReplaceAll(*sig, " ", "+")
	if !v.matchV2(r, params, secret, got, *expires, params) {
		return nil, errorf(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return v2Result(r, *accessKey, true), nil
}

func v2Result(r *http.Request, accessKey string, presigned bool) *Result {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	return &Result{
		AccessKey:     accessKey,
		Presigned:     presigned,
		Version:       SignatureV2,
		Body:          body,
		DecodedLength: r.ContentLength,
	}
}

func parseV2Date(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range v2DateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// matchV2 reports whether sig is the signature of r. A path-style bucket
// request sent without the trailing slash ("/bucket?acl") is signed by
// botocore, as S3 canonicalises it, as "/bucket/"; other clients sign the
// path as sent, so both are tried.
func (v *Verifier) matchV2(r *http.Request, params []queryParam, secret, sig, date string, amzQuery []queryParam) bool {
	path := requestPath(r)
	if v.virtualHostBucket(r) == "" && len(path) > 1 && strings.IndexByte(path[1:], '/') < 0 {
		if equalSig(signV2(secret, v.stringToSignV2(r, params, date, amzQuery, path+"/")), sig) {
			return true
		}
	}
	return equalSig(signV2(secret, v.stringToSignV2(r, params, date, amzQuery, path)), sig)
}

func (v *Verifier) virtualHostBucket(r *http.Request) string {
	if v.cfg.VirtualHostBucket == nil {
		return ""
	}
	return v.cfg.VirtualHostBucket(r)
}

// signV2 returns the base64 HMAC-SHA1 of a string to sign.
func signV2(secret string, sts []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(sts)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// stringToSignV2 builds
//
//	Verb \n Content-MD5 \n Content-Type \n date \n CanonicalizedAmzHeaders CanonicalizedResource
//
// date is the Date header (header form, "" when x-amz-date is present) or
// Expires (query form). amzQuery, for the query form, are parameters whose
// x-amz-* names count as headers, and whose content-md5 and content-type
// stand in for missing headers (botocore's presigner puts them there).
func (v *Verifier) stringToSignV2(r *http.Request, params []queryParam, date string, amzQuery []queryParam, path string) []byte {
	buf := make([]byte, 0, 256)
	buf = append(buf, r.Method...)
	buf = append(buf, '\n')
	for _, name := range []string{"Content-Md5", "Content-Type"} {
		val, ok := firstHeader(r, name)
		if !ok {
			lower := strings.ToLower(name)
			for _, p := range amzQuery {
				if strings.ToLower(p.key) == lower {
					val = p.value
					break
				}
			}
		}
		buf = append(buf, strings.TrimSpace(val)...)
		buf = append(buf, '\n')
	}
	buf = append(buf, date...)
	buf = append(buf, '\n')
	buf = appendAmzHeadersV2(buf, r, amzQuery)
	return v.appendResourceV2(buf, r, params, path)
}

func firstHeader(r *http.Request, name string) (string, bool) {
	vals := r.Header.Values(name)
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// appendAmzHeadersV2 appends the CanonicalizedAmzHeaders: every x-amz-*
// header (and query parameter, from amzQuery), lower-cased and sorted by
// name, as "name:value\n"; values are trimmed, and repeated names are
// joined with ','.
func appendAmzHeadersV2(dst []byte, r *http.Request, amzQuery []queryParam) []byte {
	vals := make(map[string][]string)
	for k, vv := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") {
			vals[lk] = append(vals[lk], vv...)
		}
	}
	for _, p := range amzQuery {
		lk := strings.ToLower(p.key)
		if strings.HasPrefix(lk, "x-amz-") {
			vals[lk] = append(vals[lk], p.value)
		}
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		dst = append(dst, k...)
		dst = append(dst, ':')
		for i, val := range vals[k] {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, strings.TrimSpace(val)...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// appendResourceV2 appends the CanonicalizedResource: "/" + bucket for a
// virtual-hosted-style request, the path (as sent, still URL-encoded:
// clients sign the path they send), then the signed sub-resources sorted by
// name, as "?name" or "?name=value" joined with '&', values URL-decoded.
func (v *Verifier) appendResourceV2(dst []byte, r *http.Request, params []queryParam, path string) []byte {
	if b := v.virtualHostBucket(r); b != "" {
		dst = append(dst, '/')
		dst = append(dst, b...)
	}
	dst = append(dst, path...)
	var sub []queryParam
	for _, p := range params {
		if v2SubResources[p.key] {
			sub = append(sub, p)
		}
	}
	slices.SortStableFunc(sub, func(a, b queryParam) int { return strings.Compare(a.key, b.key) })
	for i, p := range sub {
		if i == 0 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, '&')
		}
		dst = append(dst, p.key...)
		if p.value != "" {
			dst = append(dst, '=')
			dst = append(dst, p.value...)
		}
	}
	return dst
}
