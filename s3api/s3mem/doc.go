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
