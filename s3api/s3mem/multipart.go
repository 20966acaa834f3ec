package s3mem

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// DefaultMaxParts is the page size ListParts uses, and DefaultMaxUploads the
// one ListMultipartUploads uses, when asked for zero or a negative number.
const (
	DefaultMaxParts   = 1000
	DefaultMaxUploads = 1000
)

// upload is a multipart upload in progress. Its fields other than parts are
// set at creation and never change; parts is guarded by Store.mu.
type upload struct {
	id        string
	key       string
	seq       uint64 // creation order, store-wide
	initiated time.Time
	metadata  s3api.ObjectMetadata
	tags      map[string]string
	algorithm string
	ctype     string
	parts     map[int]*part
}

// part is one stored part; it is replaced, never mutated, when re-sent.
type part struct {
	info s3api.PartInfo
	md5  [md5.Size]byte
	data content
}

// newUploadID returns an upload ID for the upload numbered seq: 16 hex
// digits of seq, so that IDs sort in creation order, then 16 random
// URL-safe characters.
func newUploadID(seq uint64) string {
	var r [12]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%016x%s", seq, base64.RawURLEncoding.EncodeToString(r[:]))
}

// CreateMultipartUpload starts an upload of in.Key and returns its ID. It
// returns s3err.ErrNoSuchBucket.
func (s *Store) CreateMultipartUpload(ctx context.Context, in *s3api.CreateMultipartUploadInput) (string, error) {
	op := func(err error) error { return fmt.Errorf("create multipart upload %s/%s: %w", in.Bucket, in.Key, err) }
	if err := ctx.Err(); err != nil {
		return "", op(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[in.Bucket]
	if !ok {
		return "", op(s3err.ErrNoSuchBucket)
	}
	s.uploadSeq++
	u := &upload{
		id:        newUploadID(s.uploadSeq),
		key:       in.Key,
		seq:       s.uploadSeq,
		initiated: s.now().UTC(),
		metadata:  copyMetadata(in.Metadata),
		tags:      copyTags(in.Tags),
		algorithm: in.ChecksumAlgorithm,
		ctype:     in.ChecksumType,
		parts:     make(map[int]*part),
	}
	b.uploads[u.id] = u
	return u.id, nil
}

// findUpload returns the upload of key with ID id; the caller holds s.mu.
func (s *Store) findUpload(bucketName, key, id string) (*bucket, *upload, error) {
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, nil, s3err.ErrNoSuchBucket
	}
	u, ok := b.uploads[id]
	if !ok || u.key != key {
		return nil, nil, s3err.ErrNoSuchUpload
	}
	return b, u, nil
}

// UploadPart reads in.Body to its end and stores it as part in.PartNumber,
// replacing an earlier part of that number. The body is read without
// holding the store's lock; the upload is looked up again to commit, so an
// upload aborted or completed meanwhile yields s3err.ErrNoSuchUpload.
func (s *Store) UploadPart(ctx context.Context, in *s3api.UploadPartInput) (*s3api.PartInfo, error) {
	op := func(err error) error {
		return fmt.Errorf("upload part %d of %s/%s: %w", in.PartNumber, in.Bucket, in.Key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	s.mu.RLock()
	_, _, err := s.findUpload(in.Bucket, in.Key, in.UploadID)
	s.mu.RUnlock()
	if err != nil {
		return nil, op(err)
	}

	data, err := readBody(ctx, in.Body, in.Size)
	if err != nil {
		return nil, op(err)
	}
	sum := md5.Sum(data)
	if in.ContentMD5 != nil && !bytes.Equal(in.ContentMD5, sum[:]) {
		return nil, op(s3err.ErrBadDigest)
	}
	// Checksums are read only after the body reached EOF.
	p := &part{
		info: s3api.PartInfo{
			PartNumber: in.PartNumber,
			ETag:       hex.EncodeToString(sum[:]),
			Size:       int64(len(data)),
			Checksums:  maps.Clone(in.Checksums),
		},
		md5:  sum,
		data: newContent(data),
	}
	return s.commitPart(in.Bucket, in.Key, in.UploadID, p, op)
}

// commitPart stores p in its upload, which must still exist.
func (s *Store) commitPart(bucketName, key, id string, p *part, op func(error) error) (*s3api.PartInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, u, err := s.findUpload(bucketName, key, id)
	if err != nil {
		return nil, op(err)
	}
	p.info.LastModified = s.now().UTC()
	u.parts[p.info.PartNumber] = p
	return copyPartInfo(&p.info), nil
}

// UploadPartCopy stores a range of the current version of the source
// object as a part. The part shares the source's bytes.
func (s *Store) UploadPartCopy(ctx context.Context, in *s3api.UploadPartCopyInput) (*s3api.PartInfo, error) {
	op := func(err error) error {
		return fmt.Errorf("upload part copy %d of %s/%s from %s/%s: %w",
			in.PartNumber, in.Bucket, in.Key, in.SourceBucket, in.SourceKey, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	s.mu.RLock()
	_, _, err := s.findUpload(in.Bucket, in.Key, in.UploadID)
	var src *object
	if err == nil {
		src, err = s.source(in.SourceBucket, in.SourceKey, in.SourceVersionID, in.SourceETag)
	}
	s.mu.RUnlock()
	if err != nil {
		return nil, op(err)
	}
	size := src.info.Size
	length := in.Length
	if length < 0 {
		length = size - in.Offset
	}
	if in.Offset < 0 || in.Offset > size || length < 0 || length > size-in.Offset {
		return nil, op(s3err.ErrInvalidRange)
	}
	data := src.data.slice(in.Offset, length)
	sum := data.md5()
	p := &part{
		info: s3api.PartInfo{
			PartNumber: in.PartNumber,
			ETag:       hex.EncodeToString(sum[:]),
			Size:       length,
		},
		md5:  sum,
		data: data,
	}
	return s.commitPart(in.Bucket, in.Key, in.UploadID, p, op)
}

// source returns the current version of a copy source, checked against
// etag when it is set; the caller holds s.mu.
func (s *Store) source(bucketName, key, versionID, etag string) (*object, error) {
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, s3err.ErrNoSuchBucket
	}
	obj, ok := b.objects[key]
	if versionID != "" {
		i := slices.IndexFunc(b.versions[key], func(o *object) bool { return o.vid == versionID })
		if i < 0 {
			return nil, s3err.ErrNoSuchVersion
		}
		obj, ok = b.versions[key][i], true
		if obj.info.DeleteMarker {
			return nil, s3err.New(s3err.ErrInvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
		}
	}
	if !ok {
		return nil, s3err.ErrNoSuchKey
	}
	if etag != "" && strings.Trim(etag, `"`) != obj.info.ETag {
		return nil, s3err.ErrPreconditionFailed
	}
	return obj, nil
}

// CompleteMultipartUpload validates in.Parts against the stored parts,
// calls in.Finalize outside the store's lock, and publishes the object made
// of the validated parts' bytes, ending the upload. A part re-sent while
// Finalize runs does not change the object: the listed ETags name the parts
// that were validated. An empty part list is s3err.ErrMalformedXML, as AWS
// answers it.
func (s *Store) CompleteMultipartUpload(ctx context.Context, in *s3api.CompleteMultipartUploadInput) (*s3api.ObjectInfo, error) {
	op := func(err error) error {
		return fmt.Errorf("complete multipart upload %s/%s: %w", in.Bucket, in.Key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	s.mu.RLock()
	u, parts, err := s.validateCompletion(in)
	s.mu.RUnlock()
	if err != nil {
		return nil, op(err)
	}

	var checksums map[string]string
	if in.Finalize != nil {
		infos := make([]s3api.PartInfo, len(parts))
		for i, p := range parts {
			infos[i] = *copyPartInfo(&p.info)
		}
		sums, err := in.Finalize(infos, u.algorithm, u.ctype)
		if err != nil {
			return nil, op(fmt.Errorf("finalize: %w", err))
		}
		checksums = maps.Clone(sums)
	}

	h := md5.New()
	datas := make([]content, len(parts))
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		h.Write(p.md5[:])
		datas[i] = p.data
		sizes[i] = p.info.Size
	}
	data := concat(datas...)
	obj := &object{
		info: s3api.ObjectInfo{
			Bucket:    in.Bucket,
			Key:       in.Key,
			Size:      data.size,
			ETag:      fmt.Sprintf("%x-%d", h.Sum(nil), len(parts)),
			Metadata:  copyMetadata(u.metadata),
			Checksums: checksums,
			Tags:      copyTags(u.tags),
			PartSizes: sizes,
		},
		data: data,
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b, cur, err := s.findUpload(in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, op(err)
	}
	if cur != u {
		return nil, op(s3err.ErrNoSuchUpload)
	}
	if err := checkConditions(b, in.Key, in.Conditions); err != nil {
		return nil, op(err)
	}
	obj.info.LastModified = s.now().UTC()
	b.store(obj)
	delete(b.uploads, u.id)
	return copyInfo(&obj.info), nil
}

// validateCompletion checks in against the upload's stored parts in the
// contract's order (InvalidPart, then InvalidPartOrder, then
// EntityTooSmall, then in.Conditions) and returns the listed parts; the
// caller holds s.mu.
func (s *Store) validateCompletion(in *s3api.CompleteMultipartUploadInput) (*upload, []*part, error) {
	b, u, err := s.findUpload(in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, nil, err
	}
	if len(in.Parts) == 0 {
		return nil, nil, s3err.ErrMalformedXML
	}
	parts := make([]*part, len(in.Parts))
	for i, cp := range in.Parts {
		p, ok := u.parts[cp.PartNumber]
		if !ok {
			return nil, nil, fmt.Errorf("part %d not uploaded: %w", cp.PartNumber, s3err.ErrInvalidPart)
		}
		if strings.Trim(cp.ETag, `"`) != p.info.ETag {
			return nil, nil, fmt.Errorf("part %d has ETag %s, not %s: %w", cp.PartNumber, p.info.ETag, cp.ETag, s3err.ErrInvalidPart)
		}
		parts[i] = p
	}
	for i := 1; i < len(in.Parts); i++ {
		if in.Parts[i].PartNumber <= in.Parts[i-1].PartNumber {
			return nil, nil, fmt.Errorf("part %d listed after part %d: %w", in.Parts[i].PartNumber, in.Parts[i-1].PartNumber, s3err.ErrInvalidPartOrder)
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if p.info.Size < s3api.MinPartSize {
			return nil, nil, fmt.Errorf("part %d has %d bytes: %w", p.info.PartNumber, p.info.Size, s3err.ErrEntityTooSmall)
		}
	}
	if err := checkConditions(b, in.Key, in.Conditions); err != nil {
		return nil, nil, err
	}
	return u, parts, nil
}

// AbortMultipartUpload ends an upload and discards its parts. It returns
// s3err.ErrNoSuchBucket or s3err.ErrNoSuchUpload.
func (s *Store) AbortMultipartUpload(ctx context.Context, bucketName, key, uploadID string) error {
	op := func(err error) error { return fmt.Errorf("abort multipart upload %s/%s: %w", bucketName, key, err) }
	if err := ctx.Err(); err != nil {
		return op(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, u, err := s.findUpload(bucketName, key, uploadID)
	if err != nil {
		return op(err)
	}
	delete(b.uploads, u.id)
	return nil
}

// ListParts lists an upload's parts in part-number order after
// in.PartNumberMarker. NextPartNumberMarker is set when IsTruncated.
func (s *Store) ListParts(ctx context.Context, in s3api.ListPartsInput) (*s3api.ListPartsResult, error) {
	op := func(err error) error { return fmt.Errorf("list parts %s/%s: %w", in.Bucket, in.Key, err) }
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	maxParts := in.MaxParts
	if maxParts <= 0 {
		maxParts = DefaultMaxParts
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, u, err := s.findUpload(in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, op(err)
	}
	numbers := slices.Sorted(maps.Keys(u.parts))
	i, _ := slices.BinarySearch(numbers, in.PartNumberMarker+1)
	res := &s3api.ListPartsResult{
		Initiated:         u.initiated,
		ChecksumAlgorithm: u.algorithm,
		ChecksumType:      u.ctype,
	}
	for ; i < len(numbers); i++ {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			res.NextPartNumberMarker = numbers[i-1]
			break
		}
		res.Parts = append(res.Parts, *copyPartInfo(&u.parts[numbers[i]].info))
	}
	return res, nil
}

// ListMultipartUploads lists the bucket's uploads by key, then creation
// order. Without in.KeyMarker, in.UploadIDMarker is ignored; with a
// KeyMarker and no UploadIDMarker, the listing starts after every upload of
// KeyMarker; with both, it starts after that upload. With a Delimiter, keys
// roll up into common prefixes as in ListObjects, each counting once towards
// MaxUploads; a KeyMarker inside a rolled-up prefix skips the whole prefix.
// NextKeyMarker and NextUploadIDMarker are set when IsTruncated: the last
// upload returned, or the last common prefix and "".
func (s *Store) ListMultipartUploads(ctx context.Context, in s3api.ListMultipartUploadsInput) (*s3api.ListMultipartUploadsResult, error) {
	op := func(err error) error { return fmt.Errorf("list multipart uploads %s: %w", in.Bucket, err) }
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	maxUploads := in.MaxUploads
	if maxUploads <= 0 {
		maxUploads = DefaultMaxUploads
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[in.Bucket]
	if !ok {
		return nil, op(s3err.ErrNoSuchBucket)
	}
	var ups []*upload
	for _, u := range b.uploads {
		if strings.HasPrefix(u.key, in.Prefix) && after(u, in) {
			ups = append(ups, u)
		}
	}
	slices.SortFunc(ups, func(a, b *upload) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})

	res := &s3api.ListMultipartUploadsResult{}
	count := 0
	for i := 0; i < len(ups); {
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		u := ups[i]
		if p, ok := rolledUp(u.key, in.Prefix, in.Delimiter); ok {
			res.CommonPrefixes = append(res.CommonPrefixes, p)
			res.NextKeyMarker, res.NextUploadIDMarker = p, ""
			for i < len(ups) && strings.HasPrefix(ups[i].key, p) {
				i++
			}
		} else {
			res.Uploads = append(res.Uploads, s3api.UploadInfo{Key: u.key, UploadID: u.id, Initiated: u.initiated})
			res.NextKeyMarker, res.NextUploadIDMarker = u.key, u.id
			i++
		}
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}

// after reports whether u comes after the markers of in.
func after(u *upload, in s3api.ListMultipartUploadsInput) bool {
	if in.KeyMarker == "" {
		return true
	}
	if p, ok := rolledUp(in.KeyMarker, in.Prefix, in.Delimiter); ok && strings.HasPrefix(u.key, p) {
		return false
	}
	if u.key != in.KeyMarker || in.UploadIDMarker == "" {
		return u.key > in.KeyMarker
	}
	// Upload IDs sort in creation order (see newUploadID), so a marker
	// whose upload has since ended still places the listing correctly.
	return u.id > in.UploadIDMarker
}

func copyPartInfo(p *s3api.PartInfo) *s3api.PartInfo {
	c := *p
	c.Checksums = maps.Clone(p.Checksums)
	return &c
}
