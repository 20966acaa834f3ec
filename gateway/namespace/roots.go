package namespace

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/ipfs/go-cid"
)

// The roots of what this node keeps: upkeep (garbage collection, fsck, the
// usage scan) and replication ask the namespace for them through these
// methods, never by reading its keys.

// WinningRoots calls fn with the root of every key's winning put entry in
// the index, whether its object is visible or not (see CRDTNamespace,
// Bucket deletion), and whether this node wrote it.
func (n *CRDTNamespace) WinningRoots(ctx context.Context, fn func(bucket, key, root string, own bool) error) error {
	it, err := n.idx.prefixIter(ctx, []byte(prefixWinner))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		w, err := decodeWinner(it.Value())
		if err != nil || w.kind != entryPut {
			continue
		}
		bucket, key, found := bytes.Cut(it.Key()[len(prefixWinner):], []byte("/"))
		if !found {
			continue
		}
		rec, err := decodeObject(string(bucket), string(key), w.payload)
		if err != nil {
			return err // its root is unknown: nothing may be removed
		}
		if err := fn(rec.Bucket, rec.Key, rec.Root, n.own(w.version)); err != nil {
			return err
		}
	}
	return it.Error()
}

// PartRoots calls fn with the root of every part of every upload in
// progress, in every bucket (one scan of the part records).
func (n *PebbleNamespace) PartRoots(ctx context.Context, fn func(ref UploadRef, number int, root string) error) error {
	it, err := n.prefixIter(ctx, []byte(prefixPart))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		// p/<bucket>/<id>/<number>
		var ref UploadRef
		rest := it.Key()[len(prefixPart):]
		b, rest, _ := bytes.Cut(rest, []byte("/"))
		id, num, _ := bytes.Cut(rest, []byte("/"))
		ref.Bucket, ref.ID = string(b), string(id)
		number, _ := strconv.Atoi(string(num)) // for messages only
		p, err := decodePart(number, it.Value())
		if err != nil {
			return err
		}
		if err := fn(ref, number, p.Root); err != nil {
			return err
		}
	}
	return it.Error()
}

// WrittenHere reports whether the winning entry of bucket/key was written
// by this node; a key with no entry counts as this node's.
func (n *CRDTNamespace) WrittenHere(bucket, key string) (bool, error) {
	w, ok, err := n.winnerOf(bucket, key)
	if err != nil || !ok {
		return !ok && err == nil, err
	}
	return n.own(w.version), nil
}

// Writer returns the NodeID of the node that wrote the winning entry of
// bucket/key; "" when the key has no entry.
func (n *CRDTNamespace) Writer(bucket, key string) (string, error) {
	w, ok, err := n.winnerOf(bucket, key)
	if err != nil || !ok {
		return "", err
	}
	_, _, node, err := parseVersion(w.version)
	if err != nil {
		return "", fmt.Errorf("object %s/%s: %w", bucket, key, err)
	}
	return node, nil
}

// winnerOf returns the winning entry of bucket/key and whether there is
// one.
func (n *CRDTNamespace) winnerOf(bucket, key string) (winner, bool, error) {
	v, ok, err := n.idx.get(winnerKey(bucket, key))
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("object %s/%s: %w", bucket, key, err)
		}
		return winner{}, false, err
	}
	w, err := decodeWinner(v)
	if err != nil {
		return winner{}, false, fmt.Errorf("object %s/%s: %w", bucket, key, err)
	}
	return w, true, nil
}

// Heads returns the roots of what the namespace keeps in the block store:
// the current epoch's CRDT heads (its DAG of deltas) and the root of the
// snapshot the epoch started from. Deltas of earlier epochs are not
// reachable from them: GC collects them.
func (n *CRDTNamespace) Heads(ctx context.Context) []cid.Cid {
	cur := n.cur.Load()
	hs := cur.crdt.InternalStats(ctx).Heads
	if cur.id.seed.Defined() {
		hs = append(hs, cur.id.seed)
	}
	return hs
}
