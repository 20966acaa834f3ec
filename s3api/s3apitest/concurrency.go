package s3apitest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

func testConcurrency(t *testing.T, s s3api.ObjectStore) {
	t.Run("DistinctKeys", func(t *testing.T) { testConcurrentDistinct(t, s) })
	t.Run("SameKey", func(t *testing.T) { testConcurrentSame(t, s) })
}

// testConcurrentDistinct has workers put, read back, list and delete their
// own keys in one shared bucket.
func testConcurrentDistinct(t *testing.T, s s3api.ObjectStore) {
	const (
		workers = 8
		rounds  = 12
	)
	createBucket(t, s, "distinct")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			for i := range rounds {
				key := fmt.Sprintf("w%d/k%02d", w, i)
				data := randomBytes(uint64(w*1000+i), 1000+w*i*37)
				if _, err := s.PutObject(ctx, &s3api.PutObjectInput{
					Bucket: "distinct", Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
				}); err != nil {
					t.Errorf("PutObject(%q): %v", key, err)
					return
				}
				info, c, err := s.GetObject(ctx, "distinct", key)
				if err != nil {
					t.Errorf("GetObject(%q) right after its put: %v", key, err)
					return
				}
				got, err := readContent(ctx, c, 0, info.Size)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("GetObject(%q) right after its put: %d bytes, %v; want the %d bytes put", key, len(got), err, len(data))
				}
				res, err := s.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "distinct", Prefix: key, MaxKeys: 1})
				if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != key {
					t.Errorf("ListObjects(prefix %q) right after its put: %+v, %v", key, res, err)
				}
				if i%3 == 0 {
					if err := s.DeleteObject(ctx, "distinct", key); err != nil {
						t.Errorf("DeleteObject(%q): %v", key, err)
					}
					if _, err := s.HeadObject(ctx, "distinct", key); !s3errIs(err, s3err.ErrNoSuchKey) {
						t.Errorf("HeadObject(%q) right after its delete: %v, want NoSuchKey", key, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var want []string
	for w := range workers {
		for i := range rounds {
			if i%3 != 0 {
				want = append(want, fmt.Sprintf("w%d/k%02d", w, i))
			}
		}
	}
	var got []string
	in := s3api.ListObjectsInput{Bucket: "distinct", MaxKeys: 5}
	for page := 0; page <= len(want); page++ {
		res, err := s.ListObjects(t.Context(), in)
		if err != nil {
			t.Fatalf("ListObjects: %v", err)
		}
		got = append(got, objectKeys(res)...)
		if !res.IsTruncated {
			break
		}
		in.After = res.NextAfter
	}
	if fmt.Sprint(got) != fmt.Sprint(sortedCopy(want)) {
		t.Errorf("ListObjects after the workers: %q, want %q", got, sortedCopy(want))
	}
}

func s3errIs(err error, code s3err.Code) bool {
	e, ok := s3err.As(err)
	return ok && e.Code == code
}

// testConcurrentSame has writers overwrite one key with whole values while
// readers and deleters race them; every read sees one written value whole.
func testConcurrentSame(t *testing.T, s s3api.ObjectStore) {
	const (
		writers = 6
		puts    = 5
		readers = 4
		reads   = 15
	)
	createBucket(t, s, "same")
	values := map[string][]byte{} // ETag → value
	var order [][]byte
	for w := range writers {
		v := randomBytes(uint64(9000+w), 64*1024+w*4099)
		values[md5hex(v)] = v
		order = append(order, v)
	}
	// check verifies that a read saw a written value, whole, under its own
	// ETag.
	check := func(what string, info *s3api.ObjectInfo, got []byte) {
		want, ok := values[info.ETag]
		if !ok {
			t.Errorf("%s: ETag %q is none of the written values'", what, info.ETag)
			return
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content (%d bytes, md5 %s) is not the value of its ETag %q", what, len(got), md5hex(got), info.ETag)
		}
		if info.Size != int64(len(want)) {
			t.Errorf("%s: Size %d, want %d for ETag %q", what, info.Size, len(want), info.ETag)
		}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range puts {
				v := order[w]
				if _, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
					Bucket: "same", Key: "k", Body: bytes.NewReader(v), Size: int64(len(v)),
				}); err != nil {
					t.Errorf("writer %d put %d: %v", w, i, err)
					return
				}
				if w == 0 && i%2 == 1 {
					if err := s.DeleteObject(t.Context(), "same", "k"); err != nil {
						t.Errorf("writer %d delete: %v", w, err)
					}
				}
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			for i := range reads {
				info, c, err := s.GetObject(t.Context(), "same", "k")
				if s3errIs(err, s3err.ErrNoSuchKey) {
					continue
				}
				if err != nil {
					t.Errorf("reader %d get %d: %v", rd, i, err)
					return
				}
				got, err := readContent(t.Context(), c, 0, info.Size)
				if err != nil {
					t.Errorf("reader %d get %d: %v", rd, i, err)
					return
				}
				check(fmt.Sprintf("reader %d get %d", rd, i), info, got)
				if _, err := s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: "same", MaxKeys: 1000}); err != nil {
					t.Errorf("reader %d list: %v", rd, err)
				}
			}
		})
	}
	wg.Wait()
	// Every writer's last action was a put (the deleting writer deletes only
	// after odd puts, and its last put is even), so the key exists and holds
	// one of the values.
	info, got := get(t, s, "same", "k")
	check("final GetObject", info, got)
	res, err := s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: "same", MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Key != "k" || res.Objects[0].ETag != info.ETag {
		t.Errorf("final ListObjects = %+v, want the one key with ETag %q", res.Objects, info.ETag)
	}
}
