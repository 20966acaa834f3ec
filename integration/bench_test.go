package integration

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"s3mesh/gateway"
	"s3mesh/s3api"
)

// The PUT/GET benchmarks compare s3mesh with the floor of the work any S3
// server must do over HTTP: a plain net/http handler that streams the body
// to a file while computing its MD5, and http.ServeContent of that file.
// Run them side by side and compare the MB/s columns:
//
//	go test -run '^$' -bench 'PutObject|GetObject' -benchtime 5x -count 3 ./integration/

// benchSource is 16 MiB of random bytes that uniqueReader cycles through.
var benchSource = func() []byte {
	b := make([]byte, 16<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}()

// uniqueReader yields size bytes of benchSource, stamping nonce and the
// offset into the first 16 bytes of every 64 KiB, so no two leaves of any
// two bodies are equal and a content-addressed store cannot deduplicate.
type uniqueReader struct {
	size, off int64
	nonce     uint64
}

func (u *uniqueReader) Read(p []byte) (int, error) {
	if u.off >= u.size {
		return 0, io.EOF
	}
	if int64(len(p)) > u.size-u.off {
		p = p[:u.size-u.off]
	}
	n := 0
	for n < len(p) {
		src := int(u.off % int64(len(benchSource)))
		c := copy(p[n:], benchSource[src:])
		n += c
		u.off += int64(c)
	}
	const stride = 64 << 10
	start := u.off - int64(n)
	for s := (start + stride - 1) / stride * stride; s < u.off; s += stride {
		var stamp [16]byte
		binary.LittleEndian.PutUint64(stamp[:], u.nonce)
		binary.LittleEndian.PutUint64(stamp[8:], uint64(s))
		copy(p[s-start:], stamp[:])
	}
	return n, nil
}

// Seek makes the body rewindable, as the SDK needs to hash a signed
// payload before sending it.
func (u *uniqueReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += u.off
	case io.SeekEnd:
		offset += u.size
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek to %d", offset)
	}
	u.off = offset
	return offset, nil
}

// benchBucket starts an s3mesh server with a bucket "bench" and returns it
// with an SDK client.
func benchBucket(b *testing.B, checksums bool) (*httptest.Server, *s3.Client) {
	b.Helper()
	srv := s3meshServer(b)
	c := benchSDK(srv.URL, checksums)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	return srv, c
}

// getAll GETs url and fails b unless exactly size bytes arrive.
func getAll(b *testing.B, url string, size int64) {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		b.Fatalf("GET %s: %d bytes (%v), want %d", url, n, err, size)
	}
}

// presignedPut sends body to a presigned PUT URL with a plain HTTP client.
func presignedPut(url string, body io.Reader, size int64) error {
	req, err := http.NewRequest(http.MethodPut, url, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("PUT: %s: %s", resp.Status, msg)
	}
	return nil
}

// floorServer stores PUT bodies in files, hashing them, and serves them with
// http.ServeContent: the least work an S3 server does per byte.
func floorServer(b *testing.B) *httptest.Server {
	dir := b.TempDir()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(r.URL.Path, "/"), "/", "_"))
		switch r.Method {
		case http.MethodPut:
			f, err := os.Create(name + ".tmp")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			h := md5.New()
			_, err = io.Copy(io.MultiWriter(f, h), r.Body)
			if err == nil {
				err = f.Sync()
			}
			f.Close()
			if err == nil {
				err = os.Rename(name+".tmp", name)
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
		case http.MethodGet:
			f, err := os.Open(name)
			if err != nil {
				http.Error(w, err.Error(), 404)
				return
			}
			defer f.Close()
			st, _ := f.Stat()
			http.ServeContent(w, r, "", st.ModTime(), f)
		}
	}))
}

// s3meshServer runs the full S3 handler over a gateway node on disk.
func s3meshServer(b *testing.B) *httptest.Server {
	node, err := gateway.New(gateway.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { node.Close() })
	h, err := s3api.New(s3api.Config{Credentials: s3api.Credentials{AccessKey: benchAK, SecretKey: benchSK}}, node)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv
}

const (
	benchAK = "BENCHACCESSKEY000001"
	benchSK = "bench-secret-key-0123456789abcdefghijklm"
)

func benchSDK(url string, checksums bool) *s3.Client {
	calc, valid := aws.RequestChecksumCalculationWhenRequired, aws.ResponseChecksumValidationWhenRequired
	if checksums {
		calc, valid = aws.RequestChecksumCalculationWhenSupported, aws.ResponseChecksumValidationWhenSupported
	}
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: benchAK, SecretAccessKey: benchSK}, nil
		}),
		RequestChecksumCalculation: calc,
		ResponseChecksumValidation: valid,
		HTTPClient:                 &http.Client{Timeout: 10 * time.Minute},
	})
}

var benchSizes = []struct {
	name string
	size int64
}{{"1MiB", 1 << 20}, {"256MiB", 256 << 20}}

func BenchmarkPutObject(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run("size="+sz.name+"/server=floor", func(b *testing.B) {
			srv := floorServer(b)
			defer srv.Close()
			var nonce uint64
			b.SetBytes(sz.size)
			b.ReportAllocs()
			for b.Loop() {
				nonce++
				req, _ := http.NewRequest(http.MethodPut, srv.URL+"/obj", &uniqueReader{size: sz.size, nonce: nonce})
				req.ContentLength = sz.size
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("floor PUT: %v %v", err, resp)
				}
				resp.Body.Close()
			}
		})
		b.Run("size="+sz.name+"/server=s3mesh-presigned", func(b *testing.B) {
			_, c := benchBucket(b, false)
			ctx := context.Background()
			pre, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
			if err != nil {
				b.Fatal(err)
			}
			var nonce uint64
			b.SetBytes(sz.size)
			b.ReportAllocs()
			for b.Loop() {
				nonce++
				req, _ := http.NewRequest(http.MethodPut, pre.URL, &uniqueReader{size: sz.size, nonce: nonce})
				req.ContentLength = sz.size
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("presigned PUT: %v %v", err, resp)
				}
				resp.Body.Close()
			}
		})
		for _, mode := range []struct {
			name      string
			checksums bool
		}{{"sdk-nochecksum", false}, {"sdk-crc32", true}} {
			b.Run("size="+sz.name+"/server=s3mesh-"+mode.name, func(b *testing.B) {
				srv := s3meshServer(b)
				c := benchSDK(srv.URL, mode.checksums)
				ctx := context.Background()
				if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
					b.Fatal(err)
				}
				var nonce uint64
				b.SetBytes(sz.size)
				b.ReportAllocs()
				for b.Loop() {
					nonce++
					_, err := c.PutObject(ctx, &s3.PutObjectInput{
						Bucket: aws.String("bench"), Key: aws.String("obj"),
						Body: &uniqueReader{size: sz.size, nonce: nonce}, ContentLength: aws.Int64(sz.size),
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkGetObject(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run("size="+sz.name+"/server=floor", func(b *testing.B) {
			srv := floorServer(b)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/obj", &uniqueReader{size: sz.size, nonce: 1})
			req.ContentLength = sz.size
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			b.SetBytes(sz.size)
			b.ReportAllocs()
			for b.Loop() {
				getAll(b, srv.URL+"/obj", sz.size)
			}
		})
		b.Run("size="+sz.name+"/server=s3mesh-presigned", func(b *testing.B) {
			_, c := benchBucket(b, false)
			ctx := context.Background()
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj"),
				Body: &uniqueReader{size: sz.size, nonce: 1}, ContentLength: aws.Int64(sz.size)}); err != nil {
				b.Fatal(err)
			}
			pre, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(sz.size)
			b.ReportAllocs()
			for b.Loop() {
				getAll(b, pre.URL, sz.size)
			}
		})
		b.Run("size="+sz.name+"/server=s3mesh-sdk", func(b *testing.B) {
			_, c := benchBucket(b, false)
			ctx := context.Background()
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj"),
				Body: &uniqueReader{size: sz.size, nonce: 1}, ContentLength: aws.Int64(sz.size)}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(sz.size)
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if n != sz.size {
					b.Fatalf("s3mesh GET %d bytes, want %d", n, sz.size)
				}
			}
		})
	}
}

// BenchmarkListObjectsV2 pages through 100,000 keys, 1,000 a page, over HTTP.
func BenchmarkListObjectsV2(b *testing.B) {
	srv := s3meshServer(b)
	c := benchSDK(srv.URL, false)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("list")}); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	if testing.Short() {
		b.Skip("100,000 PUTs")
	}
	sem := make(chan struct{}, 8)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem }()
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("list"),
				Key: aws.String(fmt.Sprintf("dir%02d/obj%06d", i%50, i)), Body: bytes.NewReader(nil)})
			if err != nil {
				errs <- err
			}
		}(i)
	}
	for i := 0; i < cap(sem); i++ {
		sem <- struct{}{}
	}
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var token *string
		total := 0
		for {
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(1000), ContinuationToken: token})
			if err != nil {
				b.Fatal(err)
			}
			total += len(out.Contents)
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			token = out.NextContinuationToken
		}
		if total != n {
			b.Fatalf("listed %d keys, want %d", total, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n/1000), "ns/page")
}
