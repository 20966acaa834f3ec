package sigv4

import "fmt"

// Error codes carried by *Error. Each is the exact S3 error code the request
// is answered with; the s3api layer maps the string to its s3err.Code.
const (
	CodeAccessDenied                      = "AccessDenied"
	CodeAuthorizationHeaderMalformed      = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodeBadDigest                         = "BadDigest"
	CodeIncompleteBody                    = "IncompleteBody"
	CodeInvalidAccessKeyID                = "InvalidAccessKeyId"
	CodeInvalidArgument                   = "InvalidArgument"
	CodeInvalidDigest                     = "InvalidDigest"
	CodeInvalidRequest                    = "InvalidRequest"
	CodeMissingContentLength              = "MissingContentLength"
	CodeRequestTimeTooSkewed              = "RequestTimeTooSkewed"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeUnsupportedSignature              = "UnsupportedSignature"
	CodeXAmzContentSHA256Mismatch         = "XAmzContentSHA256Mismatch"
)

// Error is an authentication or payload-verification failure. Code is an
// exact S3 error code (one of the Code* constants); Message is safe to send
// to the client and never contains secrets.
type Error struct {
	Code    string
	Message string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
