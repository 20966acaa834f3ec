package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"s3mesh/s3api"
)

// TestReplicationQueueSurvivesRestart: an object queued for a block
// no one has stays queued, with its attempts counted, across a restart.
// (That the queue's key space survives an index rebuild is the
// namespace's TestKeyspaceSurvivesRebuild.)
func TestReplicationQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	n, err := New(Config{DataDir: dir, NoSync: true, MultipartMaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "rep"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetBucketReplicated(ctx, "rep", true); err != nil {
		t.Fatal(err)
	}
	// A record whose content is nowhere: a node without an exchange
	// cannot fetch it.
	mh, err := multihash.Sum([]byte("nowhere"), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	root := cid.NewCidV1(cid.Raw, mh).String()
	if err := n.ns.PutObject(ctx, &ObjectRecord{Bucket: "rep", Key: "k", Root: root, Size: 7, LastModified: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	var first ObjectReplication
	waitFor := func(what string, cond func() error) {
		t.Helper()
		var err error
		for range 600 {
			if err = cond(); err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: %v", what, err)
	}
	waitFor("a failed attempt", func() error {
		st, err := n.ReplicationStatus(ctx)
		if err != nil {
			return err
		}
		if len(st.InProgress) != 1 || st.InProgress[0].Attempts < 1 || st.InProgress[0].LastError == "" {
			return fmt.Errorf("%+v", st)
		}
		first = st.InProgress[0]
		return nil
	})
	if !strings.Contains(first.LastError, "unavailable") || first.Root != root || first.NextAttempt.IsZero() {
		t.Fatalf("entry %+v", first)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n, err = New(Config{DataDir: dir, NoSync: true, MultipartMaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	st, err := n.ReplicationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.InProgress) != 1 || !st.InProgress[0].Since.Equal(first.Since) || st.InProgress[0].Attempts < first.Attempts || st.QueuedObjects != 1 {
		t.Fatalf("after a restart: %+v, want the entry queued at %v with %d attempts", st, first.Since, first.Attempts)
	}
	if len(st.Buckets) != 1 || st.Buckets[0].Objects != 1 || st.Buckets[0].ObjectsComplete != 0 || st.Buckets[0].ObjectsQueued != 1 {
		t.Fatalf("bucket status %+v", st.Buckets)
	}
}
