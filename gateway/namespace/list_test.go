package namespace

import (
	"context"
	"fmt"
	"math/rand/v2"
	"s3mesh/gateway/internal/gwtest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"s3mesh/s3api"
)

// awkwardKeys exercise byte ordering: UTF-8 beyond the BMP, control
// characters, slashes, dot segments and trailing slashes.
var awkwardKeys = []string{
	"a", "a/", "a//b", "a/b", "a/b/", "a/b/c", "a\x01", "a\x7f", "a b", "a+b", "a%2Fb",
	"../x", "./x", "..", "/", "//", "/leading", "x/../y", "é", "日本", "😀", "😀/", "𝄞clef",
	"\x01ctl", "\t", "trailing/", "z", "zz/zz/zz", "~",
}

func newNamespace(t testing.TB) *PebbleNamespace {
	t.Helper()
	ns, err := OpenPebbleNamespace(PebbleNamespaceConfig{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func fillNamespace(t testing.TB, ns Namespace, bucket string, keys []string) {
	t.Helper()
	ctx := context.Background()
	if err := ns.CreateBucket(ctx, BucketRecord{Name: bucket}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := ns.PutObject(ctx, &ObjectRecord{Bucket: bucket, Key: k, Root: gwtest.EmptyFileCID, ETag: "e"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNamespaceOrder(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	fillNamespace(t, ns, "b", awkwardKeys)
	// Neighbouring buckets must not leak into b's range.
	fillNamespace(t, ns, "a", []string{"zzz"})
	fillNamespace(t, ns, "b-c", []string{"\x00", "a"})
	want := slices.Clone(awkwardKeys)
	slices.Sort(want) // Go string order is byte order
	it, err := ns.Objects(context.Background(), "b", "")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for i := 0; it.Next() && i < 1000; i++ {
		got = append(got, it.Key())
		rec, err := it.Record()
		if err != nil || rec.Key != it.Key() || rec.Bucket != "b" {
			t.Fatalf("record %+v, %v", rec, err)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	// Seek lands on the first key >= the target, backwards too.
	for _, tc := range []struct{ seek, want string }{
		{"a/b", "a/b"}, {"a/b\x00", "a/b/"}, {"😀\x00", "😀/"}, {"", "\x01ctl"}, {"\U0010ffff", ""}, {"a", "a"},
	} {
		it.Seek(tc.seek)
		got := ""
		if it.Next() {
			got = it.Key()
		}
		if got != tc.want {
			t.Errorf("Seek(%q) then Next = %q, want %q", tc.seek, got, tc.want)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b", Created: gwtest.FixedTime, Location: "eu"}); err != nil {
		t.Fatal(err)
	}
	rec := &ObjectRecord{
		Bucket: "b", Key: "k\x00/😀", Root: gwtest.EmptyFileCID, Size: 42, ETag: "abc", LastModified: gwtest.FixedTime.Add(123),
		ContentType: "t", ContentEncoding: "gzip", ContentDisposition: "d", ContentLanguage: "l",
		CacheControl: "c", Expires: "Thu, 01 Dec 1994 16:00:00 GMT",
		User:      map[string]string{"x": "1", "empty": ""},
		Checksums: map[string]string{"SHA256": "q83vEjRWeJA="},
	}
	if err := ns.PutObject(ctx, rec, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ns.GetObject(ctx, "b", rec.Key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Fatalf("record (-put +get):\n%s", diff)
	}
	b, err := ns.GetBucket(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&BucketRecord{Name: "b", Created: gwtest.FixedTime, Location: "eu"}, b); diff != "" {
		t.Fatalf("bucket (-want +got):\n%s", diff)
	}
	if _, err := decodeObject("b", "k", []byte{9, '{', '}'}); err == nil {
		t.Fatal("unknown record version decoded")
	}
}

func keysOf(res *s3api.ListObjectsResult) []string {
	var out []string
	for _, o := range res.Objects {
		out = append(out, o.Key)
	}
	return out
}

func TestListObjectsTable(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	keys := []string{"a", "a/1", "a/2", "a/b/1", "b", "b/1", "c/", "c/x", "d//e", "photos/2006/jan", "photos/2006/feb", "photos/2007/x", "z"}
	fillNamespace(t, ns, "b", keys)
	type want struct {
		keys      []string
		prefixes  []string
		truncated bool
		next      string
	}
	for _, tc := range []struct {
		name string
		in   s3api.ListObjectsInput
		want want
	}{
		{"all", s3api.ListObjectsInput{MaxKeys: 1000}, want{keys: []string{"a", "a/1", "a/2", "a/b/1", "b", "b/1", "c/", "c/x", "d//e", "photos/2006/feb", "photos/2006/jan", "photos/2007/x", "z"}}},
		{"delimiter", s3api.ListObjectsInput{Delimiter: "/", MaxKeys: 1000}, want{keys: []string{"a", "b", "z"}, prefixes: []string{"a/", "b/", "c/", "d/", "photos/"}}},
		{"prefix and delimiter", s3api.ListObjectsInput{Prefix: "photos/", Delimiter: "/", MaxKeys: 1000}, want{prefixes: []string{"photos/2006/", "photos/2007/"}}},
		{"prefix a/", s3api.ListObjectsInput{Prefix: "a/", Delimiter: "/", MaxKeys: 1000}, want{keys: []string{"a/1", "a/2"}, prefixes: []string{"a/b/"}}},
		{"double slash", s3api.ListObjectsInput{Prefix: "d/", Delimiter: "/", MaxKeys: 1000}, want{prefixes: []string{"d//"}}},
		{"prefix is a key", s3api.ListObjectsInput{Prefix: "c/", Delimiter: "/", MaxKeys: 1000}, want{keys: []string{"c/", "c/x"}}},
		{"max keys counts prefixes", s3api.ListObjectsInput{Delimiter: "/", MaxKeys: 3}, want{keys: []string{"a", "b"}, prefixes: []string{"a/"}, truncated: true, next: "b"}},
		{"after a prefix", s3api.ListObjectsInput{Delimiter: "/", After: "a/", MaxKeys: 2}, want{keys: []string{"b"}, prefixes: []string{"b/"}, truncated: true, next: "b/"}},
		{"after inside a prefix", s3api.ListObjectsInput{Delimiter: "/", After: "a/b/1", MaxKeys: 1000}, want{keys: []string{"b", "z"}, prefixes: []string{"b/", "c/", "d/", "photos/"}}},
		{"after without delimiter", s3api.ListObjectsInput{After: "a/b/1", MaxKeys: 2}, want{keys: []string{"b", "b/1"}, truncated: true, next: "b/1"}},
		{"after last", s3api.ListObjectsInput{After: "z", MaxKeys: 10}, want{}},
		{"after beyond prefix", s3api.ListObjectsInput{Prefix: "a", After: "b", MaxKeys: 10}, want{}},
		{"after before prefix", s3api.ListObjectsInput{Prefix: "photos/2007", After: "a", MaxKeys: 10}, want{keys: []string{"photos/2007/x"}}},
		{"exact page end", s3api.ListObjectsInput{Prefix: "photos/", MaxKeys: 3}, want{keys: []string{"photos/2006/feb", "photos/2006/jan", "photos/2007/x"}}},
		{"multi-byte delimiter", s3api.ListObjectsInput{Delimiter: "06/", MaxKeys: 1000}, want{keys: []string{"a", "a/1", "a/2", "a/b/1", "b", "b/1", "c/", "c/x", "d//e", "photos/2007/x", "z"}, prefixes: []string{"photos/2006/"}}},
		{"no match", s3api.ListObjectsInput{Prefix: "q", MaxKeys: 5}, want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Bucket = "b"
			res, err := List(context.Background(), ns, in)
			if err != nil {
				t.Fatal(err)
			}
			got := want{keys: keysOf(res), prefixes: res.CommonPrefixes, truncated: res.IsTruncated, next: res.NextAfter}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// refEntry is one entry of a reference listing: a key or a common prefix.
type refEntry struct {
	name   string
	prefix bool
}

// referenceList is the brute-force listing of sorted keys: every entry
// after in.After, before paging.
func referenceList(keys []string, in s3api.ListObjectsInput) []refEntry {
	var out []refEntry
	seen := map[string]bool{}
	for _, k := range keys {
		if k <= in.After || !strings.HasPrefix(k, in.Prefix) {
			continue
		}
		if cp, ok := commonPrefix(k, in.Prefix, in.Delimiter); ok {
			if seen[cp] || strings.HasPrefix(in.After, cp) {
				continue
			}
			seen[cp] = true
			out = append(out, refEntry{cp, true})
			continue
		}
		out = append(out, refEntry{k, false})
	}
	return out
}

func TestListObjectsProperty(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "/", "//", "é", "😀", "\x01", "."}
	randKey := func() string {
		var sb strings.Builder
		for range 1 + r.IntN(6) {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	ns := newNamespace(t)
	set := map[string]bool{}
	for range 400 {
		set[randKey()] = true
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fillNamespace(t, ns, "b", keys)
	ctx := context.Background()
	delims := []string{"", "/", "//", "a", "é", "😀"}
	for i := range 300 {
		in := s3api.ListObjectsInput{Bucket: "b", MaxKeys: 1 + r.IntN(20), Delimiter: delims[r.IntN(len(delims))]}
		if r.IntN(2) == 0 {
			for range 1 + r.IntN(2) {
				in.Prefix += alphabet[r.IntN(len(alphabet))]
			}
		}
		if r.IntN(3) == 0 {
			in.After = randKey()
		}
		ref := referenceList(keys, in)
		// Page through, comparing each page with the reference.
		var got []refEntry
		for page := 0; page < 1000; page++ {
			res, err := List(ctx, ns, in)
			if err != nil {
				t.Fatal(err)
			}
			n := len(res.Objects) + len(res.CommonPrefixes)
			if n > in.MaxKeys {
				t.Fatalf("case %d: page of %d entries, max %d", i, n, in.MaxKeys)
			}
			// Merge objects and prefixes back into key order.
			var pageEntries []refEntry
			for _, o := range res.Objects {
				pageEntries = append(pageEntries, refEntry{o.Key, false})
			}
			for _, p := range res.CommonPrefixes {
				pageEntries = append(pageEntries, refEntry{p, true})
			}
			slices.SortFunc(pageEntries, func(a, b refEntry) int { return strings.Compare(a.name, b.name) })
			want := ref[len(got):min(len(ref), len(got)+in.MaxKeys)]
			if diff := cmp.Diff(want, pageEntries, cmp.AllowUnexported(refEntry{}), cmpEmpty); diff != "" {
				t.Fatalf("case %d %+v page %d (-want +got):\n%s", i, in, page, diff)
			}
			got = append(got, pageEntries...)
			if wantTrunc := len(got) < len(ref); res.IsTruncated != wantTrunc {
				t.Fatalf("case %d %+v page %d: truncated %v, want %v", i, in, page, res.IsTruncated, wantTrunc)
			}
			if !res.IsTruncated {
				break
			}
			if last := got[len(got)-1].name; res.NextAfter != last {
				t.Fatalf("case %d: NextAfter %q, want %q", i, res.NextAfter, last)
			}
			in.After = res.NextAfter
		}
		if len(got) != len(ref) {
			t.Fatalf("case %d: %d entries over all pages, want %d", i, len(got), len(ref))
		}
	}
}

var cmpEmpty = cmp.FilterValues(func(a, b []refEntry) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func TestListObjectsSeeksPastPrefixes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	var keys []string
	for i := range 50 {
		for j := range 40 {
			keys = append(keys, fmt.Sprintf("d%02d/%03d", i, j))
		}
	}
	fillNamespace(t, ns, "b", keys)
	counting := &countingNamespace{Namespace: ns}
	res, err := List(context.Background(), counting, s3api.ListObjectsInput{Bucket: "b", Delimiter: "/", MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CommonPrefixes) != 10 || !res.IsTruncated || res.NextAfter != "d09/" {
		t.Fatalf("page %+v", res)
	}
	// 10 prefixes plus the look-ahead: one step each, never the 40 keys under
	// a prefix.
	if counting.steps > 11 {
		t.Fatalf("%d iterator steps for 10 common prefixes", counting.steps)
	}
}

type countingNamespace struct {
	Namespace
	steps int
}

func (c *countingNamespace) Objects(ctx context.Context, bucket, start string) (ObjectIterator, error) {
	it, err := c.Namespace.Objects(ctx, bucket, start)
	if err != nil {
		return nil, err
	}
	return &countingIter{ObjectIterator: it, c: c}, nil
}

type countingIter struct {
	ObjectIterator
	c *countingNamespace
}

func (c *countingIter) Next() bool {
	c.c.steps++
	return c.ObjectIterator.Next()
}
