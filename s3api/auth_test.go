package s3api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// sdkClient returns an aws-sdk-go-v2 S3 client of srv.
func sdkClient(srv *httptest.Server, mode aws.RequestChecksumCalculation) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(srv.URL),
		Region:                     testRegion,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		HTTPClient:                 srv.Client(),
		RequestChecksumCalculation: mode,
		RetryMaxAttempts:           1,
	})
}

// TestSDKClient drives the handler with the AWS SDK for Go v2 over HTTP and
// HTTPS, with both checksum modes: the default sends aws-chunked bodies
// with a CRC32 trailer.
func TestSDKClient(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		for _, mode := range []aws.RequestChecksumCalculation{aws.RequestChecksumCalculationWhenSupported, aws.RequestChecksumCalculationWhenRequired} {
			name := map[bool]string{false: "http", true: "https"}[tls]
			name += map[aws.RequestChecksumCalculation]string{aws.RequestChecksumCalculationWhenSupported: "/when-supported", aws.RequestChecksumCalculationWhenRequired: "/when-required"}[mode]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				var chunked atomic.Int32
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
						chunked.Add(1)
					}
					e.h.ServeHTTP(w, r)
				})
				var srv *httptest.Server
				if tls {
					srv = httptest.NewTLSServer(h)
				} else {
					srv = httptest.NewServer(h)
				}
				defer srv.Close()
				c := sdkClient(srv, mode)
				ctx := context.Background()
				if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk-bucket")}); err != nil {
					t.Fatalf("CreateBucket: %v", err)
				}
				data := bytes.Repeat([]byte("s3mesh "), 20000)
				put, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("sdk-bucket"), Key: aws.String("dir/a b+c;d"), Body: bytes.NewReader(data),
					ContentType: aws.String("text/plain"), Metadata: map[string]string{"Color": "blue"},
				})
				if err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				if put.ETag == nil {
					t.Fatal("no ETag")
				}
				obj, err := e.store.HeadObject(ctx, "sdk-bucket", "dir/a b+c;d")
				if err != nil {
					t.Fatal(err)
				}
				if mode == aws.RequestChecksumCalculationWhenSupported {
					if obj.Checksums["CRC32"] == "" || aws.ToString(put.ChecksumCRC32) != obj.Checksums["CRC32"] {
						t.Errorf("CRC32 not recorded: %v, response %q", obj.Checksums, aws.ToString(put.ChecksumCRC32))
					}
					// Over TLS the SDK streams aws-chunked with a trailer.
					if tls && chunked.Load() == 0 {
						t.Error("the SDK sent no aws-chunked body over TLS")
					}
				}
				get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("dir/a b+c;d"),
					Range: aws.String("bytes=7-13"), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				got, _ := io.ReadAll(get.Body)
				get.Body.Close()
				if string(got) != "s3mesh " || aws.ToString(get.ContentType) != "text/plain" || get.Metadata["color"] != "blue" {
					t.Fatalf("GetObject: %q %q %v", got, aws.ToString(get.ContentType), get.Metadata)
				}
				list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sdk-bucket"), Delimiter: aws.String("/")})
				if err != nil || len(list.CommonPrefixes) != 1 || aws.ToString(list.CommonPrefixes[0].Prefix) != "dir/" {
					t.Fatalf("ListObjectsV2: %+v %v", list, err)
				}
				del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("sdk-bucket"),
					Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("dir/a b+c;d")}}}})
				if err != nil || len(del.Deleted) != 1 {
					t.Fatalf("DeleteObjects: %+v %v", del, err)
				}
				_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("dir/a b+c;d")})
				if err == nil {
					t.Fatal("HeadObject after delete succeeded")
				}
				if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("sdk-bucket")}); err != nil {
					t.Fatalf("DeleteBucket: %v", err)
				}
			})
		}
	}
}

// TestPresigned fetches and uploads through presigned URLs.
func TestPresigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	c := sdkClient(srv, aws.RequestChecksumCalculationWhenRequired)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("presign")}); err != nil {
		t.Fatal(err)
	}
	pc := s3.NewPresignClient(c, s3.WithPresignExpires(time.Minute))
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("k;1")})
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader([]byte("presigned body")))
	for k, v := range put.SignedHeader {
		hr.Header[k] = v
	}
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("k;1")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "presigned body" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, body)
	}
	// A tampered URL fails.
	resp, err = srv.Client().Get(get.URL + "x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered presigned GET: %d", resp.StatusCode)
	}
}

// TestSignatureV2 drives the handler over HTTP with requests signed by hand
// with AWS Signature Version 2, as s3cmd (header form) and aws cli v1,
// boto3 and s3cmd signurl (presigned URLs) send them.
func TestSignatureV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/v2bkt"}, 200)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	sign := func(secret, sts string) string {
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(sts))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	send := func(method, target, host string, hdr http.Header, body string) (*http.Response, string) {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			r.Host = host
		}
		for k, v := range hdr {
			r.Header[k] = v
		}
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	const path = "/v2bkt/dir/a%20b%2Bc%C3%A9" // key "dir/a b+cé"

	// PutObject, header form.
	date := time.Now().UTC().Format(http.TimeFormat)
	sts := "PUT\n\ntext/plain\n" + date + "\nx-amz-meta-color:blue\n" + path
	hdr := http.Header{
		"Date":             {date},
		"Content-Type":     {"text/plain"},
		"X-Amz-Meta-Color": {"blue"},
		"Authorization":    {"AWS " + testAccessKey + ":" + sign(testSecretKey, sts)},
	}
	if resp, body := send("PUT", path, "", hdr, "signed with v2"); resp.StatusCode != 200 {
		t.Fatalf("v2 PUT: %d %s", resp.StatusCode, body)
	}
	obj, err := e.store.HeadObject(context.Background(), "v2bkt", "dir/a b+cé")
	if err != nil || obj.Size != int64(len("signed with v2")) {
		t.Fatalf("stored object %+v, %v", obj, err)
	}
	hdr["Authorization"] = []string{"AWS " + testAccessKey + ":" + sign("not-the-secret", sts)}
	if resp, body := send("PUT", path, "", hdr, "x"); !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("wrong secret: %d %s", resp.StatusCode, body)
	}

	// GetObject, presigned, path and virtual-hosted style.
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	presigned := func(secret, resource, query, expires string) string {
		s := sign(secret, "GET\n\n\n"+expires+"\n"+resource)
		q := "AWSAccessKeyId=" + testAccessKey + "&Expires=" + expires + "&Signature=" + url.QueryEscape(s)
		if query != "" {
			q = query + "&" + q
		}
		return q
	}
	for _, tt := range []struct {
		name, target, host, want, wantType string
	}{
		{"path style", path + "?" + presigned(testSecretKey, path, "", exp), "", "200 signed with v2", "text/plain"},
		{"virtual host", "/dir/a%20b%2Bc%C3%A9?" + presigned(testSecretKey, path, "", exp), "v2bkt.s3.example.com", "200 signed with v2", "text/plain"},
		{"response override", path + "?" + presigned(testSecretKey, path+"?response-content-type=text/html; charset=utf-8",
			"response-content-type=text%2Fhtml%3B%20charset%3Dutf-8", exp), "", "200 signed with v2", "text/html; charset=utf-8"},
		{"override not signed", path + "?response-content-type=text%2Fhtml&" + presigned(testSecretKey, path, "", exp), "", "403 SignatureDoesNotMatch", ""},
		{"expired", path + "?" + presigned(testSecretKey, path, "", "1700000000"), "", "403 AccessDenied", ""},
		{"wrong secret", path + "?" + presigned("not-the-secret", path, "", exp), "", "403 SignatureDoesNotMatch", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send("GET", tt.target, tt.host, nil, "")
			got := strconv.Itoa(resp.StatusCode) + " " + body
			if resp.StatusCode != 200 {
				var x struct{ Code string }
				if err := xml.Unmarshal([]byte(body), &x); err != nil {
					t.Fatalf("error body: %v: %s", err, body)
				}
				got = strconv.Itoa(resp.StatusCode) + " " + x.Code
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
		})
	}
}
