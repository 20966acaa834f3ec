package namespace

import (
	"context"
	"strings"

	"s3mesh/s3api"
)

// ListVersions lists one page of the versions of a bucket of n, as
// s3api.VersioningStore.ListObjectVersions says, with range scans: it seeks
// to the first candidate key and, for each rolled-up common prefix, seeks
// past every key under it. With a KeyMarker and no VersionIDMarker the
// listing starts after every version of KeyMarker; with both, after the
// version VersionIDMarker of KeyMarker (after every version of KeyMarker
// when it has no such version any more). A KeyMarker inside a rolled-up
// prefix skips the whole prefix.
func ListVersions(ctx context.Context, n *CRDTNamespace, in s3api.ListObjectVersionsInput) (*s3api.ListObjectVersionsResult, error) {
	maxKeys := in.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	start := max(in.Prefix, in.KeyMarker)
	markerCP, markerInCP := commonPrefix(in.KeyMarker, in.Prefix, in.Delimiter)
	if markerInCP && in.KeyMarker != "" {
		end, ok := prefixEnd(markerCP)
		if !ok {
			return &s3api.ListObjectVersionsResult{}, nil
		}
		start = max(start, end)
	}
	it, err := n.Versions(ctx, in.Bucket, start)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	res := &s3api.ListObjectVersionsResult{}
	count := 0
	// skipping is true while passing the versions of KeyMarker up to
	// VersionIDMarker.
	skipping := in.KeyMarker != "" && in.VersionIDMarker != ""
	for it.Next() {
		rec, latest := it.Record()
		if !strings.HasPrefix(rec.Key, in.Prefix) {
			break
		}
		if rec.Key == in.KeyMarker {
			if skipping {
				if rec.VersionID() == in.VersionIDMarker {
					skipping = false
				}
				continue
			}
			if in.VersionIDMarker == "" {
				continue
			}
		} else if skipping {
			// The marker's version is gone: resume after the whole key,
			// which is where we are.
			skipping = false
		}
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		if cp, ok := commonPrefix(rec.Key, in.Prefix, in.Delimiter); ok {
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
			count++
			end, ok := prefixEnd(cp)
			if !ok {
				break
			}
			it.Seek(end)
			continue
		}
		res.Versions = append(res.Versions, s3api.ObjectVersion{ObjectInfo: *rec.Info(), IsLatest: latest})
		res.NextKeyMarker, res.NextVersionIDMarker = rec.Key, rec.VersionID()
		count++
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, nil
}
