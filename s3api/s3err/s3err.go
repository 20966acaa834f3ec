// Package s3err defines the S3 error codes s3mesh answers with, the one
// table that maps each code to its HTTP status and default message, and the
// Error type that carries a client-safe message apart from the internal cause.
//
// A Code is itself an error, so storage code can return or wrap it directly:
//
//	return fmt.Errorf("get %s/%s: %w", bucket, key, s3err.ErrNoSuchKey)
//
// and the HTTP layer classifies it with errors.Is or errors.As.
//
// The codes and statuses follow the S3 API reference:
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
package s3err

import (
	"errors"
	"net/http"
)

// Code is an S3 error code, such as "NoSuchKey". It implements error.
type Code string

// Error returns the code itself.
func (c Code) Error() string { return string(c) }

// Status returns the HTTP status the code is answered with; 500 for a code
// the table does not know.
func (c Code) Status() int {
	if e, ok := table[c]; ok {
		return e.status
	}
	return http.StatusInternalServerError
}

// Message returns the default client-facing description of the code.
func (c Code) Message() string {
	if e, ok := table[c]; ok {
		return e.message
	}
	return "We encountered an internal error. Please try again."
}

// Known reports whether c is in the table.
func (c Code) Known() bool { _, ok := table[c]; return ok }

// The codes s3mesh answers with, named after the AWS codes.
const (
	ErrAccessDenied                       Code = "AccessDenied"
	ErrAuthorizationHeaderMalformed       Code = "AuthorizationHeaderMalformed"
	ErrAuthorizationQueryParametersError  Code = "AuthorizationQueryParametersError"
	ErrBadDigest                          Code = "BadDigest"
	ErrBucketAlreadyExists                Code = "BucketAlreadyExists"
	ErrBucketAlreadyOwnedByYou            Code = "BucketAlreadyOwnedByYou"
	ErrBucketNotEmpty                     Code = "BucketNotEmpty"
	ErrEntityTooLarge                     Code = "EntityTooLarge"
	ErrEntityTooSmall                     Code = "EntityTooSmall"
	ErrExpiredToken                       Code = "ExpiredToken"
	ErrIncompleteBody                     Code = "IncompleteBody"
	ErrInternalError                      Code = "InternalError"
	ErrInvalidAccessKeyID                 Code = "InvalidAccessKeyId"
	ErrInvalidArgument                    Code = "InvalidArgument"
	ErrInvalidBucketName                  Code = "InvalidBucketName"
	ErrInvalidDigest                      Code = "InvalidDigest"
	ErrInvalidEncodingType                Code = "InvalidEncodingType"
	ErrInvalidLocationConstraint          Code = "InvalidLocationConstraint"
	ErrInvalidPart                        Code = "InvalidPart"
	ErrInvalidPartNumber                  Code = "InvalidPartNumber"
	ErrNoSuchVersion                      Code = "NoSuchVersion"
	ErrNoSuchCORSConfiguration            Code = "NoSuchCORSConfiguration"
	ErrCORSResponse                       Code = "CORSResponse"
	ErrInvalidPartOrder                   Code = "InvalidPartOrder"
	ErrInvalidRange                       Code = "InvalidRange"
	ErrInvalidRequest                     Code = "InvalidRequest"
	ErrInvalidURI                         Code = "InvalidURI"
	ErrKeyTooLong                         Code = "KeyTooLongError"
	ErrMalformedXML                       Code = "MalformedXML"
	ErrMetadataTooLarge                   Code = "MetadataTooLarge"
	ErrMethodNotAllowed                   Code = "MethodNotAllowed"
	ErrMissingContentLength               Code = "MissingContentLength"
	ErrMissingRequestBodyError            Code = "MissingRequestBodyError"
	ErrMissingSecurityHeader              Code = "MissingSecurityHeader"
	ErrNoSuchBucket                       Code = "NoSuchBucket"
	ErrNoSuchKey                          Code = "NoSuchKey"
	ErrNoSuchUpload                       Code = "NoSuchUpload"
	ErrNotImplemented                     Code = "NotImplemented"
	ErrNotModified                        Code = "NotModified"
	ErrPreconditionFailed                 Code = "PreconditionFailed"
	ErrRequestTimeTooSkewed               Code = "RequestTimeTooSkewed"
	ErrServiceUnavailable                 Code = "ServiceUnavailable"
	ErrSignatureDoesNotMatch              Code = "SignatureDoesNotMatch"
	ErrSlowDown                           Code = "SlowDown"
	ErrXAmzContentSHA256Mismatch          Code = "XAmzContentSHA256Mismatch"
	ErrInvalidChunkSizeError              Code = "InvalidChunkSizeError"
	ErrUnsupportedSignature               Code = "UnsupportedSignature"
	ErrConditionalRequestConflict         Code = "ConditionalRequestConflict"
	ErrInvalidObjectState                 Code = "InvalidObjectState"
	ErrInvalidTag                         Code = "InvalidTag"
	ErrNoSuchTagSet                       Code = "NoSuchTagSet"
	ErrMalformedPOSTRequest               Code = "MalformedPOSTRequest"
	ErrRequestHeaderSectionTooLarge       Code = "RequestHeaderSectionTooLarge"
	ErrMaxMessageLengthExceeded           Code = "MaxMessageLengthExceeded"
	ErrTooManyParts                       Code = "TooManyParts"
	ErrInvalidStorageClass                Code = "InvalidStorageClass"
	ErrUnexpectedContent                  Code = "UnexpectedContent"
	ErrRequestTimeout                     Code = "RequestTimeout"
	ErrMissingAttachment                  Code = "MissingAttachment"
	ErrInvalidSecurity                    Code = "InvalidSecurity"
	ErrCrossLocationLoggingProhibited     Code = "CrossLocationLoggingProhibited"
	ErrIllegalLocationConstraintException Code = "IllegalLocationConstraintException"
	// ErrClientClosed is not an AWS code: it records, in metrics and logs, a
	// request whose client went away. Nothing is sent for it.
	ErrClientClosed Code = "ClientClosed"
	// ErrInsufficientStorage is not an AWS code: the node's disk is below
	// the free space its operator keeps (507, as WebDAV and other S3
	// servers answer a full store). Reads, listings and deletes go on.
	ErrInsufficientStorage Code = "InsufficientStorage"
)

type entry struct {
	status  int
	message string
}

// table is the one mapping of code to HTTP status and default message.
var table = map[Code]entry{
	ErrAccessDenied:                       {http.StatusForbidden, "Access Denied."},
	ErrAuthorizationHeaderMalformed:       {http.StatusBadRequest, "The authorization header is malformed."},
	ErrAuthorizationQueryParametersError:  {http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter."},
	ErrBadDigest:                          {http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received."},
	ErrBucketAlreadyExists:                {http.StatusConflict, "The requested bucket name is not available."},
	ErrBucketAlreadyOwnedByYou:            {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	ErrBucketNotEmpty:                     {http.StatusConflict, "The bucket you tried to delete is not empty."},
	ErrEntityTooLarge:                     {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	ErrEntityTooSmall:                     {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	ErrExpiredToken:                       {http.StatusBadRequest, "The provided token has expired."},
	ErrIncompleteBody:                     {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	ErrInternalError:                      {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	ErrInvalidAccessKeyID:                 {http.StatusForbidden, "The AWS access key ID you provided does not exist in our records."},
	ErrInvalidArgument:                    {http.StatusBadRequest, "Invalid argument."},
	ErrInvalidBucketName:                  {http.StatusBadRequest, "The specified bucket is not valid."},
	ErrInvalidDigest:                      {http.StatusBadRequest, "The Content-MD5 or checksum you specified is not valid."},
	ErrInvalidEncodingType:                {http.StatusBadRequest, "Invalid Encoding Method specified in Request."},
	ErrInvalidLocationConstraint:          {http.StatusBadRequest, "The specified location constraint is not valid."},
	ErrInvalidPart:                        {http.StatusBadRequest, "One or more of the specified parts could not be found."},
	ErrInvalidPartOrder:                   {http.StatusBadRequest, "The list of parts was not in ascending order."},
	ErrInvalidPartNumber:                  {http.StatusBadRequest, "The requested partnumber is not satisfiable."},
	ErrNoSuchVersion:                      {http.StatusNotFound, "The specified version does not exist."},
	ErrNoSuchCORSConfiguration:            {http.StatusNotFound, "The CORS configuration does not exist."},
	ErrCORSResponse:                       {http.StatusForbidden, "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."},
	ErrInvalidRange:                       {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable."},
	ErrInvalidRequest:                     {http.StatusBadRequest, "Invalid Request."},
	ErrInvalidURI:                         {http.StatusBadRequest, "Couldn't parse the specified URI."},
	ErrKeyTooLong:                         {http.StatusBadRequest, "Your key is too long."},
	ErrMalformedXML:                       {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	ErrMetadataTooLarge:                   {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	ErrMethodNotAllowed:                   {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	ErrMissingContentLength:               {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	ErrMissingRequestBodyError:            {http.StatusBadRequest, "Request Body is empty."},
	ErrMissingSecurityHeader:              {http.StatusBadRequest, "Your request is missing a required header."},
	ErrNoSuchBucket:                       {http.StatusNotFound, "The specified bucket does not exist."},
	ErrNoSuchKey:                          {http.StatusNotFound, "The specified key does not exist."},
	ErrNoSuchUpload:                       {http.StatusNotFound, "The specified multipart upload does not exist."},
	ErrNotImplemented:                     {http.StatusNotImplemented, "A header or operation you provided implies functionality that is not implemented."},
	ErrNotModified:                        {http.StatusNotModified, "Not Modified."},
	ErrPreconditionFailed:                 {http.StatusPreconditionFailed, "At least one of the preconditions you specified did not hold."},
	ErrRequestTimeTooSkewed:               {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	ErrServiceUnavailable:                 {http.StatusServiceUnavailable, "The service is unavailable. Please retry."},
	ErrSignatureDoesNotMatch:              {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	ErrSlowDown:                           {http.StatusServiceUnavailable, "Please reduce your request rate."},
	ErrXAmzContentSHA256Mismatch:          {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	ErrInvalidChunkSizeError:              {http.StatusBadRequest, "Only the last chunk is allowed to have a size less than 8192 bytes."},
	ErrUnsupportedSignature:               {http.StatusBadRequest, "The provided request is signed with an unsupported STS Token version or the signature version is not supported."},
	ErrConditionalRequestConflict:         {http.StatusConflict, "A conflicting operation occurred. Please retry."},
	ErrInvalidObjectState:                 {http.StatusForbidden, "The operation is not valid for the current state of the object."},
	ErrInvalidTag:                         {http.StatusBadRequest, "The tag provided was not a valid tag."},
	ErrNoSuchTagSet:                       {http.StatusNotFound, "The TagSet does not exist."},
	ErrMalformedPOSTRequest:               {http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data."},
	ErrRequestHeaderSectionTooLarge:       {http.StatusBadRequest, "Your request header section exceeds the maximum allowed size."},
	ErrMaxMessageLengthExceeded:           {http.StatusBadRequest, "Your request was too big."},
	ErrTooManyParts:                       {http.StatusBadRequest, "You have attempted to upload more parts than allowed."},
	ErrInvalidStorageClass:                {http.StatusBadRequest, "The storage class you specified is not valid."},
	ErrUnexpectedContent:                  {http.StatusBadRequest, "This request does not support content."},
	ErrRequestTimeout:                     {http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."},
	ErrMissingAttachment:                  {http.StatusBadRequest, "A SOAP attachment was expected, but none were found."},
	ErrInvalidSecurity:                    {http.StatusForbidden, "The provided security credentials are not valid."},
	ErrCrossLocationLoggingProhibited:     {http.StatusForbidden, "Cross-location logging not allowed."},
	ErrIllegalLocationConstraintException: {http.StatusBadRequest, "The location constraint is not valid for this endpoint."},
	ErrClientClosed:                       {499, "Client closed the request."},
	ErrInsufficientStorage:                {http.StatusInsufficientStorage, "This node is short of disk space and takes no new data; reads, listings and deletes go on. Retry once space is freed."},
}

// Error is an S3 error with a client-safe message and an optional internal
// cause. Message and Resource are sent to the client; Err is only logged.
type Error struct {
	Code     Code
	Message  string // client-safe; empty means Code.Message()
	Resource string // the bucket or key the error is about, if any
	Err      error  // internal cause, never sent
	// Header holds extra response headers, such as Retry-After.
	Header map[string]string
}

// New returns an Error with code and client-safe message.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Wrap returns an Error with code whose internal cause is err.
func Wrap(code Code, err error) *Error { return &Error{Code: code, Err: err} }

// Error describes the error, including the internal cause for logs.
func (e *Error) Error() string {
	s := string(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's code, so errors.Is(err, s3err.ErrNoSuchKey)
// holds for an *Error with that code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// ClientMessage returns the message to send: Message, or the code's default.
func (e *Error) ClientMessage() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code.Message()
}

// As extracts the S3 error from err: an *Error, or a Code wrapped anywhere
// in the chain (returned as an *Error with that code and err as cause). The
// second result is false when err carries no S3 code.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var c Code
	if errors.As(err, &c) {
		return &Error{Code: c, Err: err}, true
	}
	return nil, false
}
