package gateway

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"s3mesh/gateway/namespace"
	"s3mesh/gateway/upkeep"
	"strings"

	"github.com/ipfs/go-cid"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// DefaultMaxParts is the page size ListParts uses, and DefaultMaxUploads the
// one ListMultipartUploads uses, when asked for zero or a negative number.
const (
	DefaultMaxParts   = 1000
	DefaultMaxUploads = 1000
)

var _ s3api.MultipartStore = (*Node)(nil)

// newUploadID returns a fresh upload ID: 16 hex digits of a time in Unix
// nanoseconds, at least now and strictly greater than that of the node's
// previous ID, so that IDs sort in creation order, then 16 random URL-safe
// characters (96 bits), so that they cannot be guessed.
func (n *Node) newUploadID(now int64) string {
	for {
		last := n.lastUploadTime.Load()
		t := max(now, last+1)
		if n.lastUploadTime.CompareAndSwap(last, t) {
			var r [12]byte
			_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
			return fmt.Sprintf("%016x%s", uint64(t), base64.RawURLEncoding.EncodeToString(r[:]))
		}
	}
}

// CreateMultipartUpload implements s3api.MultipartStore. The upload is
// recorded in the node's local UploadStore.
func (n *Node) CreateMultipartUpload(ctx context.Context, in *s3api.CreateMultipartUploadInput) (string, error) {
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		return "", fmt.Errorf("create multipart upload %s/%s: %w", in.Bucket, in.Key, err)
	}
	now := n.cfg.Clock().UTC()
	u := &namespace.UploadRecord{
		UploadRef:         namespace.UploadRef{Bucket: in.Bucket, Key: in.Key, ID: n.newUploadID(now.UnixNano())},
		Initiated:         now,
		Metadata:          cloneMetadata(in.Metadata),
		Tags:              cloneMap(in.Tags),
		ChecksumAlgorithm: in.ChecksumAlgorithm,
		ChecksumType:      in.ChecksumType,
	}
	if err := n.uploads.CreateUpload(ctx, u); err != nil {
		return "", fmt.Errorf("create multipart upload %s/%s: %w", in.Bucket, in.Key, err)
	}
	n.metrics.uploads.WithLabelValues("created").Inc()
	return u.ID, nil
}

func cloneMetadata(m s3api.ObjectMetadata) s3api.ObjectMetadata {
	if m.User != nil {
		// Empty values are kept, so an empty map is not nil'd either.
		u := make(map[string]string, len(m.User))
		for k, v := range m.User {
			u[k] = v
		}
		m.User = u
	}
	return m
}

// UploadPart implements s3api.MultipartStore. The body becomes a DAG of its
// own, imported as a PutObject body is (outside any lock), its blocks made
// durable, and only then is the part record committed, replacing any
// earlier part of that number. An upload ended meanwhile yields
// s3err.ErrNoSuchUpload and the part's blocks stay for garbage collection.
func (n *Node) UploadPart(ctx context.Context, in *s3api.UploadPartInput) (*s3api.PartInfo, error) {
	op := func(err error) error {
		return fmt.Errorf("upload part %d of %s/%s: %w", in.PartNumber, in.Bucket, in.Key, err)
	}
	ref := namespace.UploadRef{Bucket: in.Bucket, Key: in.Key, ID: in.UploadID}
	if _, err := n.uploads.GetUpload(ctx, ref); err != nil {
		return nil, op(err)
	}
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		return nil, op(err)
	}
	w := n.upkeep.BeginWrite() // GC spares what it notes
	defer w.End()
	res, _, err := n.importBody(ctx, w, in.Body, in.Size, in.ContentMD5, n.chunkerFor(ctx, in.Bucket))
	n.metrics.partBytes.Add(float64(res.Size))
	if err != nil {
		return nil, op(err)
	}
	// Checksums are read only now that the body reached EOF.
	p := &namespace.PartRecord{
		Number:    in.PartNumber,
		Root:      res.Root.String(),
		Size:      res.Size,
		DAGSize:   res.DAGSize,
		ETag:      hex.EncodeToString(res.MD5),
		Checksums: cloneMap(in.Checksums),
	}
	return n.commitPart(ctx, ref, p, op)
}

func (n *Node) commitPart(ctx context.Context, ref namespace.UploadRef, p *namespace.PartRecord, op func(error) error) (*s3api.PartInfo, error) {
	p.LastModified = n.cfg.Clock().UTC()
	if err := n.uploads.PutPart(ctx, ref, p); err != nil {
		return nil, op(err)
	}
	return partInfo(p), nil
}

func partInfo(p *namespace.PartRecord) *s3api.PartInfo {
	return &s3api.PartInfo{
		PartNumber:   p.Number,
		ETag:         p.ETag,
		Size:         p.Size,
		LastModified: p.LastModified,
		Checksums:    cloneMap(p.Checksums),
	}
}

// UploadPartCopy implements s3api.MultipartStore. A copy of the whole
// source makes the source's root the part's root: no block is read or
// written, except that the content of a source whose ETag is not its MD5
// (a multipart object) is read once to compute the part's. A copy of a
// range reads it through the node's own content reader and imports it as
// a new part DAG.
func (n *Node) UploadPartCopy(ctx context.Context, in *s3api.UploadPartCopyInput) (*s3api.PartInfo, error) {
	op := func(err error) error {
		return fmt.Errorf("upload part copy %d of %s/%s from %s/%s: %w",
			in.PartNumber, in.Bucket, in.Key, in.SourceBucket, in.SourceKey, err)
	}
	ref := namespace.UploadRef{Bucket: in.Bucket, Key: in.Key, ID: in.UploadID}
	if _, err := n.uploads.GetUpload(ctx, ref); err != nil {
		return nil, op(err)
	}
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		return nil, op(err)
	}
	w := n.upkeep.BeginWrite()
	defer w.End()
	src, err := n.copySource(ctx, in.SourceBucket, in.SourceKey, in.SourceVersionID)
	if err != nil {
		return nil, op(err)
	}
	if in.SourceETag != "" && strings.Trim(in.SourceETag, `"`) != src.ETag {
		return nil, op(fmt.Errorf("source etag %s, want %s: %w", src.ETag, in.SourceETag, s3err.ErrPreconditionFailed))
	}
	size, length := src.Size, in.Length
	if length < 0 {
		length = size - in.Offset
	}
	if in.Offset < 0 || in.Offset > size || length < 0 || length > size-in.Offset {
		return nil, op(fmt.Errorf("range %d+%d of %d bytes: %w", in.Offset, in.Length, size, s3err.ErrInvalidRange))
	}
	root, err := cid.Decode(src.Root)
	if err != nil {
		return nil, op(fmt.Errorf("source record root: %w", err))
	}
	w.Note(root) // GC spares the source's DAG until the part commits
	c := &content{n: n, root: root, size: size}
	p := &namespace.PartRecord{Number: in.PartNumber, Size: length}
	if in.Offset == 0 && length == size {
		// The whole source: share its DAG.
		nd, err := n.getNode(ctx, root)
		if err != nil {
			return nil, op(err)
		}
		if p.DAGSize, err = nd.Size(); err != nil {
			return nil, op(err)
		}
		p.Root = src.Root
		p.ETag = src.ETag
		if len(src.PartSizes) > 0 || strings.Contains(src.ETag, "-") {
			if p.ETag, err = contentMD5(ctx, c); err != nil {
				return nil, op(err)
			}
		}
		return n.commitPart(ctx, ref, p, op)
	}
	r, err := c.Open(ctx, in.Offset, length)
	if err != nil {
		return nil, op(err)
	}
	defer r.Close()
	res, _, err := n.importBody(ctx, w, r, length, nil, n.chunkerFor(ctx, in.Bucket))
	n.metrics.partBytes.Add(float64(res.Size))
	if err != nil {
		return nil, op(err)
	}
	p.Root, p.DAGSize, p.ETag = res.Root.String(), res.DAGSize, hex.EncodeToString(res.MD5)
	return n.commitPart(ctx, ref, p, op)
}

// contentMD5 reads c whole and returns its hex MD5.
func contentMD5(ctx context.Context, c *content) (string, error) {
	r, err := c.Open(ctx, 0, c.size)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CompleteMultipartUpload implements s3api.MultipartStore. It validates
// in.Parts against the stored parts in the contract's order (InvalidPart,
// InvalidPartOrder, EntityTooSmall, then in.Conditions against the current
// object), calls in.Finalize, and builds the object's root over the part
// roots (see assembleParts): no part content is read or copied, only the
// new root and intermediate nodes are written and made durable. Then,
// under the key's lock, it checks that the upload still exists and
// in.Conditions again and publishes the object record through the
// namespace; only then does it delete the upload and its parts. A crash
// leaves the upload, or the object, or both (the janitor ends the upload),
// never a half object. The upload's end remembers what the completion
// answered for namespace.CompletedRetention: a retry with the same part
// list (an SDK retries when an answer was lost) answers the same. An
// empty part list is
// s3err.ErrMalformedXML. A part re-sent while Finalize runs does not
// change the object: the listed ETags name the parts validated.
func (n *Node) CompleteMultipartUpload(ctx context.Context, in *s3api.CompleteMultipartUploadInput) (*s3api.ObjectInfo, error) {
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		return nil, fmt.Errorf("complete multipart upload %s/%s: %w", in.Bucket, in.Key, err)
	}
	w := n.upkeep.BeginWrite() // GC spares the new root's DAG
	defer w.End()
	info, err := n.completeMultipartUpload(ctx, w, in)
	if err != nil {
		return nil, fmt.Errorf("complete multipart upload %s/%s: %w", in.Bucket, in.Key, err)
	}
	n.metrics.uploads.WithLabelValues("completed").Inc()
	return info, nil
}

func (n *Node) completeMultipartUpload(ctx context.Context, w *upkeep.Write, in *s3api.CompleteMultipartUploadInput) (*s3api.ObjectInfo, error) {
	ref := namespace.UploadRef{Bucket: in.Bucket, Key: in.Key, ID: in.UploadID}
	u, stored, _, err := n.uploads.Parts(ctx, ref, 0, 0)
	if errors.Is(err, s3err.ErrNoSuchUpload) {
		// A retry of a completion whose answer was lost answers the same.
		if done, derr := n.idx.CompletedUpload(ctx, ref); derr == nil && done.SameParts(listedParts(in.Parts)) {
			return &s3api.ObjectInfo{Bucket: in.Bucket, Key: in.Key, Size: done.Size, ETag: done.ETag,
				CID: done.Root, Checksums: cloneMap(done.Checksums), LastModified: done.Completed}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if len(in.Parts) == 0 {
		return nil, s3err.ErrMalformedXML
	}
	parts, err := validateParts(in.Parts, stored)
	if err != nil {
		return nil, err
	}
	check := putCheck(in.Conditions)
	if check != nil {
		cur, err := n.ns.GetObject(ctx, in.Bucket, in.Key)
		switch {
		case errors.Is(err, s3err.ErrNoSuchKey):
			cur = nil
		case err != nil:
			return nil, err
		}
		if err := check(cur); err != nil {
			return nil, err
		}
	}

	var checksums map[string]string
	if in.Finalize != nil {
		infos := make([]s3api.PartInfo, len(parts))
		for i := range parts {
			infos[i] = *partInfo(&parts[i])
		}
		sums, err := in.Finalize(infos, u.ChecksumAlgorithm, u.ChecksumType)
		if err != nil {
			return nil, fmt.Errorf("finalize: %w", err)
		}
		checksums = cloneMap(sums)
	}

	h := md5.New()
	sizes := make([]int64, len(parts))
	var total int64
	for i, p := range parts {
		sum, err := hex.DecodeString(p.ETag)
		if err != nil {
			return nil, fmt.Errorf("part %d: etag %q: %w", p.Number, p.ETag, err)
		}
		h.Write(sum)
		sizes[i] = p.Size
		total += p.Size
	}
	root, err := n.assembleParts(ctx, w, parts)
	if err != nil {
		return nil, err
	}
	m := u.Metadata
	rec := &ObjectRecord{
		Bucket:             in.Bucket,
		Key:                in.Key,
		Root:               root.String(),
		Size:               total,
		ETag:               fmt.Sprintf("%x-%d", h.Sum(nil), len(parts)),
		LastModified:       n.cfg.Clock().UTC(),
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
		Expires:            m.Expires,
		User:               m.User,
		Checksums:          checksums,
		Tags:               u.Tags,
		PartSizes:          sizes,
	}
	// Publish the object, then end the upload: a crash in between leaves
	// the object and an upload for the janitor, never a half object. The
	// upload must still exist when the object is committed (checked under
	// the key's lock), so a completion racing an abort or another
	// completion of this upload on this node publishes nothing after it.
	if err := n.ns.PutObject(ctx, rec, func(cur *ObjectRecord) error {
		if _, err := n.uploads.GetUpload(ctx, ref); err != nil {
			return err
		}
		if check != nil {
			return check(cur)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	done := &namespace.CompletedUpload{UploadRef: ref, Parts: listedParts(in.Parts), Root: rec.Root, Size: rec.Size,
		ETag: rec.ETag, Checksums: rec.Checksums, Completed: rec.LastModified}
	if err := n.idx.EndCompletedUpload(ctx, done); err != nil && !errors.Is(err, s3err.ErrNoSuchUpload) && !errors.Is(err, s3err.ErrNoSuchBucket) {
		// The object is committed; the janitor ends the upload later.
		n.cfg.Logger.Warn("multipart upload completed but its record was not removed", "bucket", in.Bucket, "upload_id", in.UploadID, "err", err)
	}
	info := rec.Info()
	info.Metadata = cloneMetadata(info.Metadata)
	info.Tags = cloneMap(info.Tags)
	info.Checksums = cloneMap(info.Checksums)
	info.PartSizes = append([]int64(nil), sizes...)
	return info, nil
}

// listedParts returns a completion's part list as "number:etag", the form
// a completed upload remembers it in.
func listedParts(list []s3api.CompletedPart) []string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = fmt.Sprintf("%d:%s", p.PartNumber, strings.Trim(p.ETag, `"`))
	}
	return out
}

// validateParts checks the listed parts against the stored ones (sorted by
// number) in the contract's order and returns the stored parts listed.
func validateParts(list []s3api.CompletedPart, stored []namespace.PartRecord) ([]namespace.PartRecord, error) {
	byNumber := make(map[int]*namespace.PartRecord, len(stored))
	for i := range stored {
		byNumber[stored[i].Number] = &stored[i]
	}
	parts := make([]namespace.PartRecord, len(list))
	for i, cp := range list {
		p, ok := byNumber[cp.PartNumber]
		if !ok {
			return nil, fmt.Errorf("part %d not uploaded: %w", cp.PartNumber, s3err.ErrInvalidPart)
		}
		if strings.Trim(cp.ETag, `"`) != p.ETag {
			return nil, fmt.Errorf("part %d has ETag %s, not %s: %w", cp.PartNumber, p.ETag, cp.ETag, s3err.ErrInvalidPart)
		}
		parts[i] = *p
	}
	for i := 1; i < len(list); i++ {
		if list[i].PartNumber <= list[i-1].PartNumber {
			return nil, fmt.Errorf("part %d listed after part %d: %w", list[i].PartNumber, list[i-1].PartNumber, s3err.ErrInvalidPartOrder)
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if p.Size < s3api.MinPartSize {
			return nil, fmt.Errorf("part %d has %d bytes: %w", p.Number, p.Size, s3err.ErrEntityTooSmall)
		}
	}
	return parts, nil
}

// AbortMultipartUpload implements s3api.MultipartStore. The parts' blocks
// are left to garbage collection.
func (n *Node) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := n.uploads.AbortUpload(ctx, namespace.UploadRef{Bucket: bucket, Key: key, ID: uploadID}); err != nil {
		return fmt.Errorf("abort multipart upload %s/%s: %w", bucket, key, err)
	}
	n.metrics.uploads.WithLabelValues("aborted").Inc()
	return nil
}

// ListParts implements s3api.MultipartStore with one range scan from the
// marker. NextPartNumberMarker is set when IsTruncated.
func (n *Node) ListParts(ctx context.Context, in s3api.ListPartsInput) (*s3api.ListPartsResult, error) {
	maxParts := in.MaxParts
	if maxParts <= 0 {
		maxParts = DefaultMaxParts
	}
	u, parts, more, err := n.uploads.Parts(ctx, namespace.UploadRef{Bucket: in.Bucket, Key: in.Key, ID: in.UploadID}, in.PartNumberMarker, maxParts)
	if err != nil {
		return nil, fmt.Errorf("list parts %s/%s: %w", in.Bucket, in.Key, err)
	}
	res := &s3api.ListPartsResult{
		Initiated:         u.Initiated,
		ChecksumAlgorithm: u.ChecksumAlgorithm,
		ChecksumType:      u.ChecksumType,
		IsTruncated:       more,
	}
	for i := range parts {
		res.Parts = append(res.Parts, *partInfo(&parts[i]))
	}
	if more {
		res.NextPartNumberMarker = parts[len(parts)-1].Number
	}
	return res, nil
}

// ListMultipartUploads implements s3api.MultipartStore with range scans
// (see namespace.ListUploads).
func (n *Node) ListMultipartUploads(ctx context.Context, in s3api.ListMultipartUploadsInput) (*s3api.ListMultipartUploadsResult, error) {
	if in.MaxUploads <= 0 {
		in.MaxUploads = DefaultMaxUploads
	}
	return namespace.ListUploads(ctx, n.uploads, in)
}
