package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The node's local database is one Pebble database with a key space per
// owner. This file is the one place that names them: every key begins
// with one of these prefixes, and no code outside this package reads or
// writes the database except through a Keyspace handed out here.
//
// The namespace's own key spaces:
//
//	b/<bucket>          visible bucket record (the local index)
//	o/<bucket>/<key>    visible object record (the local index)
//	v/<bucket>/<key>    winning entry of a key: kind, version, payload
//	x/<bucket>/<key>…   every version of a key, newest first (see
//	                    crdtversions.go)
//	w/<bucket>          bucket state: winning entry and the bucket's cut
//	s/<crdt key>        the prune queue: an entry this node wrote that no
//	                    longer matters, and since when
//	h/clock             the hybrid logical clock
//	c/dirty, c/format   open marker (a rebuild follows an unclean stop)
//	                    and the database's format
//	c/epoch             the current epoch: its generation here, its
//	                    number and its seed snapshot (crdtepoch.go)
//	c/index             the index's format: a rebuild follows a change
//	m/                  legacy records staged by the migration
//	/crdt/              go-ds-crdt's own state, generation 0
//	/crdt.<gen>/        go-ds-crdt's state of a later generation (one per
//	                    epoch this node moved to; only the current one is
//	                    kept)
//	/s3mesh-walk/       the walk journal (crdtwalk.go)
//
// Multipart state, local to the node and never replicated:
//
//	u/<bucket>/<key>\x00<id>      upload record
//	p/<bucket>/<id>/<number>      part record
//	k/<bucket>/<id>               completed upload: what its completion
//	                              answered, kept CompletedRetention so that
//	                              a retried completion answers the same
//
// Handed out to other owners (see Keyspace):
//
//	r/                  the replicator's queue and done markers
//
// The index prefixes (b/ o/ v/ w/ s/ x/) are derived from the CRDT and
// cleared by a rebuild; every other key space survives it.
const (
	prefixBucket  = "b/"
	prefixObject  = "o/"
	prefixWinner  = "v/"
	prefixBState  = "w/"
	prefixPrune   = "s/"
	prefixUpload  = "u/"
	prefixPart    = "p/"
	prefixDone    = "k/"
	prefixStage   = "m/"
	prefixCRDT    = "/crdt"
	prefixReplica = "r/"
)

var (
	keyClock  = []byte("h/clock")
	keyDirty  = []byte("c/dirty")
	keyFormat = []byte("c/format")
	// keyIndexFormat holds indexFormat; an index of another format (or
	// none: made before versions) is rebuilt at open.
	keyIndexFormat = []byte("c/index")
	indexFormat    = []byte("2")

	// indexPrefixes are the prefixes a rebuild clears.
	indexPrefixes = []string{prefixBucket, prefixObject, prefixWinner, prefixBState, prefixPrune, prefixVersion}
)

// Owners of a key space outside the namespace (see Keyspace).
const (
	// OwnerReplicate is the replicator's key space: its queue and done
	// markers, a cache of work it can recompute (writes are not synced).
	OwnerReplicate = "replicate"
)

// keyspaces maps an outside owner to its prefix and durability.
var keyspaces = map[string]struct {
	prefix string
	sync   bool
}{
	OwnerReplicate: {prefix: prefixReplica, sync: false},
}

// Keyspace is one owner's key space in the node's local database: keys
// are relative to it, and it reaches no other owner's keys. Its methods
// are safe for concurrent use; it is valid until the namespace is closed.
type Keyspace struct {
	db     *pebble.DB
	prefix []byte
	wo     *pebble.WriteOptions
}

// Keyspace returns the key space of owner (an Owner* constant).
func (n *CRDTNamespace) Keyspace(owner string) (*Keyspace, error) {
	ks, ok := keyspaces[owner]
	if !ok {
		return nil, fmt.Errorf("namespace: no key space for %q", owner)
	}
	wo := pebble.NoSync
	if ks.sync && !n.cfg.NoSync {
		wo = pebble.Sync
	}
	return &Keyspace{db: n.idx.db, prefix: []byte(ks.prefix), wo: wo}, nil
}

func (k *Keyspace) key(rel []byte) []byte {
	out := make([]byte, 0, len(k.prefix)+len(rel))
	return append(append(out, k.prefix...), rel...)
}

// Get returns a copy of the value of key and whether it is there.
func (k *Keyspace) Get(key []byte) ([]byte, bool, error) {
	v, closer, err := k.db.Get(k.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, true, nil
}

// Set writes key.
func (k *Keyspace) Set(key, value []byte) error { return k.db.Set(k.key(key), value, k.wo) }

// DeleteRange deletes every key that begins with prefix.
func (k *Keyspace) DeleteRange(prefix []byte) error {
	p := k.key(prefix)
	return k.db.DeleteRange(p, upperBound(p), k.wo)
}

// Scan returns an iterator over the keys that begin with prefix, in byte
// order. Close it.
func (k *Keyspace) Scan(ctx context.Context, prefix []byte) (*KeyspaceIter, error) {
	p := k.key(prefix)
	it, err := k.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return nil, err
	}
	return &KeyspaceIter{it: it, strip: len(k.prefix)}, nil
}

// KeyspaceIter iterates over part of a Keyspace: for ok := it.First(); ok;
// ok = it.Next() { … }, then Error and Close.
type KeyspaceIter struct {
	it    *pebble.Iterator
	strip int
}

// First moves to the first key and reports whether there is one.
func (i *KeyspaceIter) First() bool { return i.it.First() }

// Next moves to the next key and reports whether there is one.
func (i *KeyspaceIter) Next() bool { return i.it.Next() }

// Key returns the current key, relative to the key space; valid until the
// next move.
func (i *KeyspaceIter) Key() []byte { return i.it.Key()[i.strip:] }

// Value returns the current value; valid until the next move.
func (i *KeyspaceIter) Value() []byte { return i.it.Value() }

// Error returns the iteration's error.
func (i *KeyspaceIter) Error() error { return i.it.Error() }

// Close releases the iterator.
func (i *KeyspaceIter) Close() error { return i.it.Close() }

// KeyspaceBatch is a set of writes to a Keyspace applied atomically by
// Commit. Close it.
type KeyspaceBatch struct {
	k *Keyspace
	b *pebble.Batch
}

// NewBatch returns an empty batch.
func (k *Keyspace) NewBatch() *KeyspaceBatch { return &KeyspaceBatch{k: k, b: k.db.NewBatch()} }

// Set adds a write of key.
func (b *KeyspaceBatch) Set(key, value []byte) error { return b.b.Set(b.k.key(key), value, nil) }

// Delete adds a deletion of key.
func (b *KeyspaceBatch) Delete(key []byte) error { return b.b.Delete(b.k.key(key), nil) }

// Commit applies the batch.
func (b *KeyspaceBatch) Commit() error { return b.b.Commit(b.k.wo) }

// Close releases the batch.
func (b *KeyspaceBatch) Close() error { return b.b.Close() }
