package namespace

import (
	"context"
	"fmt"
	"strings"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// List lists one page of ns with range scans, as
// s3api.ObjectStore.ListObjects says: it seeks to the first candidate key
// and, for each rolled-up common prefix, seeks past every key under it. A
// page costs O(MaxKeys) seeks and steps whatever the bucket's size.
func List(ctx context.Context, ns Namespace, in s3api.ListObjectsInput) (*s3api.ListObjectsResult, error) {
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
		res.Objects = append(res.Objects, *rec.Info())
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

// ListUploads lists one page of the multipart uploads in us, as
// s3api.MultipartStore.ListMultipartUploads says, with range scans:
// it seeks to the first candidate upload and, for each rolled-up common
// prefix, seeks past every key under it. Without in.KeyMarker,
// in.UploadIDMarker is ignored; with a KeyMarker and no UploadIDMarker,
// the listing starts after every upload of KeyMarker; with both, after the
// uploads of KeyMarker whose IDs sort up to UploadIDMarker (IDs sort in
// creation order, so the marker of an upload that has since ended still
// places the listing). A KeyMarker inside a rolled-up prefix skips the
// whole prefix. NextKeyMarker and NextUploadIDMarker are set when
// IsTruncated: the last upload returned, or the last common prefix and "".
func ListUploads(ctx context.Context, us UploadStore, in s3api.ListMultipartUploadsInput) (*s3api.ListMultipartUploadsResult, error) {
	op := func(err error) error { return fmt.Errorf("list multipart uploads %s: %w", in.Bucket, err) }
	maxUploads := in.MaxUploads
	if maxUploads <= 0 {
		return nil, op(fmt.Errorf("max uploads %d: %w", maxUploads, s3err.ErrInvalidArgument))
	}
	it, err := us.Uploads(ctx, in.Bucket)
	if err != nil {
		return nil, op(err)
	}
	defer it.Close()
	res := &s3api.ListMultipartUploadsResult{}
	startKey, startID, ok := uploadListStart(in)
	if !ok {
		return res, nil
	}
	it.Seek(startKey, startID)
	count := 0
	for it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, op(err)
		}
		key := it.Key()
		if !strings.HasPrefix(key, in.Prefix) {
			break // keys are ordered and start >= Prefix: none further match
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		count++
		if cp, ok := commonPrefix(key, in.Prefix, in.Delimiter); ok {
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
			end, ok := prefixEnd(cp)
			if !ok {
				break
			}
			it.Seek(end, "")
			continue
		}
		u, err := it.Upload()
		if err != nil {
			return nil, op(err)
		}
		res.Uploads = append(res.Uploads, s3api.UploadInfo{Key: key, UploadID: u.ID, Initiated: u.Initiated})
		res.NextKeyMarker, res.NextUploadIDMarker = key, u.ID
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}

// uploadListStart returns the position (key, ID) a listing starts at: the
// first upload after the markers, and not before in.Prefix. ok is false
// when no upload can follow.
func uploadListStart(in s3api.ListMultipartUploadsInput) (key, id string, ok bool) {
	if in.KeyMarker == "" {
		return in.Prefix, "", true
	}
	// The smallest key greater than KeyMarker, or, with an ID marker, the
	// smallest ID of KeyMarker greater than it.
	key, id = in.KeyMarker+"\x00", ""
	if in.UploadIDMarker != "" {
		key, id = in.KeyMarker, in.UploadIDMarker+"\x00"
	}
	if cp, ok := commonPrefix(in.KeyMarker, in.Prefix, in.Delimiter); ok {
		end, ok := prefixEnd(cp)
		if !ok {
			return "", "", false
		}
		key, id = end, ""
	}
	if key < in.Prefix {
		return in.Prefix, "", true
	}
	return key, id, true
}
