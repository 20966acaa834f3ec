package gateway

import (
	"context"
	"fmt"
	"strings"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// ListObjects implements s3api.ObjectStore with range scans: it seeks to
// the first candidate key and, for each rolled-up common prefix, seeks past
// every key under it. A page costs O(MaxKeys) seeks and steps whatever the
// bucket's size.
func (n *Node) ListObjects(ctx context.Context, in s3api.ListObjectsInput) (*s3api.ListObjectsResult, error) {
	return listObjects(ctx, n.ns, in)
}

// listObjects lists one page from ns; see s3api.ObjectStore.ListObjects.
func listObjects(ctx context.Context, ns Namespace, in s3api.ListObjectsInput) (*s3api.ListObjectsResult, error) {
	if in.MaxKeys < 1 {
		return nil, fmt.Errorf("list objects %s: max keys %d: %w", in.Bucket, in.MaxKeys, s3err.ErrInvalidArgument)
	}
	start, ok := listStart(in)
	if !ok {
		// Nothing can follow After.
		if _, err := ns.GetBucket(ctx, in.Bucket); err != nil {
			return nil, err
		}
		return &s3api.ListObjectsResult{}, nil
	}
	it, err := ns.Objects(ctx, in.Bucket, start)
	if err != nil {
		return nil, err
	}
	defer it.Close()

	res := &s3api.ListObjectsResult{}
	count := 0
	last := ""
	for it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list objects %s: %w", in.Bucket, err)
		}
		key := it.Key()
		if !strings.HasPrefix(key, in.Prefix) {
			break // keys are ordered and start >= Prefix: none further match
		}
		if count == in.MaxKeys {
			res.IsTruncated = true
			res.NextAfter = last
			break
		}
		if cp, ok := commonPrefix(key, in.Prefix, in.Delimiter); ok {
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			count++
			last = cp
			next, ok := prefixEnd(cp)
			if !ok {
				break
			}
			it.Seek(next)
			continue
		}
		rec, err := it.Record()
		if err != nil {
			return nil, fmt.Errorf("list objects %s: %w", in.Bucket, err)
		}
		res.Objects = append(res.Objects, *objectInfo(rec))
		count++
		last = key
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// listStart returns the smallest key a page can hold: the first key after
// In.After (past the whole common prefix After lies in, when it lies in
// one) and not before In.Prefix. ok is false when no key can follow.
func listStart(in s3api.ListObjectsInput) (string, bool) {
	start := in.Prefix
	if in.After == "" {
		return start, true
	}
	after := in.After + "\x00" // the smallest key greater than After
	if cp, ok := commonPrefix(in.After, in.Prefix, in.Delimiter); ok {
		end, ok := prefixEnd(cp)
		if !ok {
			return "", false
		}
		after = end
	}
	if after > start {
		start = after
	}
	return start, true
}

// commonPrefix returns the prefix key rolls up into: key up to and
// including the first delimiter after prefix.
func commonPrefix(key, prefix, delim string) (string, bool) {
	if delim == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delim)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delim)], true
}

// prefixEnd returns the smallest string greater than every string that
// starts with p; ok is false when there is none (p is all 0xff bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
