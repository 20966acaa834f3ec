package namespace

import (
	"context"
	"errors"
	"fmt"

	ds "github.com/ipfs/go-datastore"
)

// maxGroupEntries bounds the entries one delta gathers from several
// writers' requests (a single larger request still goes in one batch).
const maxGroupEntries = 512

// errNamespaceClosed answers a write that reaches a closed namespace.
var errNamespaceClosed = errors.New("namespace closed")

// kv is one CRDT key and value to publish.
type kv struct {
	key   string
	value []byte
}

// commitReq is one writer's change to the CRDT: keys to put and keys to
// delete, published together.
type commitReq struct {
	puts []kv
	dels []string
	done chan error
}

func (r *commitReq) size() int { return len(r.puts) + len(r.dels) }

// committer publishes the namespace's changes, one at a time, gathering
// the requests of writers that queued while the previous delta was being
// published into the next one: group commit. A single writer pays what it
// would alone; many concurrent writers share one delta — one block to
// store, sync and broadcast, and one level of the DAG a peer catching up
// walks instead of one per write. It is also the only user of the CRDT's
// batch, which go-ds-crdt keeps once per store, not per Batch call.
func (n *CRDTNamespace) committer() {
	defer close(n.commitDone)
	for {
		var first *commitReq
		select {
		case first = <-n.commits:
		case <-n.stopCommits:
			return
		}
		group := []*commitReq{first}
		size := first.size()
	gather:
		for size < maxGroupEntries {
			select {
			case r := <-n.commits:
				group = append(group, r)
				size += r.size()
			default:
				break gather
			}
		}
		err := n.publishGroup(group)
		n.metrics.groupSize.Observe(float64(size))
		for _, r := range group {
			r.done <- err
		}
	}
}

// publishGroup publishes the changes of group as one delta. It is not
// cancelled: a half-published delta helps no one.
func (n *CRDTNamespace) publishGroup(group []*commitReq) error {
	ctx := context.Background()
	n.crdtMu.RLock()
	defer n.crdtMu.RUnlock()
	b, err := n.crdtDS().Batch(ctx)
	if err != nil {
		return err
	}
	for _, r := range group {
		for _, p := range r.puts {
			if err := b.Put(ctx, ds.NewKey(p.key), p.value); err != nil {
				return err
			}
		}
		for _, k := range r.dels {
			if err := b.Delete(ctx, ds.NewKey(k)); err != nil {
				return err
			}
		}
	}
	return b.Commit(ctx)
}

// publish hands puts and dels to the committer and waits until they are
// published (and applied to the index by the put hook). ctx bounds the
// wait for a turn only: once queued, the change is published.
func (n *CRDTNamespace) publish(ctx context.Context, puts []kv, dels []string) error {
	r := &commitReq{puts: puts, dels: dels, done: make(chan error, 1)}
	select {
	case n.commits <- r:
	case <-n.stopCommits:
		return errNamespaceClosed
	case <-ctx.Done():
		return fmt.Errorf("publish a namespace change: %w", ctx.Err())
	}
	return <-r.done
}
