package namespace

import (
	"bytes"
	"testing"
)

// TestUploadKeyEncoding: the storage keys of uploads sort by key, then ID,
// for keys with 0x00 bytes and keys that prefix others.
func TestUploadKeyEncoding(t *testing.T) {
	t.Parallel()
	keys := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00a", "a", "a\x00", "a\x00b", "a\x01", "ab", "b", "\xff"}
	var refs []UploadRef
	for _, k := range keys {
		for _, id := range []string{"1", "2"} {
			refs = append(refs, UploadRef{Bucket: "b", Key: k, ID: id})
		}
	}
	for i := 1; i < len(refs); i++ {
		a, b := uploadKey(refs[i-1]), uploadKey(refs[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("upload key of %q/%s does not sort before %q/%s", refs[i-1].Key, refs[i-1].ID, refs[i].Key, refs[i].ID)
		}
	}
	for _, r := range refs {
		k, id, err := splitUploadKey(uploadKey(r)[len(uploadPrefix("b")):])
		if err != nil || k != r.Key || id != r.ID {
			t.Errorf("split(%q, %q) = %q, %q, %v", r.Key, r.ID, k, id, err)
		}
	}
}
