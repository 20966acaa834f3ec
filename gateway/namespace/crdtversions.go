package namespace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"s3mesh/s3api/s3err"
)

// Versions.
//
// Every object entry is already an immutable, versioned CRDT key (see
// crdtentry.go). The index keeps, per key, every entry that is still a
// version of the key, newest first:
//
//	x/<bucket>/<esc(key)>\x00\x01<inv(version)>   kind, version, payload
//
// esc doubles as \x00\xff every NUL byte of the key, so that x/ sorts by
// key, then by version, and a key's versions are one contiguous range;
// inv complements the bytes of version+"\x00", so the newest version comes
// first.
//
// Which entries are versions depends only on the set of entries, never on
// the order they arrive in:
//
//   - A put (P) or delete marker (M) written while its bucket's versioning
//     was Enabled is a version until a removal (R) names it.
//   - Every other object entry (P or M written in an unversioned or
//     suspended bucket, and the unversioned delete D) is the key's "null"
//     version: only the greatest null entry of a key is kept, the others
//     are superseded, as today's last-writer-wins.
//   - A removal (DELETE with a versionId) leaves a tombstone in place of
//     the version it names, so the version stays removed whenever it
//     arrives; a tombstone of a null version is superseded like one.
//   - Entries older than the bucket's cut are dead (see CRDTNamespace).
//
// The key's winner (v/, and o/ when it is a put) is its greatest version
// that is not a tombstone; a D winner means the key is absent, and is
// never listed. An entry this node wrote is queued for pruning when it
// stops being a version (superseded, removed, below the cut): versions of
// a versioned bucket are never pruned while they are versions. Removals
// and markers are not pruned either (a removal must keep its version out).
const prefixVersion = "x/"

// marker is the payload of a delete marker entry (M).
type markerV1 struct {
	Modified  int64 `json:"m"` // Unix ns
	Versioned bool  `json:"vv,omitempty"`
}

// removeV1 is the payload of a removal entry (R).
type removeV1 struct {
	Version string `json:"v"`
	// Null is true when the removed version is a null version.
	Null bool `json:"n,omitempty"`
}

func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs
	}
	return b
}

// checkObjectEntry checks an object entry's kind and payload.
func checkObjectEntry(pk parsedKey, e entry) error {
	switch e.kind {
	case entryPut:
		_, err := decodeObject(pk.bucket, pk.key, e.payload)
		return err
	case entryDelete:
		return nil
	case entryMarker:
		var m markerV1
		return json.Unmarshal(e.payload, &m)
	case entryRemove:
		var r removeV1
		if err := json.Unmarshal(e.payload, &r); err != nil {
			return err
		}
		_, _, _, err := parseVersion(r.Version)
		return err
	}
	return errBadEntry
}

// tombstone is the kind of the x/ value that stands for a removed version;
// its payload is one byte, 1 when the version was a null version.
const tombstone = entryRemove

// versionNull reports whether an x/ value is (or stood for) a null version.
func versionNull(w winner) bool {
	switch w.kind {
	case entryPut:
		var r struct {
			Versioned bool `json:"vv"` // as objectRecordV1
		}
		_ = decodeV1(w.payload, &r)
		return !r.Versioned
	case entryMarker:
		var m markerV1
		_ = json.Unmarshal(w.payload, &m)
		return !m.Versioned
	case tombstone:
		return len(w.payload) == 1 && w.payload[0] == 1
	}
	return true // entryDelete
}

func escKey(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		b = append(b, key[i])
		if key[i] == 0 {
			b = append(b, 0xff)
		}
	}
	return append(b, 0, 1)
}

func versionBucketPrefix(bucket string) []byte {
	k := make([]byte, 0, 3+len(bucket))
	k = append(k, prefixVersion...)
	k = append(k, bucket...)
	return append(k, '/')
}

func versionKeyPrefix(bucket, key string) []byte {
	return escKey(versionBucketPrefix(bucket), key)
}

func versionKey(bucket, key, version string) []byte {
	k := versionKeyPrefix(bucket, key)
	for i := 0; i < len(version); i++ {
		k = append(k, ^version[i])
	}
	return append(k, 0xff)
}

// splitVersionKey returns the key and version of an x/ key relative to
// its bucket prefix.
func splitVersionKey(rel []byte) (key, version string, err error) {
	kb := make([]byte, 0, len(rel))
	i := 0
	for ; i+1 < len(rel); i++ {
		if rel[i] != 0 {
			kb = append(kb, rel[i])
			continue
		}
		if rel[i+1] == 0xff {
			kb = append(kb, 0)
			i++
			continue
		}
		if rel[i+1] != 1 {
			return "", "", errBadEntry
		}
		break
	}
	if i+1 >= len(rel) {
		return "", "", errBadEntry
	}
	inv := rel[i+2:]
	if len(inv) < 1 || inv[len(inv)-1] != 0xff {
		return "", "", errBadEntry
	}
	vb := make([]byte, len(inv)-1)
	for j := range vb {
		vb[j] = ^inv[j]
	}
	return string(kb), string(vb), nil
}

// reader is a *pebble.DB or an indexed *pebble.Batch.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func getValue(r reader, k []byte) ([]byte, bool, error) {
	v, c, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	c.Close()
	return out, true, nil
}

// keyVersions returns the x/ entries of bucket/key, newest first.
func keyVersions(r reader, bucket, key string) ([]winner, error) {
	p := versionKeyPrefix(bucket, key)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []winner
	for ok := it.First(); ok; ok = it.Next() {
		w, err := decodeWinner(bytes.Clone(it.Value()))
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, it.Error()
}

// latestVersion returns the key's greatest version that is not a
// tombstone: its winner.
func latestVersion(r reader, bucket, key string) (winner, bool, error) {
	vs, err := keyVersions(r, bucket, key)
	if err != nil {
		return winner{}, false, err
	}
	for _, w := range vs {
		if w.kind != tombstone {
			return w, true, nil
		}
	}
	return winner{}, false, nil
}

// applyVersion updates the x/ entries of the key with one entry and
// reports whether they changed.
func (n *CRDTNamespace) applyVersion(b *pebble.Batch, crdtKey string, pk parsedKey, e entry) (bool, error) {
	prune := func(version string) error {
		if !n.own(version) {
			return nil
		}
		return n.queuePrune(b, objectEntryKey(pk.bucket, pk.key, version))
	}
	if e.kind == entryRemove {
		var rm removeV1
		if err := json.Unmarshal(e.payload, &rm); err != nil {
			return false, errBadEntry
		}
		tk := versionKey(pk.bucket, pk.key, rm.Version)
		cur, ok, err := getValue(b, tk)
		if err != nil {
			return false, err
		}
		null := rm.Null
		if ok {
			w, err := decodeWinner(cur)
			if err != nil {
				return false, err
			}
			if w.kind == tombstone {
				return false, nil
			}
			null = versionNull(w)
			if err := prune(rm.Version); err != nil {
				return false, err
			}
		} else if null {
			// A greater null version supersedes this one already.
			if sup, err := n.nullSuperseded(b, pk, rm.Version); err != nil || sup {
				return false, err
			}
		}
		flag := []byte{0}
		if null {
			flag[0] = 1
		}
		return true, b.Set(tk, winner{kind: tombstone, version: rm.Version, payload: flag}.encode(), nil)
	}
	xk := versionKey(pk.bucket, pk.key, pk.version)
	if _, ok, err := getValue(b, xk); err != nil || ok {
		// Applied already, or removed: a tombstone stands in its place.
		if ok && n.own(pk.version) {
			if cur, _, _ := getValue(b, xk); len(cur) > 0 && cur[0] == tombstone {
				err = n.queuePrune(b, crdtKey)
			}
		}
		return false, err
	}
	w := winner{kind: e.kind, version: pk.version, payload: e.payload}
	if versionNull(w) {
		vs, err := keyVersions(b, pk.bucket, pk.key)
		if err != nil {
			return false, err
		}
		for _, o := range vs {
			if !versionNull(o) {
				continue
			}
			if o.version > pk.version {
				// Superseded by a greater null version.
				return false, prune(pk.version)
			}
			if err := b.Delete(versionKey(pk.bucket, pk.key, o.version), nil); err != nil {
				return false, err
			}
			if o.kind != tombstone {
				if err := prune(o.version); err != nil {
					return false, err
				}
			}
		}
	}
	return true, b.Set(xk, w.encode(), nil)
}

// nullSuperseded reports whether bucket/key has a null version (or null
// tombstone) greater than version.
func (n *CRDTNamespace) nullSuperseded(r reader, pk parsedKey, version string) (bool, error) {
	vs, err := keyVersions(r, pk.bucket, pk.key)
	if err != nil {
		return false, err
	}
	for _, o := range vs {
		if versionNull(o) && o.version > version {
			return true, nil
		}
	}
	return false, nil
}

// dropDeadVersions deletes the x/ entries of bucket older than cut, and
// queues for pruning those this node wrote.
func (n *CRDTNamespace) dropDeadVersions(b *pebble.Batch, bucket, cut string) error {
	p := versionBucketPrefix(bucket)
	it, err := n.idx.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		key, version, err := splitVersionKey(it.Key()[len(p):])
		if err != nil || version >= cut {
			continue
		}
		if n.own(version) {
			if err := n.queuePrune(b, objectEntryKey(bucket, key, version)); err != nil {
				return err
			}
		}
		if err := b.Delete(bytes.Clone(it.Key()), nil); err != nil {
			return err
		}
	}
	return it.Error()
}

// versionRecord makes the ObjectRecord of a version (not a tombstone).
func versionRecord(bucket, key string, w winner) (*ObjectRecord, error) {
	switch w.kind {
	case entryPut:
		rec, err := decodeObject(bucket, key, w.payload)
		if err != nil {
			return nil, err
		}
		rec.Version = w.version
		return rec, nil
	case entryMarker:
		var m markerV1
		if err := json.Unmarshal(w.payload, &m); err != nil {
			return nil, fmt.Errorf("decode delete marker %s/%s: %w", bucket, key, err)
		}
		return &ObjectRecord{
			Bucket: bucket, Key: key, LastModified: time.Unix(0, m.Modified).UTC(),
			Versioned: m.Versioned, Version: w.version, DeleteMarker: true,
		}, nil
	}
	return nil, errBadEntry
}

// bucketVersioning returns the bucket's versioning state, or
// s3err.ErrNoSuchBucket.
func (n *CRDTNamespace) bucketVersioning(ctx context.Context, bucket string) (string, error) {
	b, err := n.idx.GetBucket(ctx, bucket)
	if err != nil {
		return "", err
	}
	return b.Versioning, nil
}

// resolveVersion returns the x/ entry of bucket/key named by the S3
// version ID id ("null" for the null version), and whether there is one
// that is not a tombstone.
func (n *CRDTNamespace) resolveVersion(bucket, key, id string) (winner, bool, error) {
	if id == "null" {
		vs, err := keyVersions(n.idx.db, bucket, key)
		if err != nil {
			return winner{}, false, err
		}
		for _, w := range vs {
			if versionNull(w) {
				return w, w.kind != tombstone && w.kind != entryDelete, nil
			}
		}
		return winner{}, false, nil
	}
	if _, _, _, err := parseVersion(id); err != nil {
		return winner{}, false, nil
	}
	v, ok, err := getValue(n.idx.db, versionKey(bucket, key, id))
	if err != nil || !ok {
		return winner{}, false, err
	}
	w, err := decodeWinner(v)
	if err != nil {
		return winner{}, false, err
	}
	return w, w.kind == entryPut || w.kind == entryMarker, nil
}

// ValidVersionID reports whether id can name a version: "null" or a
// namespace version.
func ValidVersionID(id string) bool {
	if id == "null" {
		return true
	}
	_, _, _, err := parseVersion(id)
	return err == nil && ValidNodeID(id[versionClockLen+1:])
}

// ObjectVersion returns the version of bucket/key named by the S3 version
// ID id ("null" for the null version; "" for the current one, which is
// s3err.ErrNoSuchKey when it is a delete marker or absent). A delete
// marker is returned as a record with DeleteMarker set. It returns
// s3err.ErrNoSuchBucket, s3err.ErrNoSuchKey or s3err.ErrNoSuchVersion.
func (n *CRDTNamespace) ObjectVersion(ctx context.Context, bucket, key, id string) (*ObjectRecord, error) {
	if _, err := n.bucketVersioning(ctx, bucket); err != nil {
		return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, err)
	}
	if id == "" {
		w, ok, err := latestVersion(n.idx.db, bucket, key)
		if err != nil {
			return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, err)
		}
		if !ok || w.kind == entryDelete {
			return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, s3err.ErrNoSuchKey)
		}
		rec, err := versionRecord(bucket, key, w)
		if err != nil {
			return nil, err
		}
		if rec.DeleteMarker {
			return rec, fmt.Errorf("get object %s/%s: %w", bucket, key, s3err.ErrNoSuchKey)
		}
		return rec, nil
	}
	w, ok, err := n.resolveVersion(bucket, key, id)
	if err != nil {
		return nil, fmt.Errorf("get object %s/%s version %s: %w", bucket, key, id, err)
	}
	if !ok {
		return nil, fmt.Errorf("get object %s/%s version %s: %w", bucket, key, id, s3err.ErrNoSuchVersion)
	}
	return versionRecord(bucket, key, w)
}

// DeleteCurrent deletes bucket/key as S3 does without a version ID: in a
// bucket whose versioning is Enabled it adds a delete marker version; in
// a suspended bucket, a delete marker that is the null version; in an
// unversioned bucket it deletes the key (as DeleteObject; nothing is
// written when the key is absent). It returns the delete marker written
// (nil when none), or s3err.ErrNoSuchBucket.
func (n *CRDTNamespace) DeleteCurrent(ctx context.Context, bucket, key string) (*ObjectRecord, error) {
	if err := validObjectName(bucket, key); err != nil {
		return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	unlock, err := n.lockObject(bucket, key)
	if err != nil {
		return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	defer unlock()
	vs, err := n.bucketVersioning(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	if vs == "" {
		return nil, n.deleteUnversioned(ctx, bucket, key)
	}
	now := n.cfg.Clock()
	m := markerV1{Modified: now.UnixNano(), Versioned: vs == VersioningEnabled}
	ver, err := n.commitVersion(ctx, entryMarker, encodeJSON(m), func(ver string) string { return objectEntryKey(bucket, key, ver) })
	if err != nil {
		return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	return &ObjectRecord{Bucket: bucket, Key: key, LastModified: time.Unix(0, m.Modified).UTC(),
		Versioned: m.Versioned, Version: ver, DeleteMarker: true}, nil
}

// DeleteVersion removes the version of bucket/key named by the S3 version
// ID id ("null" for the null version) and returns it, or nil when there
// is no such version (which is not an error, as in S3). Removing the
// current version makes the previous one current. It returns
// s3err.ErrNoSuchBucket.
func (n *CRDTNamespace) DeleteVersion(ctx context.Context, bucket, key, id string) (*ObjectRecord, error) {
	if err := validObjectName(bucket, key); err != nil {
		return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	unlock, err := n.lockObject(bucket, key)
	if err != nil {
		return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	defer unlock()
	w, ok, err := n.resolveVersion(bucket, key, id)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("delete object %s/%s version %s: %w", bucket, key, id, err)
		}
		return nil, err
	}
	rec, err := versionRecord(bucket, key, w)
	if err != nil {
		return nil, err
	}
	rm := removeV1{Version: w.version, Null: !rec.Versioned}
	if _, err := n.commitVersion(ctx, entryRemove, encodeJSON(rm), func(ver string) string { return objectEntryKey(bucket, key, ver) }); err != nil {
		return nil, fmt.Errorf("delete object %s/%s version %s: %w", bucket, key, id, err)
	}
	return rec, nil
}

// hasVersions reports whether bucket holds a version (a put or a delete
// marker), current or not.
func (n *CRDTNamespace) hasVersions(ctx context.Context, bucket string) (bool, error) {
	p := versionBucketPrefix(bucket)
	it, err := n.idx.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return false, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if k := it.Value(); len(k) > 0 && (k[0] == entryPut || k[0] == entryMarker) {
			return true, nil
		}
	}
	return false, it.Error()
}

// VersionRoots calls fn with the root of every version of every key that
// is a put: current or not, visible or not (see WinningRoots), and
// whether this node wrote it. It is a superset of WinningRoots.
func (n *CRDTNamespace) VersionRoots(ctx context.Context, fn func(bucket, key, root string, own bool) error) error {
	it, err := n.idx.prefixIter(ctx, []byte(prefixVersion))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) == 0 || v[0] != entryPut {
			continue
		}
		w, err := decodeWinner(v)
		if err != nil {
			return err
		}
		bucket, rel, found := bytes.Cut(it.Key()[len(prefixVersion):], []byte("/"))
		if !found {
			continue
		}
		key, _, err := splitVersionKey(rel)
		if err != nil {
			return err
		}
		rec, err := decodeObject(string(bucket), key, w.payload)
		if err != nil {
			return err // its root is unknown: nothing may be removed
		}
		if err := fn(rec.Bucket, rec.Key, rec.Root, n.own(w.version)); err != nil {
			return err
		}
	}
	return it.Error()
}

// VersionIterator walks a bucket's versions: by key, then newest first.
// Tombstones and unversioned deletes are skipped. It is not safe for
// concurrent use; Close it.
type VersionIterator struct {
	it     *pebble.Iterator
	prefix []byte
	bucket string
	rec    *ObjectRecord
	latest bool
	// lastKey is the key of the previous entry seen (listed or not), and
	// seenLatest whether that key's winner has been passed.
	lastKey    string
	started    bool
	seenLatest bool
	pending    bool
	err        error
}

// Versions returns an iterator over bucket's versions starting at the
// first key >= start. It returns s3err.ErrNoSuchBucket.
func (n *CRDTNamespace) Versions(ctx context.Context, bucket, start string) (*VersionIterator, error) {
	if _, err := n.bucketVersioning(ctx, bucket); err != nil {
		return nil, fmt.Errorf("list versions %s: %w", bucket, err)
	}
	p := versionBucketPrefix(bucket)
	it, err := n.idx.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return nil, fmt.Errorf("list versions %s: %w", bucket, err)
	}
	vi := &VersionIterator{it: it, prefix: p, bucket: bucket}
	vi.Seek(start)
	return vi, nil
}

// Seek moves so that the next Next returns the first version of the first
// key >= key.
func (vi *VersionIterator) Seek(key string) {
	vi.started = false
	vi.lastKey = ""
	k := escKey(bytes.Clone(vi.prefix), key)
	vi.it.SeekGE(k[:len(k)-2])
	vi.pending = true
}

// Next advances to the next version; false at the end or on an error.
func (vi *VersionIterator) Next() bool {
	for {
		var ok bool
		if vi.pending {
			ok, vi.pending = vi.it.Valid(), false
		} else {
			ok = vi.it.Next()
		}
		if !ok {
			vi.err = vi.it.Error()
			return false
		}
		key, _, err := splitVersionKey(vi.it.Key()[len(vi.prefix):])
		if err != nil {
			vi.err = err
			return false
		}
		if !vi.started || key != vi.lastKey {
			vi.started, vi.lastKey, vi.seenLatest = true, key, false
		}
		w, err := decodeWinner(bytes.Clone(vi.it.Value()))
		if err != nil {
			vi.err = err
			return false
		}
		if w.kind == tombstone {
			continue
		}
		latest := !vi.seenLatest
		vi.seenLatest = true
		if w.kind == entryDelete {
			continue
		}
		rec, err := versionRecord(vi.bucket, key, w)
		if err != nil {
			vi.err = err
			return false
		}
		vi.rec, vi.latest = rec, latest
		return true
	}
}

// Record returns the current version (a delete marker has DeleteMarker
// set) and whether it is its key's current version.
func (vi *VersionIterator) Record() (*ObjectRecord, bool) { return vi.rec, vi.latest }

// Err returns the error that stopped the iteration.
func (vi *VersionIterator) Err() error { return vi.err }

// Close releases the iterator.
func (vi *VersionIterator) Close() error { return vi.it.Close() }
