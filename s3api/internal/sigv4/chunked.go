package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"

	"s3mesh/s3api/internal/checksum"
)

// Limits of the aws-chunked decoder.
const (
	// chunkBufferSize is the read buffer of the decoder: the most it holds
	// in memory besides the caller's buffer.
	chunkBufferSize = 64 << 10
	// maxLineLength bounds a chunk header or trailer line, CRLF included.
	maxLineLength = 4096
	// maxTrailerLines bounds the lines after the final chunk.
	maxTrailerLines = 16
)

const (
	chunkSigPrefix   = ";chunk-signature="
	trailerSigHeader = "x-amz-trailer-signature"
)

// streamContext is what chunk signatures are chained from: the signing key
// and scope of the request and its seed (header) signature.
type streamContext struct {
	key     []byte
	amzDate string
	scope   string
	seed    string
}

type chunkedOptions struct {
	signing  *streamContext     // nil for unsigned chunks
	trailer  bool               // a trailer section follows the final chunk
	alg      checksum.Algorithm // checksum expected in the trailer, or ""
	want     int64              // decoded length expected, or -1
	maxChunk int64              // largest chunk accepted
}

// chunkedReader decodes an aws-chunked body, verifying chunk signatures,
// the trailer signature, the trailer checksum and the decoded length. It
// streams: chunk data is handed out as it arrives and each chunk's
// signature is checked when its last byte has been read, before any later
// byte or io.EOF is returned.
type chunkedReader struct {
	body io.ReadCloser
	br   *bufio.Reader
	opt  chunkedOptions

	mac       hash.Hash // keyed HMAC-SHA256, signed only
	chunkHash hash.Hash // SHA-256 of the current chunk, signed only
	prevSig   [64]byte  // previous signature, hex
	chunkSig  [64]byte  // declared signature of the current chunk, hex
	sts       []byte    // string-to-sign scratch

	sum hash.Hash // trailer checksum over the decoded bytes, or nil

	remaining int64 // bytes of the current chunk not yet read
	inChunk   bool  // a chunk's data is being read
	decoded   int64
	err       error // sticky: io.EOF after success, else the failure

	trailerValue string // verified trailer checksum, set on success
}

func newChunkedReader(body io.ReadCloser, opt chunkedOptions) *chunkedReader {
	if opt.maxChunk <= 0 {
		opt.maxChunk = DefaultMaxChunkSize
	}
	c := &chunkedReader{
		body: body,
		br:   bufio.NewReaderSize(body, chunkBufferSize),
		opt:  opt,
	}
	if s := opt.signing; s != nil {
		c.mac = hmac.New(sha256.New, s.key)
		c.chunkHash = sha256.New()
		copy(c.prevSig[:], s.seed)
		c.sts = make([]byte, 0, 256)
	}
	if opt.alg != "" {
		c.sum = opt.alg.New()
	}
	return c
}

func (c *chunkedReader) verifiedTrailer() string {
	if c.err == io.EOF {
		return c.trailerValue
	}
	return ""
}

func (c *chunkedReader) Close() error { return c.body.Close() }

func (c *chunkedReader) fail(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errorf(CodeIncompleteBody, "The request body terminated unexpectedly")
	}
	c.err = err
	return err
}

// partialLineError reports the end of the body inside or right before a
// line; line holds the bytes read (valid until the next read).
type partialLineError struct{ line []byte }

func (e *partialLineError) Error() string { return "unexpected end of body" }

// Unwrap makes the error a truncation for fail.
func (e *partialLineError) Unwrap() error { return io.ErrUnexpectedEOF }

func malformed(what string) *Error {
	return errorf(CodeInvalidRequest, "malformed aws-chunked encoding: %s", what)
}

// Read implements io.Reader.
func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.remaining == 0 {
		if c.inChunk {
			if err := c.endChunk(); err != nil {
				return 0, c.fail(err)
			}
		}
		size, err := c.nextHeader()
		if err != nil {
			return 0, c.fail(err)
		}
		if size == 0 {
			if err := c.finish(); err != nil {
				return 0, c.fail(err)
			}
			c.err = io.EOF
			return 0, io.EOF
		}
		c.remaining, c.inChunk = size, true
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	if n > 0 {
		c.remaining -= int64(n)
		c.decoded += int64(n)
		if c.opt.want >= 0 && c.decoded > c.opt.want {
			return 0, c.fail(errorf(CodeIncompleteBody, "The decoded body is longer than x-amz-decoded-content-length"))
		}
		if c.chunkHash != nil {
			c.chunkHash.Write(p[:n])
		}
		if c.sum != nil {
			c.sum.Write(p[:n])
		}
		return n, nil
	}
	if err != nil {
		return 0, c.fail(err)
	}
	return 0, nil
}

// readLine returns the next line without its "\n" or "\r\n". The slice is
// valid until the next read.
func (c *chunkedReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, malformed("line too long")
	case errors.Is(err, io.EOF):
		return nil, &partialLineError{line: line}
	case err != nil:
		return nil, err
	case len(line) > maxLineLength:
		return nil, malformed("line too long")
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// nextHeader reads a chunk header: hex-size, then for signed chunks
// ";chunk-signature=<64 hex>", for unsigned ones optional extensions. The
// final (zero) chunk of a signed stream is verified here.
func (c *chunkedReader) nextHeader() (int64, error) {
	line, err := c.readLine()
	if err != nil {
		return 0, err
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := unhex(line[i])
		if !ok {
			break
		}
		size = size<<4 | int64(d)
		if size > c.opt.maxChunk {
			return 0, errorf(CodeInvalidRequest, "aws-chunked chunk larger than %d bytes", c.opt.maxChunk)
		}
	}
	if i == 0 {
		return 0, malformed("missing chunk size")
	}
	rest := line[i:]
	if c.opt.signing == nil {
		if len(rest) > 0 && rest[0] != ';' {
			return 0, malformed("invalid chunk size")
		}
		return size, nil
	}
	sig, ok := bytes.CutPrefix(rest, []byte(chunkSigPrefix))
	if !ok || len(sig) != 64 {
		return 0, malformed("missing or invalid chunk-signature")
	}
	copy(c.chunkSig[:], sig)
	if size == 0 {
		if err := c.verifyChunk(); err != nil {
			return 0, err
		}
	}
	return size, nil
}

// endChunk consumes the CRLF after a chunk's data and verifies its
// signature.
func (c *chunkedReader) endChunk() error {
	c.inChunk = false
	b, err := c.br.Peek(2)
	if len(b) < 2 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return malformed("chunk data not followed by CRLF")
	}
	c.br.Discard(2)
	if c.opt.signing != nil {
		return c.verifyChunk()
	}
	return nil
}

// verifyChunk checks the declared signature of the chunk whose data went
// through chunkHash, and chains it.
func (c *chunkedReader) verifyChunk() error {
	var sum [sha256.Size]byte
	c.chunkHash.Sum(sum[:0])
	c.chunkHash.Reset()
	got := c.sign("AWS4-HMAC-SHA256-PAYLOAD", emptySHA256, sum[:])
	if subtle.ConstantTimeCompare(got[:], c.chunkSig[:]) != 1 {
		return errorf(CodeSignatureDoesNotMatch, "The chunk signature we calculated does not match the signature you provided.")
	}
	c.prevSig = got
	return nil
}

// sign returns the hex signature of a chunk or trailer string-to-sign.
func (c *chunkedReader) sign(algorithm, extra string, digest []byte) [64]byte {
	s := c.opt.signing
	sts := c.sts[:0]
	sts = append(sts, algorithm...)
	sts = append(sts, '\n')
	sts = append(sts, s.amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, s.scope...)
	sts = append(sts, '\n')
	sts = append(sts, c.prevSig[:]...)
	sts = append(sts, '\n')
	if extra != "" {
		sts = append(sts, extra...)
		sts = append(sts, '\n')
	}
	sts = hex.AppendEncode(sts, digest)
	c.sts = sts
	c.mac.Reset()
	c.mac.Write(sts)
	var mac [sha256.Size]byte
	var out [64]byte
	hex.Encode(out[:], c.mac.Sum(mac[:0]))
	return out
}

// finish reads what follows the final chunk (trailer lines, or just CRLF)
// up to the end of the body and runs the end-of-stream checks.
func (c *chunkedReader) finish() error {
	if c.opt.want >= 0 && c.decoded != c.opt.want {
		return errorf(CodeIncompleteBody, "The decoded body length %d does not match x-amz-decoded-content-length %d", c.decoded, c.opt.want)
	}
	var (
		canon    []byte // signed trailer lines, "name:value\n" each
		sig      string
		value    string
		haveSig  bool
		haveVal  bool
		wantName string
	)
	if c.opt.alg != "" {
		wantName = c.opt.alg.HeaderName()
	}
	for n := 0; ; n++ {
		if n == maxTrailerLines {
			return malformed("too many trailer lines")
		}
		line, err := c.readLine()
		var partial *partialLineError
		if errors.As(err, &partial) {
			// A last line without its newline is a truncation unless it is
			// only the '\r' of a cut CRLF.
			if len(bytes.TrimRight(partial.line, "\r")) > 0 {
				return io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue
		}
		if !c.opt.trailer {
			return malformed("data after the final chunk")
		}
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			return malformed("trailer line is not name:value")
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if k == trailerSigHeader {
			if c.opt.signing == nil || haveSig {
				return malformed("unexpected x-amz-trailer-signature")
			}
			sig, haveSig = v, true
			continue
		}
		if haveSig {
			return malformed("trailer after x-amz-trailer-signature")
		}
		if c.opt.signing != nil {
			canon = append(canon, k...)
			canon = append(canon, ':')
			canon = append(canon, v...)
			canon = append(canon, '\n')
		}
		switch {
		case k == wantName:
			if haveVal {
				return malformed("repeated trailer " + k)
			}
			value, haveVal = v, true
		case strings.HasPrefix(k, checksum.HeaderPrefix):
			return errorf(CodeInvalidRequest, "The trailer %s was not declared in x-amz-trailer", truncate(k))
		}
	}
	if c.opt.trailer && c.opt.signing != nil {
		if !haveSig {
			return errorf(CodeIncompleteBody, "The request body terminated before x-amz-trailer-signature")
		}
		digest := sha256.Sum256(canon)
		got := c.sign("AWS4-HMAC-SHA256-TRAILER", "", digest[:])
		if subtle.ConstantTimeCompare(got[:], []byte(sig)) != 1 {
			return errorf(CodeSignatureDoesNotMatch, "The trailer signature we calculated does not match the signature you provided.")
		}
	}
	if c.sum != nil {
		if !haveVal {
			return errorf(CodeIncompleteBody, "The request body terminated before the %s trailer", wantName)
		}
		want, err := checksum.Decode(c.opt.alg, value)
		if err != nil {
			return errorf(CodeInvalidDigest, "The %s you specified was invalid", wantName)
		}
		var buf [64]byte
		if !bytes.Equal(c.sum.Sum(buf[:0]), want) {
			return errorf(CodeBadDigest, "The %s you specified did not match the calculated checksum.", wantName)
		}
		c.trailerValue = value
	}
	return nil
}
