package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Migration from the single-node format.
//
// Before the namespace was replicated, a data directory's namespace
// database was written by PebbleNamespace alone: b/ and o/ keys (and the
// multipart state, u/ and p/, which the CRDT namespace keeps as it is),
// with no CRDT entry behind them. The CRDT namespace marks the databases it
// has opened with c/format. Opening an unmarked database that holds
// buckets but no CRDT state migrates it:
//
//  1. stageLegacy copies every b/ and o/ record under m/ (a prefix a
//     rebuild never clears) and sets c/format, in one synced batch;
//  2. migrateStaged publishes each staged bucket, then each staged object,
//     as a CRDT entry of this node (up to pruneBatch per delta), and
//     deletes the staged records of each delta once it is committed.
//
// A crash during step 2 leaves the remaining staged records; the next open
// publishes them (an index rebuild does not touch m/), skipping those whose
// key already has an entry. Peers then receive the migrated records like
// any other write.

const (
	crdtFormatV1 = "crdt-v1"
	stagePrefix  = prefixStage
)

func (n *CRDTNamespace) hasPrefix(p string) (bool, error) {
	it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: upperBound([]byte(p))})
	if err != nil {
		return false, err
	}
	found := it.First()
	return found, errors.Join(it.Error(), it.Close())
}

// stageLegacy marks the database as the CRDT namespace's and, when it was
// written by PebbleNamespace, stages its records for migrateStaged. It
// reports whether records are staged (now or by an earlier, interrupted
// open).
func (n *CRDTNamespace) stageLegacy() (bool, error) {
	_, marked, err := n.idx.get(keyFormat)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	if marked {
		return n.hasPrefix(stagePrefix)
	}
	legacy, err := n.hasPrefix(prefixBucket)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	for _, p := range []string{prefixBState, prefixCRDT} {
		// Already a CRDT namespace, from before the marker existed.
		if crdtState, err := n.hasPrefix(p); err != nil || crdtState {
			legacy = false
			if err != nil {
				return false, fmt.Errorf("migrate: %w", err)
			}
		}
	}
	b := n.idx.db.NewBatch()
	defer b.Close()
	staged := 0
	if legacy {
		for _, p := range []string{prefixBucket, prefixObject} {
			it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: upperBound([]byte(p))})
			if err != nil {
				return false, fmt.Errorf("migrate: %w", err)
			}
			for ok := it.First(); ok; ok = it.Next() {
				if err := b.Set(append([]byte(stagePrefix), it.Key()...), it.Value(), nil); err != nil {
					it.Close()
					return false, fmt.Errorf("migrate: %w", err)
				}
				staged++
			}
			if err := errors.Join(it.Error(), it.Close()); err != nil {
				return false, fmt.Errorf("migrate: %w", err)
			}
		}
	}
	if err := b.Set(keyFormat, []byte(crdtFormatV1), nil); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	if legacy {
		n.log.Info("namespace written by a single-node version: publishing its records as replicated entries", "records", staged)
	}
	return legacy && staged > 0, nil
}

// migrateStaged publishes the staged records (see stageLegacy), buckets
// first, so that objects land in existing buckets on every node.
func (n *CRDTNamespace) migrateStaged(ctx context.Context, staged bool) error {
	if !staged {
		return nil
	}
	total := 0
	for _, p := range []string{stagePrefix + prefixBucket, stagePrefix + prefixObject} {
		for {
			c, err := n.migrateBatch(ctx, p)
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			total += c
			if c == 0 {
				break
			}
		}
	}
	n.log.Info("namespace migrated", "published", total)
	return nil
}

type stagedRecord struct {
	key, value []byte
}

// migrateBatch publishes up to pruneBatch staged records under prefix p as
// one delta, deletes them from the stage and returns how many it took off
// the stage (0 when none is left).
func (n *CRDTNamespace) migrateBatch(ctx context.Context, p string) (int, error) {
	it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: upperBound([]byte(p))})
	if err != nil {
		return 0, err
	}
	var recs []stagedRecord
	for ok := it.First(); ok && len(recs) < pruneBatch; ok = it.Next() {
		recs = append(recs, stagedRecord{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	var pub []kv
	for _, r := range recs {
		k, e, skip, err := n.migrationEntry(r)
		if err != nil {
			return 0, err
		}
		if !skip {
			pub = append(pub, kv{k, e.encode()})
		}
	}
	if len(pub) > 0 {
		if err := n.publish(ctx, pub, nil); err != nil {
			return 0, err
		}
		for _, e := range pub {
			if _, _, err := n.apply(e.key, e.value); err != nil {
				return 0, err
			}
		}
	}
	pb := n.idx.db.NewBatch()
	defer pb.Close()
	for _, r := range recs {
		if err := pb.Delete(r.key, nil); err != nil {
			return 0, err
		}
	}
	if err := pb.Commit(pebble.Sync); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// migrationEntry returns the CRDT key and entry that publish a staged
// record, or skip when its bucket or key already has an entry (published
// by an interrupted migration, or written since).
func (n *CRDTNamespace) migrationEntry(r stagedRecord) (string, entry, bool, error) {
	k := r.key[len(stagePrefix):]
	now := n.cfg.Clock()
	switch {
	case bytes.HasPrefix(k, []byte(prefixBucket)):
		name := string(k[2:])
		if _, err := decodeBucket(name, r.value); err != nil {
			return "", entry{}, false, err
		}
		bs, err := n.bucketState(name)
		if err != nil {
			return "", entry{}, false, err
		}
		if bs.kind != 0 {
			return "", entry{}, true, nil
		}
		ms, c := n.clock.next()
		return bucketEntryKey(name, formatVersion(ms, c, n.cfg.NodeID)), entry{kind: entryCreate, written: now, payload: r.value}, false, nil
	case bytes.HasPrefix(k, []byte(prefixObject)):
		bucket, key, ok := bytes.Cut(k[2:], []byte("/"))
		if !ok || len(bucket) == 0 || len(key) == 0 {
			return "", entry{}, false, fmt.Errorf("malformed staged record %q", r.key)
		}
		if _, err := decodeObject(string(bucket), string(key), r.value); err != nil {
			return "", entry{}, false, err
		}
		_, has, err := n.idx.get(winnerKey(string(bucket), string(key)))
		if err != nil {
			return "", entry{}, false, err
		}
		if has {
			return "", entry{}, true, nil
		}
		ms, c := n.clock.next()
		return objectEntryKey(string(bucket), string(key), formatVersion(ms, c, n.cfg.NodeID)), entry{kind: entryPut, written: now, payload: r.value}, false, nil
	}
	return "", entry{}, false, fmt.Errorf("malformed staged record %q", r.key)
}
