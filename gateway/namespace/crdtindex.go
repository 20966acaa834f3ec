package namespace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The CRDTNamespace's local index lives in the PebbleNamespace database
// beside the keys PebbleNamespace itself reads (b/ and o/, so its GetBucket,
// ListBuckets, GetObject and Objects serve the replicated namespace
// unchanged) and beside the CRDT's own state (under /crdt):
//
//	v/<bucket>/<key>   winning entry of the key: kind, version, payload
//	w/<bucket>         bucket state: winning entry (kind, version, payload)
//	                   and the greatest delete-marker version seen (the
//	                   bucket's "cut")
//	s/<crdt key>       an entry this node wrote that no longer matters, and
//	                   when that became so (Unix ns): the prune queue
//	h/clock            the hybrid logical clock, so it never goes back
//	                   across restarts
//	c/dirty            present while the namespace is open; found at open,
//	                   it means the last run did not close cleanly and the
//	                   index is rebuilt from the CRDT
//
// Other owners (the replicator) have key spaces of their own (see
// keyspace.go), not derived from the CRDT, which a rebuild keeps.
//
// An object is visible (has an o/ key) when its winning entry is a put, its
// bucket's winning entry is a create, and its version is greater than the
// bucket's cut. Entries older than the cut are dead for ever: DeleteBucket
// removes every object written before it, wherever it was written.
// Every rule here compares versions only, so applying a set of entries in
// any order gives the same index.

func winnerKey(bucket, key string) []byte {
	k := make([]byte, 0, 3+len(bucket)+len(key))
	k = append(k, prefixWinner...)
	k = append(k, bucket...)
	k = append(k, '/')
	return append(k, key...)
}

func winnerPrefix(bucket string) []byte { return winnerKey(bucket, "") }

func bucketStateKey(bucket string) []byte { return append([]byte(prefixBState), bucket...) }

func pruneKey(crdtKey string) []byte { return append([]byte(prefixPrune), crdtKey...) }

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func readStr(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errBadEntry
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, errBadEntry
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// winner is the greatest entry of one key.
type winner struct {
	kind    byte
	version string
	payload []byte
}

func (w winner) encode() []byte {
	b := appendStr([]byte{w.kind}, w.version)
	return append(b, w.payload...)
}

func decodeWinner(b []byte) (winner, error) {
	if len(b) < 1 {
		return winner{}, errBadEntry
	}
	v, rest, err := readStr(b[1:])
	if err != nil {
		return winner{}, err
	}
	return winner{kind: b[0], version: v, payload: rest}, nil
}

// bucketState is a bucket's winning entry and cut. A zero kind means no
// entry has been seen.
type bucketState struct {
	winner
	cut string
}

func (s bucketState) exists() bool { return s.kind == entryCreate }

func (s bucketState) encode() []byte {
	b := appendStr([]byte{s.kind}, s.version)
	b = appendStr(b, s.cut)
	return append(b, s.payload...)
}

func decodeBucketState(b []byte) (bucketState, error) {
	if len(b) < 1 {
		return bucketState{}, errBadEntry
	}
	v, rest, err := readStr(b[1:])
	if err != nil {
		return bucketState{}, err
	}
	cut, rest, err := readStr(rest)
	if err != nil {
		return bucketState{}, err
	}
	return bucketState{winner: winner{kind: b[0], version: v, payload: rest}, cut: cut}, nil
}

func (n *CRDTNamespace) bucketState(name string) (bucketState, error) {
	v, ok, err := n.idx.get(bucketStateKey(name))
	if err != nil || !ok {
		return bucketState{}, err
	}
	return decodeBucketState(v)
}

// usage is a change in the visible objects: their count and the sum of
// their sizes (logical bytes).
type usage struct{ objects, bytes int64 }

func (u *usage) add(o usage) { u.objects += o.objects; u.bytes += o.bytes }

// visibleUsage is what the o/ key k contributes now: nothing when absent.
func (n *CRDTNamespace) visibleUsage(k []byte) (usage, error) {
	v, ok, err := n.idx.get(k)
	if err != nil || !ok {
		return usage{}, err
	}
	return payloadUsage(v), nil
}

// payloadUsage is the usage of one visible object record; a record that
// cannot be decoded counts as an object of size zero.
func payloadUsage(v []byte) usage {
	var r struct {
		Size int64 `json:"s"` // as objectRecordV1
	}
	_ = decodeV1(v, &r)
	return usage{objects: 1, bytes: max(r.Size, 0)}
}

// setVisible sets or deletes the o/ key of bucket/key in b and returns the
// change in usage.
func (n *CRDTNamespace) setVisible(b *pebble.Batch, bucket, key string, payload []byte, visible bool) (usage, error) {
	k := objectKey(bucket, key)
	before, err := n.visibleUsage(k)
	if err != nil {
		return usage{}, err
	}
	if !visible {
		return usage{objects: -before.objects, bytes: -before.bytes}, b.Delete(k, nil)
	}
	after := payloadUsage(payload)
	return usage{objects: after.objects - before.objects, bytes: after.bytes - before.bytes}, b.Set(k, payload, nil)
}

// countUsage sums the usage of every visible object (one pass over o/).
func (n *CRDTNamespace) countUsage() (usage, error) {
	p := []byte(prefixObject)
	it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return usage{}, err
	}
	defer it.Close()
	var u usage
	for ok := it.First(); ok; ok = it.Next() {
		u.add(payloadUsage(it.Value()))
	}
	return u, it.Error()
}

// own reports whether this node wrote version.
func (n *CRDTNamespace) own(version string) bool {
	return strings.HasSuffix(version, "."+n.cfg.NodeID) && len(version) == versionClockLen+1+len(n.cfg.NodeID)
}

// queuePrune adds the entry this node wrote under crdtKey to the prune
// queue, unless it is already there.
func (n *CRDTNamespace) queuePrune(b *pebble.Batch, crdtKey string) error {
	k := pruneKey(crdtKey)
	if _, ok, err := n.idx.get(k); err != nil || ok {
		return err
	}
	return b.Set(k, binary.BigEndian.AppendUint64(nil, uint64(n.cfg.Clock().UnixNano())), nil)
}

func (n *CRDTNamespace) saveClock(b *pebble.Batch) error {
	ms, c := n.clock.state()
	v := binary.BigEndian.AppendUint64(nil, uint64(ms))
	return b.Set(keyClock, binary.BigEndian.AppendUint32(v, c), nil)
}

// apply brings the index up to date with one CRDT entry. It is idempotent
// and order-independent.
func (n *CRDTNamespace) apply(crdtKey string, value []byte) (parsedKey, entry, error) {
	pk, err := parseEntryKey(crdtKey)
	if err != nil {
		return pk, entry{}, fmt.Errorf("apply %q: %w", crdtKey, err)
	}
	e, err := decodeEntry(value)
	if err != nil {
		return pk, e, fmt.Errorf("apply %q: %w", crdtKey, err)
	}
	if strings.Contains(pk.bucket, "/") {
		return pk, e, fmt.Errorf("apply %q: %w", crdtKey, errBadEntry)
	}
	ms, c, _, _ := parseVersion(pk.version)
	n.clock.observe(ms, c)
	if pk.object {
		if err := checkObjectEntry(pk, e); err != nil {
			return pk, e, fmt.Errorf("apply %q: %w: %w", crdtKey, errBadEntry, err)
		}
		err = n.applyObject(crdtKey, pk, e)
	} else {
		if e.kind != entryCreate && e.kind != entryDelete {
			return pk, e, fmt.Errorf("apply %q: %w", crdtKey, errBadEntry)
		}
		if e.kind == entryCreate {
			if _, err := decodeBucket(pk.bucket, e.payload); err != nil {
				return pk, e, fmt.Errorf("apply %q: %w: %w", crdtKey, errBadEntry, err)
			}
		}
		err = n.applyBucket(crdtKey, pk, e)
	}
	if err != nil {
		return pk, e, fmt.Errorf("apply %q: %w", crdtKey, err)
	}
	return pk, e, nil
}

func (n *CRDTNamespace) applyObject(crdtKey string, pk parsedKey, e entry) error {
	n.applyBucketMu.RLock()
	defer n.applyBucketMu.RUnlock()
	mu := n.applyLock(pk.bucket, pk.key)
	mu.Lock()
	defer mu.Unlock()

	// Indexed: applyVersion and latestVersion read what they write.
	b := n.idx.db.NewIndexedBatch()
	defer b.Close()
	bs, err := n.bucketState(pk.bucket)
	if err != nil {
		return err
	}
	if pk.version < bs.cut {
		// Written before the bucket was deleted: dead.
		if n.own(pk.version) {
			if err := n.queuePrune(b, crdtKey); err != nil {
				return err
			}
		}
		return b.Commit(n.idx.wo)
	}
	changed, err := n.applyVersion(b, crdtKey, pk, e)
	if err != nil {
		return err
	}
	if !changed {
		return b.Commit(n.idx.wo)
	}
	// The winner is the key's greatest live version (see crdtversions.go).
	latest, found, err := latestVersion(b, pk.bucket, pk.key)
	if err != nil {
		return err
	}
	wk := winnerKey(pk.bucket, pk.key)
	var cur winner
	if v, ok, err := n.idx.get(wk); err != nil {
		return err
	} else if ok {
		if cur, err = decodeWinner(v); err != nil {
			return err
		}
	}
	if found && cur.version == latest.version && cur.kind == latest.kind {
		return b.Commit(n.idx.wo)
	}
	if !found && cur.kind == 0 {
		return b.Commit(n.idx.wo)
	}
	if found {
		err = b.Set(wk, latest.encode(), nil)
	} else {
		err = b.Delete(wk, nil)
	}
	if err != nil {
		return err
	}
	visible := found && latest.kind == entryPut && bs.exists()
	du, err := n.setVisible(b, pk.bucket, pk.key, latest.payload, visible)
	if err != nil {
		return err
	}
	if err := n.saveClock(b); err != nil {
		return err
	}
	if err := b.Commit(n.idx.wo); err != nil {
		return err
	}
	n.addUsage(du)
	if visible {
		n.notifyObject(pk.bucket, pk.key, latest.payload, latest.version)
	}
	return nil
}

// notifyObject calls CRDTConfig.OnObject with a record made visible,
// written as version.
func (n *CRDTNamespace) notifyObject(bucket, key string, payload []byte, version string) {
	if n.cfg.OnObject == nil {
		return
	}
	if rec, err := decodeObject(bucket, key, payload); err == nil {
		if _, _, node, err := parseVersion(version); err == nil {
			rec.Writer = node
		}
		n.cfg.OnObject(rec)
	}
}

func (n *CRDTNamespace) applyBucket(crdtKey string, pk parsedKey, e entry) error {
	n.applyBucketMu.Lock()
	defer n.applyBucketMu.Unlock()

	b := n.idx.db.NewBatch()
	defer b.Close()
	bs, err := n.bucketState(pk.bucket)
	if err != nil {
		return err
	}
	wasVisible := bs.exists()
	cutMoved := false
	if e.kind == entryDelete && pk.version > bs.cut {
		bs.cut, cutMoved = pk.version, true
	}
	won := pk.version > bs.version
	if won {
		// Superseded bucket creates are pruned; delete markers are kept:
		// the cut is derived from them (see CRDTNamespace).
		if bs.kind == entryCreate && n.own(bs.version) {
			if err := n.queuePrune(b, bucketEntryKey(pk.bucket, bs.version)); err != nil {
				return err
			}
		}
		bs.winner = winner{kind: e.kind, version: pk.version, payload: e.payload}
	} else if pk.version < bs.version && e.kind == entryCreate && n.own(pk.version) {
		if err := n.queuePrune(b, crdtKey); err != nil {
			return err
		}
	}
	if !won && !cutMoved {
		return b.Commit(n.idx.wo)
	}
	if err := b.Set(bucketStateKey(pk.bucket), bs.encode(), nil); err != nil {
		return err
	}
	if bs.exists() {
		err = b.Set(bucketKey(pk.bucket), bs.payload, nil)
	} else {
		err = b.Delete(bucketKey(pk.bucket), nil)
	}
	if err != nil {
		return err
	}
	if cutMoved {
		if err := n.dropDeadVersions(b, pk.bucket, bs.cut); err != nil {
			return err
		}
	}
	var du usage
	var made []madeVisible
	if cutMoved || wasVisible != bs.exists() {
		if du, made, err = n.rescanBucket(b, pk.bucket, bs); err != nil {
			return err
		}
	}
	if err := n.saveClock(b); err != nil {
		return err
	}
	if err := b.Commit(n.idx.wo); err != nil {
		return err
	}
	n.addUsage(du)
	if won && bs.exists() && n.cfg.OnBucket != nil {
		if rec, err := decodeBucket(pk.bucket, bs.payload); err == nil {
			n.cfg.OnBucket(rec)
		}
	}
	if cutMoved || wasVisible != bs.exists() {
		for _, v := range made {
			n.notifyObject(pk.bucket, v.key, v.payload, v.version)
		}
	}
	return nil
}

// madeVisible is an object a bucket rescan made visible.
type madeVisible struct {
	key, version string
	payload      []byte
}

// rescanBucket recomputes the o/ keys of a bucket whose existence or cut
// changed, and drops the winners older than the cut (they are dead for
// ever, so a later older entry cannot matter either). It costs one pass
// over the bucket's winners; a bucket is normally empty when it is deleted.
// It also returns the objects it made visible (when OnObject is set).
func (n *CRDTNamespace) rescanBucket(b *pebble.Batch, bucket string, bs bucketState) (usage, []madeVisible, error) {
	var du usage
	var made []madeVisible
	p := winnerPrefix(bucket)
	it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return du, made, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		key := string(it.Key()[len(p):])
		w, err := decodeWinner(it.Value())
		if err != nil {
			return du, made, err
		}
		dead := w.version < bs.cut
		if dead {
			if n.own(w.version) {
				if err := n.queuePrune(b, objectEntryKey(bucket, key, w.version)); err != nil {
					return du, made, err
				}
			}
			if err := b.Delete(it.Key(), nil); err != nil {
				return du, made, err
			}
		}
		visible := !dead && w.kind == entryPut && bs.exists()
		d, err := n.setVisible(b, bucket, key, w.payload, visible)
		if err != nil {
			return du, made, err
		}
		du.add(d)
		if visible && d.objects > 0 && n.cfg.OnObject != nil {
			made = append(made, madeVisible{key: key, payload: slices.Clone(w.payload), version: w.version})
		}
	}
	return du, made, it.Error()
}

// clearIndex deletes every index key derived from the CRDT.
func (n *CRDTNamespace) clearIndex() error {
	b := n.idx.db.NewBatch()
	defer b.Close()
	for _, p := range indexPrefixes {
		if err := b.DeleteRange([]byte(p), upperBound([]byte(p)), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// loadClock restores the hybrid logical clock saved by earlier runs.
func (n *CRDTNamespace) loadClock() error {
	v, ok, err := n.idx.get(keyClock)
	if err != nil || !ok {
		return err
	}
	if len(v) != 12 {
		return errors.New("load clock: malformed")
	}
	n.clock.observe(int64(binary.BigEndian.Uint64(v)), binary.BigEndian.Uint32(v[8:]))
	return nil
}

// pruneDue returns up to limit prune-queue entries due at now.
func (n *CRDTNamespace) pruneDue(now time.Time, limit int) ([]string, error) {
	p := []byte(prefixPrune)
	it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		v := it.Value()
		if len(v) != 8 {
			out = append(out, string(it.Key()[len(p):])) // malformed: drop it
			continue
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		if !at.Add(n.cfg.PruneGrace).After(now) {
			out = append(out, string(it.Key()[len(p):]))
		}
	}
	return out, it.Error()
}
