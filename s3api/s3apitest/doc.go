// Package s3apitest checks that an s3api.ObjectStore implementation meets
// the contract documented on the interface, in the manner of
// testing/fstest.TestFS.
//
// An implementation's tests call TestObjectStore with a constructor that
// returns a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		s3apitest.TestObjectStore(t, func(t *testing.T) s3api.ObjectStore {
//			return s3mem.New()
//		})
//	}
//
// The battery covers bucket lifecycle and errors, object round trips at
// sizes around chunk boundaries, ranged content reads, overwrite and delete
// semantics (a Content handle keeps reading the version it was opened on),
// body read failures that must commit nothing, Content-MD5 and size checks,
// conditional writes, awkward keys, listings (table cases and a
// deterministic property test against a brute-force reference) and
// concurrent use, and the tags PutObject stores.
//
// It then probes the optional roles, each in a subtest that skips when the
// store lacks it: s3api.MultipartStore (a three-part upload read across its
// part boundaries, the multipart ETag and PartSizes, re-sent and concurrent
// parts, completion with a subset of parts, every completion error in the
// contract's order, Finalize and its failure, conditions, abort, ListParts
// and ListMultipartUploads paging against a reference, UploadPartCopy),
// s3api.CopyStore (COPY and REPLACE, self-copy, cross-bucket, source ETag
// and destination conditions, copies that outlive their source) and
// s3api.TaggingStore. Every returned record is checked to be the caller's
// own: changing it changes nothing stored. It makes no timing assertions;
// run it with -race.
package s3apitest
