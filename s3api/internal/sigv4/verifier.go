package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"s3mesh/s3api/internal/checksum"
)

// Payload hash values of x-amz-content-sha256 (and X-Amz-Content-Sha256 in a
// presigned query) other than a hex SHA-256.
const (
	UnsignedPayload                 = "UNSIGNED-PAYLOAD"
	StreamingPayload                = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// emptySHA256 is the hex SHA-256 of no bytes.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Defaults for Config.
const (
	DefaultRegion           = "us-east-1"
	DefaultMaxSkew          = 15 * time.Minute
	DefaultMaxPresignExpiry = 7 * 24 * time.Hour
	DefaultMaxChunkSize     = 5 << 30
)

// Config configures a Verifier. The zero value is valid: it knows no access
// key, so every signed request fails with InvalidAccessKeyId.
type Config struct {
	// Region is the region this server reports as its own and the only
	// region a credential scope may name; a signature scoped to another
	// region fails with AuthorizationHeaderMalformed (header) or
	// AuthorizationQueryParametersError (presigned), naming the expected
	// region, as S3 answers. Default DefaultRegion.
	Region string
	// Credentials returns the secret key of an access key, and false when
	// the key is unknown. It MUST be safe for concurrent use. nil means no
	// key is known.
	Credentials func(accessKey string) (secret string, ok bool)
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
	// MaxSkew is the largest difference allowed between the request's date
	// and Now. Default DefaultMaxSkew (15 minutes); zero means the default.
	MaxSkew time.Duration
	// MaxPresignExpiry is the largest X-Amz-Expires accepted on a presigned
	// request. Default and upper bound DefaultMaxPresignExpiry (7 days);
	// zero means the default.
	MaxPresignExpiry time.Duration
	// MaxChunkSize is the largest aws-chunked chunk accepted, in bytes.
	// Chunk data streams through (only a 64 KiB buffer is held), so the
	// limit guards the size field, not memory: SDKs send a known-length
	// body as one chunk. Default DefaultMaxChunkSize (5 GiB, the largest
	// single PUT); zero means the default.
	MaxChunkSize int64
	// VirtualHostBucket returns the bucket named by r's Host when r is
	// addressed virtual-hosted style, and "" otherwise. Only Signature
	// Version 2 needs it: its canonical resource starts with "/bucket"
	// even when the bucket is not in the path. nil means every request is
	// path style. It MUST be safe for concurrent use.
	VirtualHostBucket func(r *http.Request) string
	// MustSign are further lower-case header name prefixes (beside
	// "x-amz-", always required) whose headers a Signature Version 4 must
	// sign, such as a server's own request headers. Signature Version 2
	// signs no such header, so a V2 request carrying one fails with
	// AccessDenied.
	MustSign []string
}

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Credentials == nil {
		c.Credentials = func(string) (string, bool) { return "", false }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	if c.MaxPresignExpiry == 0 {
		c.MaxPresignExpiry = DefaultMaxPresignExpiry
	}
	if c.MaxChunkSize == 0 {
		c.MaxChunkSize = DefaultMaxChunkSize
	}
	return c
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	switch {
	case c.MaxSkew < 0:
		return fmt.Errorf("sigv4: MaxSkew %v is negative", c.MaxSkew)
	case c.MaxPresignExpiry < 0 || c.MaxPresignExpiry > DefaultMaxPresignExpiry:
		return fmt.Errorf("sigv4: MaxPresignExpiry %v is outside [0, %v]", c.MaxPresignExpiry, DefaultMaxPresignExpiry)
	case c.MaxChunkSize < 0:
		return fmt.Errorf("sigv4: MaxChunkSize %d is negative", c.MaxChunkSize)
	}
	return nil
}

// Verifier authenticates S3 requests signed with AWS Signature Version 4
// or, for older clients, Version 2.
// It is safe for concurrent use.
type Verifier struct {
	cfg Config
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg.withDefaults()}, nil
}

// Region returns the configured region.
func (v *Verifier) Region() string { return v.cfg.Region }

// Result is the outcome of a successful Verify.
type Result struct {
	// AccessKey is the verified access key; "" when Anonymous.
	AccessKey string
	// Anonymous is true when the request carries no signature at all; the
	// caller decides whether anonymous access is allowed.
	Anonymous bool
	// Presigned is true for query-string authentication.
	Presigned bool
	// Version is the signature version verified: SignatureV4 or
	// SignatureV2; 0 when Anonymous. Version 2 signs no payload: Body is
	// then the request body as received.
	Version int
	// Body replaces r.Body (Verify also assigns it to r.Body). It yields the
	// decoded payload and verifies it as it is read: a verification failure
	// surfaces from Read as an *Error before io.EOF is ever returned, so a
	// caller that commits only after reading io.EOF never commits
	// unverified data. Closing it closes the original body.
	Body io.ReadCloser
	// DecodedLength is the payload length: x-amz-decoded-content-length for
	// aws-chunked bodies, r.ContentLength otherwise; -1 when unknown.
	DecodedLength int64
	// Streaming is true when the body was aws-chunked and is decoded by Body.
	Streaming bool
	// TrailerChecksum is the algorithm named by x-amz-trailer for trailer
	// streaming bodies; "" for none.
	TrailerChecksum checksum.Algorithm

	chunked *chunkedReader
}

// TrailerValue returns the base64 checksum received in the trailer, once
// Body has returned io.EOF, which means the value matched the decoded bytes
// (and, for signed trailers, its signature verified). It returns "" before
// that, after a failure, and when there is no trailer checksum.
func (r *Result) TrailerValue() string {
	if r.chunked == nil {
		return ""
	}
	return r.chunked.verifiedTrailer()
}

// Verify authenticates r and arranges for its body to be verified. It
// returns an *Error whose Code is the S3 error to answer with. A request
// with no Authorization header and no X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Signature, AWSAccessKeyId or Signature query parameter yields
// Result{Anonymous: true} and no error. An Authorization header of the
// form "AWS AccessKeyId:Signature", or the AWSAccessKeyId and Signature
// query parameters, are verified as Signature Version 2. Verify reads no
// body bytes; payload failures surface later from Result.Body.Read.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	params := parseQuery(r.URL.RawQuery)
	authz := r.Header.Values("Authorization")
	presigned, presignedV2 := false, false
	for _, p := range params {
		switch {
		case p.key == "X-Amz-Algorithm", p.key == "X-Amz-Credential", p.key == "X-Amz-Signature":
			presigned = true
		case isV2Query(p.key):
			presignedV2 = true
		}
	}
	switch {
	case len(authz) > 1:
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is repeated")
	case btoi(len(authz) == 1)+btoi(presigned)+btoi(presignedV2) > 1:
		return nil, errorf(CodeInvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case len(authz) == 1 && strings.HasPrefix(strings.TrimSpace(authz[0]), v2Scheme):
		return v.verifyV2Header(r, authz[0], params)
	case len(authz) == 1:
		return v.verifyHeader(r, authz[0], params)
	case presigned:
		return v.verifyPresigned(r, params)
	case presignedV2:
		return v.verifyV2Query(r, params)
	}
	res := &Result{Anonymous: true, Body: r.Body, DecodedLength: r.ContentLength}
	if res.Body == nil {
		res.Body = http.NoBody
	}
	return res, nil
}

func (v *Verifier) verifyHeader(r *http.Request, header string, params []queryParam) (*Result, error) {
	a, err := ParseAuthorization(header)
	if err != nil {
		return nil, err
	}
	t, amzDate, err := requestDate(r)
	if err != nil {
		return nil, err
	}
	now := v.cfg.Now()
	if d := now.Sub(t); d > v.cfg.MaxSkew || -d > v.cfg.MaxSkew {
		return nil, errorf(CodeRequestTimeTooSkewed, "The difference between the request time and the server's time is too large.")
	}
	if a.Credential.Date != t.Format(yyyymmdd) {
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; invalid credential date %q: it is not the same as X-Amz-Date", a.Credential.Date)
	}
	if a.Credential.Service != "s3" {
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; incorrect service %q, expecting \"s3\"", a.Credential.Service)
	}
	if a.Credential.Region != v.cfg.Region {
		return nil, errorf(CodeAuthorizationHeaderMalformed, "The authorization header is malformed; the region '%s' is wrong; expecting '%s'", truncate(a.Credential.Region), v.cfg.Region)
	}
	if err := checkSigned(r, a.SignedHeaders, v.cfg.MustSign); err != nil {
		return nil, err
	}
	secret, ok := v.cfg.Credentials(a.Credential.AccessKey)
	if !ok {
		return nil, errorf(CodeInvalidAccessKeyID, "The AWS Access Key Id you provided does not exist in our records.")
	}
	payload, err := payloadHash(r.Header.Values("X-Amz-Content-Sha256"), true)
	if err != nil {
		return nil, err
	}
	key := signingKey(secret, a.Credential)
	want := signature(key, amzDate, a.Credential.Scope(), canonicalRequest(r, params, a.SignedHeaders, payload, ""))
	if !equalSig(want, a.Signature) {
		return nil, errorf(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	res := &Result{AccessKey: a.Credential.AccessKey, Version: SignatureV4}
	sc := &streamContext{key: key, amzDate: amzDate, scope: a.Credential.Scope(), seed: want}
	if err := v.setBody(r, res, payload, sc); err != nil {
		return nil, err
	}
	return res, nil
}

func (v *Verifier) verifyPresigned(r *http.Request, params []queryParam) (*Result, error) {
	p, err := parsePresigned(params)
	if err != nil {
		return nil, err
	}
	if time.Duration(p.Expires)*time.Second > v.cfg.MaxPresignExpiry {
		return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Expires must be less than %d seconds", int64(v.cfg.MaxPresignExpiry/time.Second))
	}
	now := v.cfg.Now()
	if p.Date.Sub(now) > v.cfg.MaxSkew {
		return nil, errorf(CodeAccessDenied, "Request is not valid yet")
	}
	if now.After(p.Date.Add(time.Duration(p.Expires) * time.Second)) {
		return nil, errorf(CodeAccessDenied, "Request has expired")
	}
	if p.Credential.Date != p.Date.Format(yyyymmdd) {
		return nil, errorf(CodeAuthorizationQueryParametersError, "Invalid credential date %q: it is not the same as X-Amz-Date", p.Credential.Date)
	}
	if p.Credential.Service != "s3" {
		return nil, errorf(CodeAuthorizationQueryParametersError, "Incorrect service %q in X-Amz-Credential, expecting \"s3\"", p.Credential.Service)
	}
	if p.Credential.Region != v.cfg.Region {
		return nil, errorf(CodeAuthorizationQueryParametersError, "Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", truncate(p.Credential.Region), v.cfg.Region)
	}
	if err := checkSigned(r, p.SignedHeaders, v.cfg.MustSign); err != nil {
		return nil, err
	}
	secret, ok := v.cfg.Credentials(p.Credential.AccessKey)
	if !ok {
		return nil, errorf(CodeInvalidAccessKeyID, "The AWS Access Key Id you provided does not exist in our records.")
	}
	payload := UnsignedPayload
	if p.ContentSHA256 != "" {
		payload = p.ContentSHA256
		if payload != UnsignedPayload && !isHexSHA256(payload) {
			return nil, errorf(CodeAuthorizationQueryParametersError, "X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a hex SHA-256 value")
		}
	}
	key := signingKey(secret, p.Credential)
	amzDate := p.Date.Format(iso8601Basic)
	want := signature(key, amzDate, p.Credential.Scope(), canonicalRequest(r, params, p.SignedHeaders, payload, "X-Amz-Signature"))
	if !equalSig(want, p.Signature) {
		return nil, errorf(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	res := &Result{AccessKey: p.Credential.AccessKey, Presigned: true, Version: SignatureV4}
	if err := v.setBody(r, res, payload, nil); err != nil {
		return nil, err
	}
	return res, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkSigned enforces what S3 requires a Signature Version 4 to cover:
// the Host header and every x-amz-* header present. An x-amz-* header
// changes what a request does (a copy source, metadata, a checksum, an
// ACL...), so one left unsigned could be added by anyone who holds a
// signed request or presigned URL. The failure is AccessDenied naming the
// unsigned headers, as S3 answers. Presigned x-amz-* query parameters are
// part of the canonical query, hence always signed.
func checkSigned(r *http.Request, signed, mustSign []string) error {
	if !slices.Contains(signed, "host") {
		return errorf(CodeAccessDenied, "There were headers present in the request which were not signed: host")
	}
	var missing []string
	for name := range r.Header {
		lower := strings.ToLower(name)
		if !mustBeSigned(lower, mustSign) || slices.Contains(signed, lower) {
			continue
		}
		missing = append(missing, lower)
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	list := strings.Join(missing, ", ")
	return errorf(CodeAccessDenied, "There were headers present in the request which were not signed: %s", truncate(list))
}

// mustBeSigned reports whether the lower-case header name must be signed.
func mustBeSigned(lower string, mustSign []string) bool {
	if strings.HasPrefix(lower, "x-amz-") {
		return true
	}
	for _, p := range mustSign {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}

// checkUnsignableV2 refuses a Signature Version 2 request carrying a header
// that must be signed but that V2 does not sign.
func checkUnsignableV2(r *http.Request, mustSign []string) error {
	for name := range r.Header {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-amz-") && mustBeSigned(lower, mustSign) {
			return errorf(CodeAccessDenied, "There were headers present in the request which were not signed: %s (Signature Version 2 cannot sign it; use Signature Version 4)", truncate(lower))
		}
	}
	return nil
}

// requestDate returns the signing time from X-Amz-Date, or from Date when
// X-Amz-Date is absent, and its ISO 8601 basic form.
func requestDate(r *http.Request) (time.Time, string, error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(iso8601Basic, s)
		if err != nil {
			return time.Time{}, "", errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		return t, s, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := http.ParseTime(s)
		if err != nil {
			return time.Time{}, "", errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		t = t.UTC()
		return t, t.Format(iso8601Basic), nil
	}
	return time.Time{}, "", errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
}

// payloadHash validates x-amz-content-sha256. A missing header means the
// empty payload (some clients omit it on bodiless requests; a body then
// fails XAmzContentSHA256Mismatch).
func payloadHash(vals []string, allowStreaming bool) (string, error) {
	if len(vals) == 0 {
		return emptySHA256, nil
	}
	if len(vals) > 1 {
		return "", errorf(CodeInvalidArgument, "x-amz-content-sha256 is repeated")
	}
	v := vals[0]
	switch v {
	case UnsignedPayload:
		return v, nil
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer:
		if allowStreaming {
			return v, nil
		}
	}
	if isHexSHA256(v) {
		return v, nil // signed as sent; hex.DecodeString accepts either case
	}
	return "", errorf(CodeInvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value")
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if _, ok := unhex(s[i]); !ok {
			return false
		}
	}
	return true
}

// canonicalRequest builds the canonical request of r.
func canonicalRequest(r *http.Request, params []queryParam, signed []string, payload, skip string) []byte {
	buf := make([]byte, 0, 512)
	buf = append(buf, r.Method...)
	buf = append(buf, '\n')
	buf = appendCanonicalPath(buf, requestPath(r))
	buf = append(buf, '\n')
	buf = appendCanonicalQuery(buf, params, skip)
	buf = append(buf, '\n')
	buf = appendCanonicalHeaders(buf, r, signed)
	buf = append(buf, '\n')
	for i, h := range signed {
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = append(buf, h...)
	}
	buf = append(buf, '\n')
	buf = append(buf, payload...)
	return buf
}

// signingKey derives the SigV4 signing key for a credential scope.
func signingKey(secret string, c Credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(c.Date))
	k = hmacSHA256(k, []byte(c.Region))
	k = hmacSHA256(k, []byte(c.Service))
	return hmacSHA256(k, []byte(scopeTerminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// signature returns the hex signature of a canonical request.
func signature(key []byte, amzDate, scope string, canonical []byte) string {
	sum := sha256.Sum256(canonical)
	sts := make([]byte, 0, 160)
	sts = append(sts, Algorithm+"\n"...)
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, sum[:])
	return hex.EncodeToString(hmacSHA256(key, sts))
}

func equalSig(want, got string) bool {
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// setBody installs the payload-verifying body for the payload mode.
// sc is nil for presigned requests, which cannot stream.
func (v *Verifier) setBody(r *http.Request, res *Result, payload string, sc *streamContext) error {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	res.DecodedLength = r.ContentLength
	switch payload {
	case UnsignedPayload:
		res.Body = body
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer:
		if sc == nil {
			return errorf(CodeInvalidArgument, "streaming payloads cannot be presigned")
		}
		cr, err := v.newChunked(r, body, payload, sc)
		if err != nil {
			return err
		}
		res.Streaming = true
		res.DecodedLength = cr.opt.want
		res.TrailerChecksum = cr.opt.alg
		res.chunked = cr
		res.Body = cr
	default:
		want, _ := hex.DecodeString(payload)
		res.Body = &sha256Reader{rc: body, h: sha256.New(), want: want}
	}
	r.Body = res.Body
	return nil
}

// newChunked builds the aws-chunked decoder from the request headers.
func (v *Verifier) newChunked(r *http.Request, body io.ReadCloser, mode string, sc *streamContext) (*chunkedReader, error) {
	want := int64(-1)
	if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, errorf(CodeInvalidArgument, "x-amz-decoded-content-length %q is not a valid length", truncate(s))
		}
		want = n
	} else if mode != StreamingUnsignedPayloadTrailer {
		return nil, errorf(CodeMissingContentLength, "You must provide the x-amz-decoded-content-length HTTP header.")
	}
	var alg checksum.Algorithm
	trailer := mode != StreamingPayload
	if trailer {
		names := strings.Split(strings.Join(r.Header.Values("X-Amz-Trailer"), ","), ",")
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			suffix, ok := strings.CutPrefix(strings.ToLower(n), checksum.HeaderPrefix)
			if !ok {
				return nil, errorf(CodeInvalidRequest, "unsupported trailer %q in x-amz-trailer", truncate(n))
			}
			a, err := checksum.ParseAlgorithm(suffix)
			if err != nil {
				return nil, errorf(CodeInvalidRequest, "unsupported trailer %q in x-amz-trailer", truncate(n))
			}
			if alg != "" {
				return nil, errorf(CodeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			alg = a
		}
	}
	var cs *streamContext
	if mode != StreamingUnsignedPayloadTrailer {
		cs = sc
	}
	return newChunkedReader(body, chunkedOptions{
		signing:  cs,
		trailer:  trailer,
		alg:      alg,
		want:     want,
		maxChunk: v.cfg.MaxChunkSize,
	}), nil
}

// sha256Reader verifies a body against a hex x-amz-content-sha256.
type sha256Reader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want []byte
	err  error
}

func (s *sha256Reader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.rc.Read(p)
	s.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		var buf [sha256.Size]byte
		if !hmac.Equal(s.h.Sum(buf[:0]), s.want) {
			s.err = errorf(CodeXAmzContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
			return n, s.err
		}
		s.err = io.EOF
		return n, io.EOF
	}
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *sha256Reader) Close() error { return s.rc.Close() }
