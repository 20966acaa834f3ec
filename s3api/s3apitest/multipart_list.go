package s3apitest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"s3mesh/s3api"
)

func testListParts(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	id := createUpload(t, ms, bucket, "k")
	numbers := []int{7, 1, 12, 3, 2, 9, 4}
	datas := map[int][]byte{}
	for _, n := range numbers {
		datas[n] = []byte(fmt.Sprintf("part %d", n))
		uploadPart(t, ms, bucket, "k", id, n, datas[n])
	}
	want := slices.Sorted(slices.Values(numbers))
	for _, maxParts := range []int{1, 2, 3, len(numbers), len(numbers) + 1, 1000} {
		var got []int
		in := s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, MaxParts: maxParts}
		for page := 0; ; page++ {
			if page > len(numbers) {
				t.Fatalf("ListParts(max %d): more pages than parts", maxParts)
			}
			res, err := ms.ListParts(ctx, in)
			if err != nil {
				t.Fatalf("ListParts(max %d, marker %d): %v", maxParts, in.PartNumberMarker, err)
			}
			if len(res.Parts) > maxParts {
				t.Errorf("ListParts(max %d): %d parts", maxParts, len(res.Parts))
			}
			for i := range res.Parts {
				p := &res.Parts[i]
				checkPart(t, "ListParts", p, p.PartNumber, datas[p.PartNumber])
				got = append(got, p.PartNumber)
			}
			if !res.IsTruncated {
				break
			}
			if len(res.Parts) == 0 || res.NextPartNumberMarker != res.Parts[len(res.Parts)-1].PartNumber {
				t.Fatalf("ListParts(max %d): truncated, NextPartNumberMarker %d after %d parts; want the last part's number",
					maxParts, res.NextPartNumberMarker, len(res.Parts))
			}
			in.PartNumberMarker = res.NextPartNumberMarker
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListParts(max %d) pages = %v, want %v", maxParts, got, want)
		}
	}
	// A marker between part numbers and one past the last.
	for _, c := range []struct {
		marker int
		want   []int
	}{{5, []int{7, 9, 12}}, {12, nil}, {100, nil}, {0, want}} {
		res, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "k", UploadID: id, PartNumberMarker: c.marker, MaxParts: 1000})
		if err != nil {
			t.Fatalf("ListParts(marker %d): %v", c.marker, err)
		}
		var got []int
		for _, p := range res.Parts {
			got = append(got, p.PartNumber)
		}
		if !slices.Equal(got, c.want) || res.IsTruncated {
			t.Errorf("ListParts(marker %d) = %v, truncated %v; want %v, false", c.marker, got, res.IsTruncated, c.want)
		}
	}
	// An upload without parts lists none.
	empty := createUpload(t, ms, bucket, "empty")
	res, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: "empty", UploadID: empty, MaxParts: 1000})
	if err != nil || len(res.Parts) != 0 || res.IsTruncated {
		t.Errorf("ListParts(no parts) = %+v, %v; want no parts", res, err)
	}
}

// uploadEntry is one entry of a ListMultipartUploads listing: an upload or
// a common prefix.
type uploadEntry struct {
	Key, UploadID, Prefix string
}

func testListMultipartUploads(t *testing.T, s s3api.ObjectStore, ms s3api.MultipartStore, bucket string) {
	ctx := t.Context()
	keys := []string{"d", "b/1", "a", "c/x/y", "b/2", "a", "b/1", "a/", "ab"}
	created := map[string][]string{} // key → IDs in creation order
	for _, k := range keys {
		created[k] = append(created[k], createUpload(t, ms, bucket, k))
	}
	// One more upload that ends at once is never listed.
	gone := createUpload(t, ms, bucket, "a")
	if err := ms.AbortMultipartUpload(ctx, bucket, "a", gone); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}

	all, err := ms.ListMultipartUploads(ctx, s3api.ListMultipartUploadsInput{Bucket: bucket, MaxUploads: 1000})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if all.IsTruncated || len(all.CommonPrefixes) != 0 {
		t.Errorf("ListMultipartUploads: truncated %v, prefixes %q; want false, none", all.IsTruncated, all.CommonPrefixes)
	}
	// Ordered by key, then by initiation: uploads of one key with distinct
	// initiation times come in creation order.
	var gotKeys []string
	for i, u := range all.Uploads {
		gotKeys = append(gotKeys, u.Key)
		if u.Initiated.IsZero() {
			t.Errorf("ListMultipartUploads: %q has no Initiated", u.Key)
		}
		if i > 0 && u.Key == all.Uploads[i-1].Key && u.Initiated.Before(all.Uploads[i-1].Initiated) {
			t.Errorf("ListMultipartUploads: uploads of %q not in initiation order", u.Key)
		}
		lp, err := ms.ListParts(ctx, s3api.ListPartsInput{Bucket: bucket, Key: u.Key, UploadID: u.UploadID, MaxParts: 1})
		if err != nil {
			t.Errorf("ListParts(%q, %q): %v", u.Key, u.UploadID, err)
		} else if !lp.Initiated.Equal(u.Initiated) {
			t.Errorf("ListParts(%q).Initiated = %v, ListMultipartUploads says %v", u.Key, lp.Initiated, u.Initiated)
		}
	}
	if want := slices.Sorted(slices.Values(keys)); !slices.Equal(gotKeys, want) {
		t.Fatalf("ListMultipartUploads keys = %q, want %q", gotKeys, want)
	}
	for k, ids := range created {
		var got []string
		distinct := true // initiation times all differ
		for i, u := range all.Uploads {
			if u.Key == k {
				got = append(got, u.UploadID)
				if i > 0 && all.Uploads[i-1].Key == k && all.Uploads[i-1].Initiated.Equal(u.Initiated) {
					distinct = false
				}
			}
		}
		if !sameSet(got, ids) {
			t.Errorf("ListMultipartUploads: uploads of %q = %q, want %q", k, got, ids)
		}
		if distinct && !slices.Equal(got, ids) {
			t.Errorf("ListMultipartUploads: uploads of %q = %q, want creation order %q", k, got, ids)
		}
	}

	// Every listing, paged at every size, agrees with the reference.
	inputs := []s3api.ListMultipartUploadsInput{
		{},
		{Prefix: "a"},
		{Prefix: "b/"},
		{Prefix: "zzz"},
		{Delimiter: "/"},
		{Prefix: "c/", Delimiter: "/"},
		{Prefix: "b", Delimiter: "/"},
		{Delimiter: "x"},
		{KeyMarker: "a"},
		{KeyMarker: "b/1", Delimiter: "/"},
		{KeyMarker: "b/", Delimiter: "/"},
		{KeyMarker: "aa"},
		{KeyMarker: "a", UploadIDMarker: all.Uploads[0].UploadID},
		{KeyMarker: "b/1", UploadIDMarker: all.Uploads[len(created["a"])+2].UploadID},
		{UploadIDMarker: all.Uploads[1].UploadID}, // ignored without KeyMarker
	}
	for _, in := range inputs {
		in.Bucket = bucket
		want := referenceUploads(all.Uploads, in)
		for _, maxUploads := range []int{1, 2, 3, 1000} {
			name := fmt.Sprintf("ListMultipartUploads(%+v, max %d)", in, maxUploads)
			page := in
			page.MaxUploads = maxUploads
			var got []uploadEntry
			for n := 0; ; n++ {
				if n > len(keys)+1 {
					t.Fatalf("%s: more pages than uploads", name)
				}
				res, err := ms.ListMultipartUploads(ctx, page)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				entries := len(res.Uploads) + len(res.CommonPrefixes)
				if entries > maxUploads {
					t.Errorf("%s: %d entries on a page", name, entries)
				}
				got = append(got, mergeUploadEntries(res)...)
				if !res.IsTruncated {
					break
				}
				if entries == 0 || res.NextKeyMarker == "" {
					t.Fatalf("%s: truncated page of %d entries with NextKeyMarker %q", name, entries, res.NextKeyMarker)
				}
				page.KeyMarker, page.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		}
	}
}

// mergeUploadEntries returns a page's uploads and common prefixes in key
// order; a common prefix sorts before the keys it holds.
func mergeUploadEntries(res *s3api.ListMultipartUploadsResult) []uploadEntry {
	var out []uploadEntry
	ps := res.CommonPrefixes
	for _, u := range res.Uploads {
		for len(ps) > 0 && ps[0] <= u.Key {
			out = append(out, uploadEntry{Prefix: ps[0]})
			ps = ps[1:]
		}
		out = append(out, uploadEntry{Key: u.Key, UploadID: u.UploadID})
	}
	for _, p := range ps {
		out = append(out, uploadEntry{Prefix: p})
	}
	return out
}

// referenceUploads lists ups (every upload, in listing order) as
// ListMultipartUploads does for in, without paging: the S3 marker rules
// (KeyMarker alone starts after every upload of that key; with an
// UploadIDMarker, after that upload of it; UploadIDMarker is ignored
// without KeyMarker), then prefix, then delimiter roll-up, where a
// KeyMarker inside a rolled-up prefix skips the prefix.
func referenceUploads(ups []s3api.UploadInfo, in s3api.ListMultipartUploadsInput) []uploadEntry {
	start := 0
	if in.KeyMarker != "" {
		start = len(ups)
		for i, u := range ups {
			if u.Key > in.KeyMarker {
				start = i
				break
			}
		}
		if in.UploadIDMarker != "" {
			for i, u := range ups {
				if u.Key == in.KeyMarker && u.UploadID == in.UploadIDMarker {
					start = i + 1
					break
				}
			}
		}
	}
	markerPrefix := ""
	if in.KeyMarker != "" && in.Delimiter != "" && strings.HasPrefix(in.KeyMarker, in.Prefix) {
		if j := strings.Index(in.KeyMarker[len(in.Prefix):], in.Delimiter); j >= 0 {
			markerPrefix = in.KeyMarker[:len(in.Prefix)+j+len(in.Delimiter)]
		}
	}
	var out []uploadEntry
	for _, u := range ups[start:] {
		if !strings.HasPrefix(u.Key, in.Prefix) {
			continue
		}
		if markerPrefix != "" && strings.HasPrefix(u.Key, markerPrefix) {
			continue
		}
		if in.Delimiter != "" {
			if j := strings.Index(u.Key[len(in.Prefix):], in.Delimiter); j >= 0 {
				p := u.Key[:len(in.Prefix)+j+len(in.Delimiter)]
				if len(out) == 0 || out[len(out)-1].Prefix != p {
					out = append(out, uploadEntry{Prefix: p})
				}
				continue
			}
		}
		out = append(out, uploadEntry{Key: u.Key, UploadID: u.UploadID})
	}
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
