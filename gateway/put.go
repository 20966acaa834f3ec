package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/namespace"
	"s3mesh/gateway/upkeep"
	"syscall"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// PutObject implements s3api.ObjectStore.
//
// The body is chunked into a UnixFS DAG while its MD5 and length are
// computed; the DAG's blocks are made durable, and only then is the record
// committed, under the key's commit lock together with the conditions. A
// failed or rejected PUT leaves no record but may leave blocks, which
// garbage collection reclaims. Imports run outside any lock, so PUTs of
// different keys stream in parallel.
//
// With in.CID set, the object adopts that existing content instead of a
// body (see adoptCID): the DAG is fetched whole, within Config.FetchTimeout
// per block, kept in the local block store, and committed like a PUT body's.
func (n *Node) PutObject(ctx context.Context, in *s3api.PutObjectInput) (*s3api.ObjectInfo, error) {
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		n.metrics.puts.WithLabelValues("rejected").Inc()
		return nil, fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err)
	}
	w := n.upkeep.BeginWrite() // GC spares what it notes
	defer w.End()
	info, result, err := n.putObject(ctx, w, in)
	n.metrics.puts.WithLabelValues(result).Inc()
	return info, err
}

func (n *Node) putObject(ctx context.Context, w *upkeep.Write, in *s3api.PutObjectInput) (*s3api.ObjectInfo, string, error) {
	// Fail fast on a missing bucket or a condition that already fails;
	// both are checked again atomically with the commit.
	cur, err := n.ns.GetObject(ctx, in.Bucket, in.Key)
	switch {
	case errors.Is(err, s3err.ErrNoSuchBucket):
		return nil, "rejected", err
	case errors.Is(err, s3err.ErrNoSuchKey):
		cur = nil
	case err != nil:
		return nil, "error", fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err)
	}
	check := putCheck(in.Conditions)
	if check != nil {
		if err := check(cur); err != nil {
			return nil, "rejected", fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err)
		}
	}

	var res dag.Result
	var result string
	if in.CID != "" {
		res, result, err = n.adoptCID(ctx, w, in.CID, in.Body, in.ContentMD5)
	} else {
		start := time.Now()
		res, result, err = n.importBody(ctx, w, in.Body, in.Size, in.ContentMD5, n.chunkerFor(ctx, in.Bucket))
		n.metrics.putBytes.Add(float64(res.Size))
		if err == nil {
			n.metrics.importDur.Observe(time.Since(start).Seconds())
		}
	}
	if err != nil {
		return nil, result, fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err)
	}

	rec := &ObjectRecord{
		Bucket:             in.Bucket,
		Key:                in.Key,
		Root:               res.Root.String(),
		Size:               res.Size,
		ETag:               hex.EncodeToString(res.MD5),
		LastModified:       n.cfg.Clock().UTC(),
		ContentType:        in.Metadata.ContentType,
		ContentEncoding:    in.Metadata.ContentEncoding,
		ContentDisposition: in.Metadata.ContentDisposition,
		ContentLanguage:    in.Metadata.ContentLanguage,
		CacheControl:       in.Metadata.CacheControl,
		Expires:            in.Metadata.Expires,
		User:               cloneMap(in.Metadata.User),
		Checksums:          cloneMap(in.Checksums),
		Tags:               cloneMap(in.Tags),
	}
	if err := n.ns.PutObject(ctx, rec, check); err != nil {
		if errors.Is(err, s3err.ErrNoSuchBucket) || errors.Is(err, s3err.ErrPreconditionFailed) || errors.Is(err, s3err.ErrNoSuchKey) {
			return nil, "rejected", fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err)
		}
		return nil, "error", fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err)
	}
	return rec.Info(), "ok", nil
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// putCheck turns the conditional-write headers into a PutCheck, nil when
// there is none.
func putCheck(c s3api.PutConditions) namespace.PutCheck {
	if c.IfNoneMatch == "" && c.IfMatch == "" {
		return nil
	}
	return func(cur *ObjectRecord) error {
		if cur != nil && (c.IfNoneMatch == "*" || (c.IfNoneMatch != "" && c.IfNoneMatch == cur.ETag)) {
			return s3err.ErrPreconditionFailed
		}
		if c.IfMatch != "" {
			if cur == nil {
				return s3err.ErrNoSuchKey
			}
			if c.IfMatch != "*" && c.IfMatch != cur.ETag {
				return s3err.ErrPreconditionFailed
			}
		}
		return nil
	}
}

// importBody imports body as a PUT body: a UnixFS DAG cut by split whose
// blocks are durable when it returns nil. size (-1: unknown) and
// contentMD5 (nil: none) are checked after the body's end (s3err.ErrIncompleteBody,
// s3err.ErrBadDigest). On failure result is "aborted" when the body, its
// size or its digest failed, otherwise "error"; a body's read error is
// returned unwrapped.
func (n *Node) importBody(ctx context.Context, w *upkeep.Write, body io.Reader, size int64, contentMD5 []byte, split dag.ChunkerSpec) (res dag.Result, result string, err error) {
	res, err = dag.Import(ctx, w.DAG(n.dag), &spaceCheckedReader{r: body, check: n.upkeep.SpaceCheck()}, split)
	if err != nil {
		if res.BodyErr {
			return res, "aborted", err
		}
		return res, "error", noSpace(err)
	}
	if size >= 0 && res.Size != size {
		return res, "aborted", fmt.Errorf("read %d bytes, want %d: %w", res.Size, size, s3err.ErrIncompleteBody)
	}
	if contentMD5 != nil && !bytes.Equal(contentMD5, res.MD5) {
		return res, "aborted", s3err.ErrBadDigest
	}
	if err := n.blocks.Sync(ctx); err != nil {
		return res, "error", noSpace(err)
	}
	return res, "ok", nil
}

// spaceCheckedReader is a body that fails with InsufficientStorage once
// the disk goes below the free space kept (see upkeep.SpaceCheck).
type spaceCheckedReader struct {
	r     io.Reader
	n     int64
	check func(stored int64) error
}

func (s *spaceCheckedReader) Read(p []byte) (int, error) {
	if err := s.check(s.n); err != nil {
		return 0, err
	}
	k, err := s.r.Read(p)
	s.n += int64(k)
	return k, err
}

// noSpace turns a write that failed because the disk is full (ENOSPC)
// into InsufficientStorage; other errors pass unchanged.
func noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return &s3err.Error{Code: s3err.ErrInsufficientStorage, Err: err}
	}
	return err
}
