package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"s3mesh/s3api/s3apitest"
)

// objectClient is what the cross-client tests need from a client.
type objectClient interface {
	put(ctx context.Context, bucket, key string, data []byte) error
	get(ctx context.Context, bucket, key string) ([]byte, error)
	// list pages through a whole listing and returns its keys and common
	// prefixes.
	list(ctx context.Context, bucket, prefix, delimiter string) (keys, prefixes []string, err error)
	remove(ctx context.Context, bucket, key string) error
	createBucket(ctx context.Context, bucket string) error
}

// clientMode is one client configuration, named after what it sends.
type clientMode struct {
	name string
	new  func(t *testing.T, srv *s3Server) objectClient
}

// sdkMode configures aws-sdk-go-v2.
type sdkMode struct {
	name string
	tls  bool
	// request and response checksum behaviour
	req  aws.RequestChecksumCalculation
	resp aws.ResponseChecksumValidation
}

// sdkModes: by default the SDK computes a CRC32 for every PutObject and
// sends it in a header over HTTP, and as an aws-chunked trailer
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) over TLS; WhenRequired sends a
// signed payload hash and no checksum.
var sdkModes = []sdkMode{
	{"sdk-default-http", false, aws.RequestChecksumCalculationWhenSupported, aws.ResponseChecksumValidationWhenSupported},
	{"sdk-default-tls-chunked", true, aws.RequestChecksumCalculationWhenSupported, aws.ResponseChecksumValidationWhenSupported},
	{"sdk-whenrequired-http", false, aws.RequestChecksumCalculationWhenRequired, aws.ResponseChecksumValidationWhenRequired},
}

// newSDK returns an SDK client for srv in mode m with the given keys.
func newSDK(srv *s3Server, m sdkMode, accessKey, secretKey string) *s3.Client {
	opts := s3.Options{
		Region:                     srv.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		BaseEndpoint:               aws.String(srv.URL),
		UsePathStyle:               true,
		RequestChecksumCalculation: m.req,
		ResponseChecksumValidation: m.resp,
		Retryer:                    aws.NopRetryer{},
	}
	if m.tls {
		opts.BaseEndpoint = aws.String(srv.TLS.URL)
		opts.HTTPClient = srv.TLS.Client()
	}
	if accessKey == "" {
		opts.Credentials = aws.AnonymousCredentials{}
	}
	return s3.New(opts)
}

// minioMode configures minio-go.
type minioMode struct {
	name     string
	tls      bool
	trailers bool // Options.TrailingHeaders
	opts     minio.PutObjectOptions
}

// minioModes: over HTTP minio-go signs every chunk
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD); with a checksum and trailing
// headers it adds a signed trailer (…-PAYLOAD-TRAILER); over TLS with
// trailing headers it sends STREAMING-UNSIGNED-PAYLOAD-TRAILER; with
// DisableContentSha256 over HTTP it sends UNSIGNED-PAYLOAD.
var minioModes = []minioMode{
	{"minio-http-streaming", false, false, minio.PutObjectOptions{}},
	{"minio-http-streaming-trailer", false, true, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}},
	{"minio-tls-unsigned-trailer", true, true, minio.PutObjectOptions{}},
	{"minio-http-unsigned", false, false, minio.PutObjectOptions{DisableContentSha256: true}},
	{"minio-http-md5", false, false, minio.PutObjectOptions{SendContentMd5: true}},
}

func newMinio(t *testing.T, srv *s3Server, m minioMode, accessKey, secretKey string) *minio.Client {
	t.Helper()
	u := srv.URL
	opts := &minio.Options{
		Creds:           miniocreds.NewStaticV4(accessKey, secretKey, ""),
		Secure:          m.tls,
		Region:          srv.Region,
		TrailingHeaders: m.trailers,
		MaxRetries:      1,
	}
	if m.tls {
		u = srv.TLS.URL
		opts.Transport = srv.TLS.Client().Transport
	}
	c, err := minio.New(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"), opts)
	if err != nil {
		t.Fatalf("minio.New: %v", err)
	}
	return c
}

func allModes() []clientMode {
	var modes []clientMode
	for _, m := range sdkModes {
		modes = append(modes, clientMode{m.name, func(t *testing.T, srv *s3Server) objectClient {
			return sdkClient{newSDK(srv, m, testAccessKey, testSecretKey)}
		}})
	}
	for _, m := range minioModes {
		modes = append(modes, clientMode{m.name, func(t *testing.T, srv *s3Server) objectClient {
			return minioClient{newMinio(t, srv, m, testAccessKey, testSecretKey), m.opts}
		}})
	}
	return modes
}

type sdkClient struct{ c *s3.Client }

func (s sdkClient) createBucket(ctx context.Context, bucket string) error {
	_, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	return err
}

func (s sdkClient) put(ctx context.Context, bucket, key string, data []byte) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	return err
}

func (s sdkClient) get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (s sdkClient) remove(ctx context.Context, bucket, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	return err
}

// list uses ListObjectsV2 with encoding-type=url, as keys with control
// characters cannot travel in XML otherwise, and small pages.
func (s sdkClient) list(ctx context.Context, bucket, prefix, delimiter string) ([]string, []string, error) {
	var keys, prefixes []string
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, Delimiter: &delimiter, EncodingType: types.EncodingTypeUrl, MaxKeys: aws.Int32(7)}
	for range 1000 {
		out, err := s.c.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range out.Contents {
			k, err := url.QueryUnescape(aws.ToString(o.Key))
			if err != nil {
				return nil, nil, fmt.Errorf("decode key %q: %w", aws.ToString(o.Key), err)
			}
			keys = append(keys, k)
		}
		for _, p := range out.CommonPrefixes {
			k, err := url.QueryUnescape(aws.ToString(p.Prefix))
			if err != nil {
				return nil, nil, fmt.Errorf("decode prefix %q: %w", aws.ToString(p.Prefix), err)
			}
			prefixes = append(prefixes, k)
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys, prefixes, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	return nil, nil, errors.New("listing did not end after 1000 pages")
}

type minioClient struct {
	c    *minio.Client
	opts minio.PutObjectOptions
}

func (m minioClient) createBucket(ctx context.Context, bucket string) error {
	return m.c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
}

func (m minioClient) put(ctx context.Context, bucket, key string, data []byte) error {
	_, err := m.c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), m.opts)
	return err
}

func (m minioClient) get(ctx context.Context, bucket, key string) ([]byte, error) {
	o, err := m.c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

func (m minioClient) remove(ctx context.Context, bucket, key string) error {
	return m.c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
}

// list uses minio-go's ListObjects (V2, encoding-type=url); minio-go only
// knows the delimiter "/", and reports a common prefix as an entry without
// an ETag.
func (m minioClient) list(ctx context.Context, bucket, prefix, delimiter string) ([]string, []string, error) {
	if delimiter != "" && delimiter != "/" {
		return nil, nil, fmt.Errorf("minio-go lists with delimiter %q only", "/")
	}
	var keys, prefixes []string
	for o := range m.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: delimiter == "", MaxKeys: 7}) {
		if o.Err != nil {
			return nil, nil, o.Err
		}
		if o.ETag == "" && strings.HasSuffix(o.Key, "/") && delimiter != "" {
			prefixes = append(prefixes, o.Key)
			continue
		}
		keys = append(keys, o.Key)
	}
	return keys, prefixes, nil
}

// bucketName turns a mode name into a valid bucket name.
func bucketName(prefix, mode string) string {
	return prefix + "-" + strings.ReplaceAll(mode, "_", "-")
}

// TestClients runs the same round trips through every client mode.
func TestClients(t *testing.T) {
	srv := startS3(t, "")
	for _, mode := range allModes() {
		t.Run(mode.name, func(t *testing.T) {
			c := mode.new(t, srv)
			ctx := t.Context()
			bucket := bucketName("rt", mode.name)
			if err := c.createBucket(ctx, bucket); err != nil {
				t.Fatalf("CreateBucket: %v", err)
			}
			t.Run("RoundTrip", func(t *testing.T) {
				for i, n := range []int{0, 1, 64<<10 + 1, 1<<20 + 1, 5<<20 + 3} {
					key := fmt.Sprintf("size/%d", n)
					data := randomBytes(uint64(i), n)
					if err := c.put(ctx, bucket, key, data); err != nil {
						t.Errorf("put %d bytes: %v", n, err)
						continue
					}
					got, err := c.get(ctx, bucket, key)
					if err != nil {
						t.Errorf("get %d bytes: %v", n, err)
						continue
					}
					if !bytes.Equal(got, data) {
						t.Errorf("get %d bytes: got %d bytes, md5 %s; want md5 %s", n, len(got), md5hex(got), md5hex(data))
					}
				}
			})
			t.Run("AwkwardKeys", func(t *testing.T) {
				testAwkwardKeys(t, c, bucket+"-keys")
			})
		})
	}
}

// testAwkwardKeys puts, reads, lists and deletes every key of the corpus.
func testAwkwardKeys(t *testing.T, c objectClient, bucket string) {
	ctx := t.Context()
	if err := c.createBucket(ctx, bucket); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	var stored []string
	for _, k := range s3apitest.AwkwardKeys {
		if err := c.put(ctx, bucket, k, []byte("content of "+k)); err != nil {
			t.Errorf("put %q: %v", k, err)
			continue
		}
		stored = append(stored, k)
	}
	for _, k := range stored {
		got, err := c.get(ctx, bucket, k)
		if err != nil {
			t.Errorf("get %q: %v", k, err)
			continue
		}
		if string(got) != "content of "+k {
			t.Errorf("get %q = %q, want %q", k, got, "content of "+k)
		}
	}
	want := slices.Clone(stored)
	slices.Sort(want)
	keys, prefixes, err := c.list(ctx, bucket, "", "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if !slices.Equal(keys, want) || len(prefixes) != 0 {
		t.Errorf("list:\n got keys %q prefixes %q\nwant keys %q", keys, prefixes, want)
	}
	// With delimiter "/", compute the roll-up from the stored keys.
	var wantKeys, wantPrefixes []string
	for _, k := range want {
		if i := strings.Index(k, "/"); i >= 0 {
			if p := k[:i+1]; !slices.Contains(wantPrefixes, p) {
				wantPrefixes = append(wantPrefixes, p)
			}
			continue
		}
		wantKeys = append(wantKeys, k)
	}
	keys, prefixes, err = c.list(ctx, bucket, "", "/")
	if err != nil {
		t.Fatalf("list with delimiter: %v", err)
	}
	slices.Sort(prefixes)
	if !slices.Equal(keys, wantKeys) || !slices.Equal(prefixes, wantPrefixes) {
		t.Errorf("list with delimiter /:\n got keys %q prefixes %q\nwant keys %q prefixes %q", keys, prefixes, wantKeys, wantPrefixes)
	}
	for _, k := range stored {
		if err := c.remove(ctx, bucket, k); err != nil {
			t.Errorf("delete %q: %v", k, err)
		}
	}
	keys, _, err = c.list(ctx, bucket, "", "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("list after deleting the corpus: %q", keys)
	}
}

// sdkError returns the S3 error code and HTTP status of an SDK error.
func sdkError(err error) (string, int) {
	var code string
	var status int
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// wantSDKError fails t unless err is an S3 error with code (when not "")
// and status.
func wantSDKError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %s (%d)", what, code, status)
		return
	}
	gotCode, gotStatus := sdkError(err)
	if (code != "" && gotCode != code) || gotStatus != status {
		t.Errorf("%s: got %s (%d), want %s (%d): %v", what, gotCode, gotStatus, code, status, err)
	}
}

// wantMinioError fails t unless err is an S3 error with code and status.
func wantMinioError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %s (%d)", what, code, status)
		return
	}
	resp := minio.ToErrorResponse(err)
	if resp.Code != code || resp.StatusCode != status {
		t.Errorf("%s: got %s (%d), want %s (%d): %v", what, resp.Code, resp.StatusCode, code, status, err)
	}
}

// cidOf returns the x-s3mesh-cid header of an SDK response.
func cidOf(md middleware.Metadata) string {
	if r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		return r.Header.Get("x-s3mesh-cid")
	}
	return ""
}

// checkCID fails t when the store assigns CIDs and cid is empty.
func checkCID(t *testing.T, what, cid string) {
	t.Helper()
	if storeKind() == "gateway" && cid == "" {
		t.Errorf("%s: no x-s3mesh-cid header", what)
	}
}

func mustGet(t *testing.T, c *s3.Client, in *s3.GetObjectInput) (*s3.GetObjectOutput, []byte) {
	t.Helper()
	out, err := c.GetObject(t.Context(), in)
	if err != nil {
		t.Fatalf("GetObject(%s, %+v): %v", aws.ToString(in.Key), in, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject(%s): read: %v", aws.ToString(in.Key), err)
	}
	return out, b
}
