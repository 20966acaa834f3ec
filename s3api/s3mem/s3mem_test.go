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

func TestMultipartClock(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 8, 0, 0, 0, time.FixedZone("Y", -7200))
	s := s3mem.NewWithConfig(s3mem.Config{Now: func() time.Time { return now }})
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	id, err := s.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "b", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	created := now
	now = now.Add(time.Minute)
	p, err := s.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "b", Key: "k", UploadID: id, PartNumber: 1, Body: strings.NewReader("x"), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !p.LastModified.Equal(now) || p.LastModified.Location() != time.UTC {
		t.Errorf("part LastModified = %v, want %v in UTC", p.LastModified, now)
	}
	lp, err := s.ListParts(ctx, s3api.ListPartsInput{Bucket: "b", Key: "k", UploadID: id, MaxParts: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !lp.Initiated.Equal(created) || lp.Initiated.Location() != time.UTC {
		t.Errorf("Initiated = %v, want %v in UTC", lp.Initiated, created)
	}
	now = now.Add(time.Minute)
	info, err := s.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: "b", Key: "k", UploadID: id, Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: p.ETag}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !info.LastModified.Equal(now) {
		t.Errorf("LastModified = %v, want %v", info.LastModified, now)
	}
	// PutObjectTagging keeps LastModified.
	now = now.Add(time.Minute)
	tagged, err := s.PutObjectTagging(ctx, "b", "k", map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !tagged.LastModified.Equal(info.LastModified) {
		t.Errorf("LastModified after PutObjectTagging = %v, want %v", tagged.LastModified, info.LastModified)
	}
}

// TestUploadIDMarkerOfEndedUpload checks that an upload-ID marker whose
// upload has ended still places the listing: IDs sort in creation order.
func TestUploadIDMarkerOfEndedUpload(t *testing.T) {
	ctx := t.Context()
	s := s3mem.New()
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		id, err := s.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "b", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.AbortMultipartUpload(ctx, "b", "k", ids[1]); err != nil {
		t.Fatal(err)
	}
	res, err := s.ListMultipartUploads(ctx, s3api.ListMultipartUploadsInput{Bucket: "b", KeyMarker: "k", UploadIDMarker: ids[1], MaxUploads: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 1 || res.Uploads[0].UploadID != ids[2] {
		t.Errorf("uploads after the ended upload %q = %+v, want only %q", ids[1], res.Uploads, ids[2])
	}
}

// TestFinalizeCallsBack checks that Finalize runs without the store's lock:
// it may call the store.
func TestFinalizeCallsBack(t *testing.T) {
	ctx := t.Context()
	s := s3mem.New()
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	id, err := s.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "b", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "b", Key: "k", UploadID: id, PartNumber: 1, Body: strings.NewReader("x"), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{
		Bucket: "b", Key: "k", UploadID: id, Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: p.ETag}},
		Finalize: func([]s3api.PartInfo, string, string) (map[string]string, error) {
			if _, err := s.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "other", Body: strings.NewReader("y"), Size: 1}); err != nil {
				return nil, err
			}
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeadObject(ctx, "b", "other"); err != nil {
		t.Errorf("object put from Finalize: %v", err)
	}
}

func TestEmptyCompletion(t *testing.T) {
	ctx := t.Context()
	s := s3mem.New()
	if err := s.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	id, err := s.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "b", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "k", UploadID: id})
	if !errors.Is(err, s3err.ErrMalformedXML) {
		t.Errorf("CompleteMultipartUpload with no parts = %v, want MalformedXML", err)
	}
	if _, err := s.ListParts(ctx, s3api.ListPartsInput{Bucket: "b", Key: "k", UploadID: id, MaxParts: 10}); err != nil {
		t.Errorf("upload after a rejected empty completion: %v", err)
	}
}
