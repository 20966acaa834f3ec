package s3apitest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"s3mesh/s3api"
)

// entry is one listing entry: a key or a common prefix.
type entry struct {
	name   string
	prefix bool
}

func sortedCopy(keys []string) []string {
	s := slices.Clone(keys)
	slices.Sort(s) // Go strings compare by bytes
	return slices.Compact(s)
}

// referenceEntries computes, by brute force over the sorted key set, every
// entry of the listing in, ignoring MaxKeys.
func referenceEntries(sorted []string, in s3api.ListObjectsInput) []entry {
	var out []entry
	seen := map[string]bool{}
	for _, k := range sorted {
		if !strings.HasPrefix(k, in.Prefix) {
			continue
		}
		if in.Delimiter != "" {
			if j := strings.Index(k[len(in.Prefix):], in.Delimiter); j >= 0 {
				p := k[:len(in.Prefix)+j+len(in.Delimiter)]
				if seen[p] {
					continue
				}
				seen[p] = true
				// A common prefix follows After unless After lies inside it.
				if p > in.After && !strings.HasPrefix(in.After, p) {
					out = append(out, entry{p, true})
				}
				continue
			}
		}
		if k > in.After {
			out = append(out, entry{k, false})
		}
	}
	return out
}

// referenceResult is the expected page of a listing.
type referenceResult struct {
	entries     []entry
	isTruncated bool
	nextAfter   string
}

func referenceList(sorted []string, in s3api.ListObjectsInput) referenceResult {
	all := referenceEntries(sorted, in)
	if len(all) <= in.MaxKeys {
		return referenceResult{entries: all}
	}
	page := all[:in.MaxKeys]
	return referenceResult{entries: page, isTruncated: true, nextAfter: page[len(page)-1].name}
}

// resultEntries merges a result's objects and common prefixes into one
// byte-ordered sequence, failing t when either is out of order.
func resultEntries(t *testing.T, what string, res *s3api.ListObjectsResult) []entry {
	t.Helper()
	var out []entry
	for i, o := range res.Objects {
		if i > 0 && res.Objects[i-1].Key >= o.Key {
			t.Errorf("%s: objects out of order: %q then %q", what, res.Objects[i-1].Key, o.Key)
		}
		out = append(out, entry{o.Key, false})
	}
	for i, p := range res.CommonPrefixes {
		if i > 0 && res.CommonPrefixes[i-1] >= p {
			t.Errorf("%s: common prefixes out of order: %q then %q", what, res.CommonPrefixes[i-1], p)
		}
		out = append(out, entry{p, true})
	}
	slices.SortStableFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out
}

func compareList(t *testing.T, what string, want referenceResult, res *s3api.ListObjectsResult) {
	t.Helper()
	got := resultEntries(t, what, res)
	if diff := cmp.Diff(want.entries, got, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("%s: entries (-want +got):\n%s", what, diff)
	}
	if res.IsTruncated != want.isTruncated {
		t.Errorf("%s: IsTruncated %v, want %v", what, res.IsTruncated, want.isTruncated)
	}
	if want.isTruncated && res.NextAfter != want.nextAfter {
		t.Errorf("%s: NextAfter %q, want %q", what, res.NextAfter, want.nextAfter)
	}
}

// listKeys is the key set of the listing table: nested prefixes, a key equal
// to a common prefix, an empty path segment and a '-' that sorts before '/'.
var listKeys = []string{
	"a", "a-b", "a/", "a/b", "a/b/c", "a/c", "b", "b/x/y", "c//d", "c/e", "d",
}

func testListObjects(t *testing.T, s s3api.ObjectStore) {
	createBucket(t, s, "bucket")
	infos := map[string]*s3api.ObjectInfo{}
	for i, k := range listKeys {
		infos[k] = put(t, s, "bucket", k, randomBytes(uint64(800+i), i*10))
	}
	objs := func(keys ...string) []entry {
		var e []entry
		for _, k := range keys {
			e = append(e, entry{k, false})
		}
		return e
	}
	cp := func(p string) entry { return entry{p, true} }
	cat := func(parts ...[]entry) []entry { return slices.Concat(parts...) }
	one := func(e entry) []entry { return []entry{e} }

	cases := []struct {
		name      string
		in        s3api.ListObjectsInput
		want      []entry
		truncated bool
		next      string
	}{
		{"all", s3api.ListObjectsInput{}, objs(listKeys...), false, ""},
		{"delimiter", s3api.ListObjectsInput{Delimiter: "/"},
			cat(objs("a", "a-b"), one(cp("a/")), objs("b"), one(cp("b/")), one(cp("c/")), objs("d")), false, ""},
		{"prefix and delimiter", s3api.ListObjectsInput{Prefix: "a/", Delimiter: "/"},
			cat(objs("a/", "a/b"), one(cp("a/b/")), objs("a/c")), false, ""},
		{"prefix", s3api.ListObjectsInput{Prefix: "a/"}, objs("a/", "a/b", "a/b/c", "a/c"), false, ""},
		{"prefix not a path", s3api.ListObjectsInput{Prefix: "a"}, objs("a", "a-b", "a/", "a/b", "a/b/c", "a/c"), false, ""},
		{"truncated at a common prefix", s3api.ListObjectsInput{Delimiter: "/", MaxKeys: 3},
			cat(objs("a", "a-b"), one(cp("a/"))), true, "a/"},
		{"after a common prefix", s3api.ListObjectsInput{Delimiter: "/", After: "a/"},
			cat(objs("b"), one(cp("b/")), one(cp("c/")), objs("d")), false, ""},
		{"after inside a common prefix", s3api.ListObjectsInput{Delimiter: "/", After: "a/b"},
			cat(objs("b"), one(cp("b/")), one(cp("c/")), objs("d")), false, ""},
		{"after deep inside a common prefix", s3api.ListObjectsInput{Delimiter: "/", After: "a/b/c/zzz"},
			cat(objs("b"), one(cp("b/")), one(cp("c/")), objs("d")), false, ""},
		{"after a key before a common prefix", s3api.ListObjectsInput{Delimiter: "/", After: "a-b"},
			cat(one(cp("a/")), objs("b"), one(cp("b/")), one(cp("c/")), objs("d")), false, ""},
		{"after inside the last common prefix", s3api.ListObjectsInput{Delimiter: "/", After: "c//d"}, objs("d"), false, ""},
		{"empty segment", s3api.ListObjectsInput{Prefix: "c/", Delimiter: "/"}, cat(one(cp("c//")), objs("c/e")), false, ""},
		{"missing prefix", s3api.ListObjectsInput{Prefix: "zz"}, nil, false, ""},
		{"after the last key", s3api.ListObjectsInput{After: "d"}, nil, false, ""},
		{"after a key that does not exist", s3api.ListObjectsInput{After: "a/bb"}, objs("a/c", "b", "b/x/y", "c//d", "c/e", "d"), false, ""},
		{"exactly max keys", s3api.ListObjectsInput{Prefix: "b", MaxKeys: 2}, objs("b", "b/x/y"), false, ""},
		{"one key", s3api.ListObjectsInput{Prefix: "b", MaxKeys: 1}, objs("b"), true, "b"},
		{"after before the prefix", s3api.ListObjectsInput{Prefix: "a/", Delimiter: "/", After: "0"},
			cat(objs("a/", "a/b"), one(cp("a/b/")), objs("a/c")), false, ""},
		{"after past the prefix", s3api.ListObjectsInput{Prefix: "a/", After: "b"}, nil, false, ""},
		{"after a key inside the prefix", s3api.ListObjectsInput{Prefix: "a/", Delimiter: "/", After: "a/b"},
			cat(one(cp("a/b/")), objs("a/c")), false, ""},
		{"after the prefix's common prefix", s3api.ListObjectsInput{Prefix: "a/", Delimiter: "/", After: "a/b/"}, objs("a/c"), false, ""},
		{"delimiter dash", s3api.ListObjectsInput{Delimiter: "-"},
			cat(objs("a"), one(cp("a-")), objs("a/", "a/b", "a/b/c", "a/c", "b", "b/x/y", "c//d", "c/e", "d")), false, ""},
		{"multi-byte delimiter", s3api.ListObjectsInput{Delimiter: "/b"},
			cat(objs("a", "a-b", "a/"), one(cp("a/b")), objs("a/c", "b", "b/x/y", "c//d", "c/e", "d")), false, ""},
		{"delimiter twice", s3api.ListObjectsInput{Delimiter: "//"}, cat(objs("a", "a-b", "a/", "a/b", "a/b/c", "a/c", "b", "b/x/y"), one(cp("c//")), objs("c/e", "d")), false, ""},
		{"prefix is a whole key with delimiter", s3api.ListObjectsInput{Prefix: "b/x/y", Delimiter: "/"}, objs("b/x/y"), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Bucket = "bucket"
			if in.MaxKeys == 0 {
				in.MaxKeys = 1000
			}
			// The hand-written expectation and the reference agree.
			want := referenceResult{entries: c.want, isTruncated: c.truncated, nextAfter: c.next}
			if diff := cmp.Diff(referenceList(listKeys, in), want, cmp.AllowUnexported(referenceResult{}, entry{})); diff != "" {
				t.Fatalf("test case disagrees with the reference (-reference +case):\n%s", diff)
			}
			res, err := s.ListObjects(t.Context(), in)
			if err != nil {
				t.Fatalf("ListObjects(%+v): %v", in, err)
			}
			compareList(t, fmt.Sprintf("ListObjects(%+v)", in), want, res)
			for _, o := range res.Objects {
				w := infos[o.Key]
				if w == nil {
					continue
				}
				if o.Bucket != "bucket" || o.Size != w.Size || o.ETag != w.ETag || o.LastModified.IsZero() {
					t.Errorf("ListObjects: %q record {bucket %q size %d etag %q modified %v}, want {bucket %q size %d etag %q, a time}",
						o.Key, o.Bucket, o.Size, o.ETag, o.LastModified, "bucket", w.Size, w.ETag)
				}
			}
		})
	}
}

// randomKey returns a valid UTF-8 key of 1..6 runes from a small alphabet
// rich in delimiters, so prefixes and roll-ups collide often.
func randomKey(r *rand.Rand) string {
	alphabet := []string{"a", "b", "/", "-", "é", "z", "/"}
	var sb strings.Builder
	n := 1 + r.IntN(6)
	for range n {
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

func testListObjectsProperty(t *testing.T, s s3api.ObjectStore) {
	r := rand.New(rand.NewPCG(42, 2718))
	const (
		keySets        = 3
		keysPerSet     = 120
		queriesPerSet  = 40
		maxPagesFactor = 2
	)
	for set := range keySets {
		bucket := fmt.Sprintf("property-%d", set)
		createBucket(t, s, bucket)
		var keys []string
		for range keysPerSet {
			k := randomKey(r)
			keys = append(keys, k)
			put(t, s, bucket, k, []byte(k))
		}
		sorted := sortedCopy(keys)
		for q := range queriesPerSet {
			in := s3api.ListObjectsInput{Bucket: bucket, MaxKeys: 1 + r.IntN(7)}
			switch r.IntN(4) {
			case 0:
			case 1:
				k := sorted[r.IntN(len(sorted))]
				in.Prefix = k[:r.IntN(len(k)+1)]
			case 2:
				in.Prefix = randomKey(r)
			case 3:
				in.Prefix = sorted[r.IntN(len(sorted))]
			}
			in.Delimiter = []string{"", "/", "-"}[r.IntN(3)]
			switch r.IntN(3) {
			case 0:
			case 1:
				in.After = sorted[r.IntN(len(sorted))]
			case 2:
				in.After = randomKey(r)
			}
			// Page with NextAfter until the listing ends; every page must
			// match the reference for its After, and the pages together
			// must be the whole listing, each entry once.
			all := referenceEntries(sorted, in)
			var got []entry
			maxPages := maxPagesFactor*len(sorted) + 2
			for page := 0; ; page++ {
				if page == maxPages {
					t.Fatalf("set %d query %d (%+v): listing did not end after %d pages", set, q, in, page)
				}
				what := fmt.Sprintf("set %d query %d page %d: ListObjects(%+v)", set, q, page, in)
				res, err := s.ListObjects(t.Context(), in)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				compareList(t, what, referenceList(sorted, in), res)
				got = append(got, resultEntries(t, what, res)...)
				if !res.IsTruncated {
					break
				}
				if res.NextAfter == "" || res.NextAfter <= in.After && in.After != "" {
					t.Fatalf("%s: NextAfter %q does not advance", what, res.NextAfter)
				}
				in.After = res.NextAfter
			}
			if diff := cmp.Diff(all, got, cmp.AllowUnexported(entry{})); diff != "" {
				t.Errorf("set %d query %d: all pages (-want +got):\n%s", set, q, diff)
			}
			if t.Failed() {
				return
			}
		}
	}
}
