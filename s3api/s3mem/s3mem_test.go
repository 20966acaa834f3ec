package s3mem_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3apitest"
	"s3mesh/s3api/s3err"
	"s3mesh/s3api/s3mem"
)

func TestConformance(t *testing.T) {
	s3apitest.TestObjectStore(t, func(t *testing.T) s3api.ObjectStore { return s3mem.New() })
}

func TestClock(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2024, 2, 29, 12, 0, 0, 0, time.FixedZone("X", 3600))
	s := s3mem.NewWithConfig(s3mem.Config{Now: func() time.Time { return now }})
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	b, err := s.HeadBucket(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if !b.CreationDate.Equal(now) || b.CreationDate.Location() != time.UTC {
		t.Errorf("CreationDate = %v, want %v in UTC", b.CreationDate, now)
	}
	now = now.Add(time.Hour)
	info, err := s.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: strings.NewReader("x"), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !info.LastModified.Equal(now) {
		t.Errorf("LastModified = %v, want %v", info.LastModified, now)
	}
}

func TestContentOpenBounds(t *testing.T) {
	ctx := t.Context()
	s := s3mem.New()
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: strings.NewReader("hello"), Size: 5}); err != nil {
		t.Fatal(err)
	}
	_, c, err := s.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ off, length int64 }{{-1, 1}, {0, 6}, {5, 1}, {6, 0}, {2, -1}} {
		if rc, err := c.Open(ctx, r.off, r.length); err == nil {
			rc.Close()
			t.Errorf("Open(%d, %d) succeeded on 5 bytes", r.off, r.length)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	rc, err := c.Open(cctx, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel = %v, want context.Canceled", err)
	}
}

func TestCanceledPut(t *testing.T) {
	s := s3mem.New()
	if err := s.CreateBucket(t.Context(), s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	body := &cancelingReader{r: bytes.NewReader(make([]byte, 1<<20)), cancel: cancel}
	_, err := s.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: body, Size: 1 << 20})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PutObject with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.HeadObject(t.Context(), "b", "k"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Errorf("HeadObject after a canceled put = %v, want NoSuchKey", err)
	}
}

// cancelingReader cancels its context after the first read.
type cancelingReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 100)])
	c.cancel()
	return n, err
}
