package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
)

func versionsAt(n *gatewaytest.Node, bucket string) ([]string, error) {
	res, err := n.ListObjectVersions(context.Background(), s3api.ListObjectVersionsInput{Bucket: bucket, MaxKeys: 1000})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range res.Versions {
		out = append(out, fmt.Sprintf("%s %s %v %v", v.Key, v.VersionID, v.DeleteMarker, v.IsLatest))
	}
	return out, nil
}

// TestVersionsAcrossOffices: versions of one key written at two offices,
// and a delete marker, are listed with the same IDs in the same order at a
// third, which reads each version's content; removing a version at one
// office removes it everywhere.
func TestVersionsAcrossOffices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	a, b, c := net.NewReplicatedNode(t), net.NewReplicatedNode(t), net.NewReplicatedNode(t)
	net.Connect(a, b)
	net.Connect(b, c)
	net.Connect(a, c)
	for _, n := range []*gatewaytest.Node{a, b, c} {
		waitTopicPeers(t, n, gateway.DefaultNetwork, 2)
	}
	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "vb"}); err != nil {
		t.Fatal(err)
	}
	if err := a.PutBucketVersioning(ctx, "vb", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "versioning at b", func() error {
		if st, err := b.GetBucketVersioning(ctx, "vb"); err != nil || st != s3api.VersioningEnabled {
			return fmt.Errorf("%q, %v", st, err)
		}
		return nil
	})
	content := map[string][]byte{}
	write := func(n *gatewaytest.Node, data string) {
		t.Helper()
		info, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "vb", Key: "k", Body: bytes.NewReader([]byte(data)), Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		content[info.VersionID] = []byte(data)
	}
	write(a, "from a, 1")
	write(b, "from b, 1")
	write(a, "from a, 2")
	write(b, "from b, 2")
	dm, err := a.DeleteObjectVersion(ctx, "vb", "k", "")
	if err != nil || dm == nil || !dm.DeleteMarker {
		t.Fatalf("delete marker: %+v, %v", dm, err)
	}
	// The versions as each writer sees them once all have arrived.
	var want []string
	waitUntil(t, "five versions at a and b, in one order", func() error {
		va, err := versionsAt(a, "vb")
		if err != nil {
			return err
		}
		vb, err := versionsAt(b, "vb")
		if err != nil {
			return err
		}
		if len(va) != 5 || !slices.Equal(va, vb) {
			return fmt.Errorf("a %q, b %q", va, vb)
		}
		want = va
		return nil
	})
	waitUntil(t, "the same versions at c", func() error {
		vc, err := versionsAt(c, "vb")
		if err != nil {
			return err
		}
		if !slices.Equal(vc, want) {
			return fmt.Errorf("c %q, want %q", vc, want)
		}
		return nil
	})
	if want[0] != fmt.Sprintf("k %s true true", dm.VersionID) {
		t.Errorf("latest at c: %q, want the delete marker %s", want[0], dm.VersionID)
	}
	for id, data := range content {
		info, cont, err := c.GetObjectVersion(ctx, "vb", "k", id)
		if err != nil {
			t.Fatalf("version %s at c: %v", id, err)
		}
		got, err := readContentOf(ctx, cont, info.Size)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("version %s at c: %q, %v; want %q", id, got, err, data)
		}
	}
	// Remove the marker at c: the newest version written is current again
	// at every office.
	if _, err := c.DeleteObjectVersion(ctx, "vb", "k", dm.VersionID); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*gatewaytest.Node{a, b, c} {
		waitUntil(t, "the marker removed", func() error {
			v, err := versionsAt(n, "vb")
			if err != nil {
				return err
			}
			if !slices.Equal(v, append([]string{want[1][:len(want[1])-len("false")] + "true"}, want[2:]...)) {
				return fmt.Errorf("%q", v)
			}
			return nil
		})
	}
}

func readContentOf(ctx context.Context, c s3api.Content, size int64) ([]byte, error) {
	r, err := c.Open(ctx, 0, size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r)
	return buf.Bytes(), err
}
