package namespace

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replicated namespace entries.
//
// Every PUT, DELETE, CreateBucket and DeleteBucket is one immutable CRDT
// key, written once and never overwritten:
//
//	/o/<b64(bucket)>/<b64(key)>/<version>   object entry (put or delete marker)
//	/b/<b64(bucket)>/<version>              bucket entry (create or delete marker)
//
// b64 is unpadded base64url, so the key survives go-datastore's path
// cleaning whatever bytes the object key holds ('/', "..", "//").
//
// A version is a hybrid logical clock reading followed by the writer's
// node ID:
//
//	<16 hex digits: physical Unix ms><8 hex digits: logical counter>.<node ID>
//
// The first 24 characters are fixed-width, so versions compare as strings:
// by clock, then by node ID. Two nodes never issue the same version.

const (
	crdtEntryV1 = 1

	entryPut    byte = 'P' // object put: payload is encodeObject output
	entryCreate byte = 'C' // bucket create: payload is encodeBucket output
	entryDelete byte = 'D' // delete marker: no payload
	// Object entries of versioned buckets (see crdtversions.go).
	entryMarker byte = 'M' // S3 delete marker, a version: payload is encodeMarker output
	entryRemove byte = 'R' // removal of one version: payload is encodeRemove output

	versionClockLen = 24
)

var errBadEntry = errors.New("malformed namespace entry")

// entry is the value of one CRDT key: a version byte, the kind, the
// writer's wall-clock time of the write (Unix ns, for the replication lag
// metric) and the payload.
type entry struct {
	kind    byte
	written time.Time
	payload []byte
}

func (e entry) encode() []byte {
	b := make([]byte, 10, 10+len(e.payload))
	b[0] = crdtEntryV1
	b[1] = e.kind
	binary.BigEndian.PutUint64(b[2:], uint64(e.written.UnixNano()))
	return append(b, e.payload...)
}

func decodeEntry(b []byte) (entry, error) {
	if len(b) < 10 || b[0] != crdtEntryV1 {
		return entry{}, errBadEntry
	}
	e := entry{kind: b[1], written: time.Unix(0, int64(binary.BigEndian.Uint64(b[2:10]))), payload: b[10:]}
	switch e.kind {
	case entryPut, entryCreate, entryDelete, entryMarker, entryRemove:
	default:
		return entry{}, errBadEntry
	}
	if e.kind == entryDelete && len(e.payload) != 0 {
		return entry{}, errBadEntry
	}
	return e, nil
}

var b64 = base64.RawURLEncoding

func objectEntryKey(bucket, key, version string) string {
	return "/o/" + b64.EncodeToString([]byte(bucket)) + "/" + b64.EncodeToString([]byte(key)) + "/" + version
}

func bucketEntryKey(bucket, version string) string {
	return "/b/" + b64.EncodeToString([]byte(bucket)) + "/" + version
}

// parsedKey is a CRDT key taken apart. key is empty for a bucket entry.
type parsedKey struct {
	object  bool
	bucket  string
	key     string
	version string
}

func parseEntryKey(k string) (parsedKey, error) {
	parts := strings.Split(k, "/")
	// parts[0] is empty: keys start with '/'.
	var p parsedKey
	switch {
	case len(parts) == 5 && parts[0] == "" && parts[1] == "o":
		bk, err1 := b64.DecodeString(parts[2])
		kk, err2 := b64.DecodeString(parts[3])
		if err1 != nil || err2 != nil || len(bk) == 0 || len(kk) == 0 {
			return p, errBadEntry
		}
		p = parsedKey{object: true, bucket: string(bk), key: string(kk), version: parts[4]}
	case len(parts) == 4 && parts[0] == "" && parts[1] == "b":
		bk, err := b64.DecodeString(parts[2])
		if err != nil || len(bk) == 0 {
			return p, errBadEntry
		}
		p = parsedKey{bucket: string(bk), version: parts[3]}
	default:
		return p, errBadEntry
	}
	if _, _, _, err := parseVersion(p.version); err != nil {
		return p, err
	}
	return p, nil
}

func formatVersion(ms int64, c uint32, node string) string {
	return fmt.Sprintf("%016x%08x.%s", uint64(ms), c, node)
}

func parseVersion(v string) (ms int64, c uint32, node string, err error) {
	if len(v) < versionClockLen+2 || v[versionClockLen] != '.' {
		return 0, 0, "", errBadEntry
	}
	m, err1 := strconv.ParseUint(v[:16], 16, 64)
	cc, err2 := strconv.ParseUint(v[16:versionClockLen], 16, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, "", errBadEntry
	}
	return int64(m), uint32(cc), v[versionClockLen+1:], nil
}

// ValidNodeID reports whether id can end a version and a CRDT key segment.
func ValidNodeID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c > '~' || c == '/' {
			return false
		}
	}
	return true
}

// hlc is a hybrid logical clock: physical milliseconds from now and a
// logical counter. Readings strictly increase, and a reading taken after
// observe(v) is greater than v's clock, so a write made after seeing
// another (locally or from a peer) wins over it even when the peer's clock
// runs ahead.
type hlc struct {
	now func() time.Time

	mu sync.Mutex
	ms int64
	c  uint32
}

func (h *hlc) next() (int64, uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pt := h.now().UnixMilli()
	switch {
	case pt > h.ms:
		h.ms, h.c = pt, 0
	case h.c == ^uint32(0):
		h.ms, h.c = h.ms+1, 0
	default:
		h.c++
	}
	return h.ms, h.c
}

func (h *hlc) observe(ms int64, c uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ms > h.ms || (ms == h.ms && c > h.c) {
		h.ms, h.c = ms, c
	}
}

func (h *hlc) state() (int64, uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ms, h.c
}
