package s3mem

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"

	"s3mesh/s3api"
)

// content is an immutable snapshot of an object's or a part's bytes, held as
// the segments it was assembled from. Completing an upload or copying a part
// from a range of another object makes a new content that shares the
// segments' backing arrays: no byte is ever copied or changed after a body
// is read.
type content struct {
	segs [][]byte // no empty segment
	size int64
}

var _ s3api.Content = content{}

func newContent(b []byte) content {
	if len(b) == 0 {
		return content{}
	}
	return content{segs: [][]byte{b}, size: int64(len(b))}
}

// concat returns the content of cs one after another.
func concat(cs ...content) content {
	var out content
	for _, c := range cs {
		out.segs = append(out.segs, c.segs...)
		out.size += c.size
	}
	return out
}

// slice returns the length bytes at offset, sharing c's segments; the range
// lies within c.
func (c content) slice(offset, length int64) content {
	var out content
	for _, seg := range c.segs {
		if length == 0 {
			break
		}
		n := int64(len(seg))
		if offset >= n {
			offset -= n
			continue
		}
		take := min(n-offset, length)
		out.segs = append(out.segs, seg[offset:offset+take:offset+take])
		out.size += take
		offset, length = 0, length-take
	}
	return out
}

// md5 returns the MD5 of c's bytes.
func (c content) md5() [md5.Size]byte {
	h := md5.New()
	for _, seg := range c.segs {
		h.Write(seg)
	}
	var sum [md5.Size]byte
	h.Sum(sum[:0])
	return sum
}

// Open returns a reader of length bytes at offset.
func (c content) Open(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open content: %w", err)
	}
	if offset < 0 || length < 0 || offset > c.size || length > c.size-offset {
		return nil, fmt.Errorf("open content: range %d+%d outside %d bytes", offset, length, c.size)
	}
	part := c.slice(offset, length)
	readers := make([]io.Reader, len(part.segs))
	for i, seg := range part.segs {
		readers[i] = bytes.NewReader(seg)
	}
	return io.NopCloser(&ctxReader{ctx: ctx, r: io.MultiReader(readers...)}), nil
}
