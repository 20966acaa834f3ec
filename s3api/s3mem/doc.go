// Package s3mem is an in-memory implementation of s3api.ObjectStore.
//
// It is the reference against which the conformance battery in
// s3api/s3apitest is checked, and a convenient store for handler tests:
// everything lives in process memory, keys are kept in byte order in a sorted
// slice, and listings seek by binary search as the contract requires.
//
// Object content is held as immutable byte slices: an overwrite or delete
// replaces the record but never changes bytes that an earlier Content handle
// reads.
//
// Store also implements the optional roles s3api.MultipartStore,
// s3api.CopyStore and s3api.TaggingStore. Parts are immutable snapshots too;
// a completed upload, a copied object and a part copied from a range share
// those bytes instead of copying them. Upload IDs are 16 hex digits of a
// store-wide creation counter followed by 16 random URL-safe characters, so
// they sort in creation order: ListMultipartUploads places an upload-ID
// marker correctly even after that upload has ended. Uploads belong to their
// bucket and do not keep it from being deleted.
//
// Usage:
//
//	store := s3mem.New()
//	h, err := s3api.New(s3api.Config{}, store)
//
// A clock can be injected for tests that depend on LastModified or
// CreationDate:
//
//	store := s3mem.NewWithConfig(s3mem.Config{Now: clock.Now})
package s3mem
