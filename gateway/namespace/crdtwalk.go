package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	crdt "github.com/ipfs/go-ds-crdt"
)

// The CRDT's state of epoch generation 0 lives under crdtNamespace in the
// namespace database (later generations under crdtGenNamespace(gen), see
// crdtepoch.go); go-ds-crdt keeps there, among others, a "processed" mark
// per delta (b/) and its dirty bit (d).
const (
	crdtNamespace      = "/crdt"
	crdtProcessedSpace = crdtNamespace + "/b/"
	crdtDirtyKey       = crdtNamespace + "/d"
	// walkJournalSpace holds one key per processed mark written during the
	// walk in progress (see walkGuard).
	walkJournalSpace = "/s3mesh-walk/"
)

// walkGuard makes an interrupted walk of a received branch recoverable.
//
// go-ds-crdt v0.6.5 marks each delta "processed" as soon as it is merged,
// walking a received branch from its tip down, but makes the tip a head
// only when the walk reaches known ground (its issue #279). When the walk
// stops half way — a delta that cannot be fetched, a Close, a crash — the
// deltas above the gap are marked processed and no head leads to them:
// the tip's next broadcast is skipped (already processed) and the repair
// walk, which starts from the heads, never sees the gap. The rest of the
// branch is never fetched.
//
// The guard wraps the datastore go-ds-crdt writes to and the broadcaster it
// reads heads from. While the heads of one broadcast are processed (from
// the broadcaster's Next returning them to go-ds-crdt's next call of Next,
// which it makes only after the walk ended), every processed mark is also
// written to a journal. A walk that ended without go-ds-crdt marking the
// store dirty clears the journal. A walk that failed — or one found in the
// journal at open, cut short by a Close or a crash — is unwound: its
// processed marks are deleted and the store is marked dirty, so the tip's
// next broadcast (peers rebroadcast their heads every RebroadcastInterval)
// walks the branch again from the top, and the repair walk re-merges
// anything reachable from the heads that the unwinding unmarked. Merging a
// delta again is harmless: go-ds-crdt's set is idempotent, and so is the
// index (see apply).
type walkGuard struct {
	ds.Batching
	log *slog.Logger
	// processed and dirty are the key space of go-ds-crdt's processed
	// marks and its dirty bit in the guarded generation.
	processed, dirty string

	mu      sync.Mutex
	walking bool     // a broadcast's heads are being processed
	failed  bool     // the store was marked dirty during the walk
	journal []ds.Key // journal entries written in this walk
}

var _ ds.Batching = (*walkGuard)(nil)

// newWalkGuard guards the CRDT state under the namespace ns (crdtNamespace
// or a later generation's).
func newWalkGuard(inner ds.Batching, ns string, log *slog.Logger) *walkGuard {
	return &walkGuard{Batching: inner, log: log, processed: ns + "/b/", dirty: ns + "/d"}
}

// journalKey is the journal entry of a processed mark.
func (g *walkGuard) journalKey(processed ds.Key) (ds.Key, bool) {
	s, ok := strings.CutPrefix(processed.String(), g.processed)
	if !ok {
		return ds.Key{}, false
	}
	return ds.NewKey(walkJournalSpace + s), true
}

// written notes a write of k and journals it when it is a processed mark
// written during a walk.
func (g *walkGuard) written(ctx context.Context, w ds.Write, k ds.Key) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.walking {
		return nil
	}
	if k.String() == g.dirty {
		g.failed = true
		return nil
	}
	jk, ok := g.journalKey(k)
	if !ok {
		return nil
	}
	g.journal = append(g.journal, jk)
	return w.Put(ctx, jk, nil)
}

// Put implements ds.Write: a processed mark is journaled first, so that a
// crash never leaves a mark without its journal entry.
func (g *walkGuard) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := g.written(ctx, g.Batching, k); err != nil {
		return fmt.Errorf("journal %s: %w", k, err)
	}
	return g.Batching.Put(ctx, k, v)
}

// Batch implements ds.Batching with the same journaling.
func (g *walkGuard) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := g.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &guardBatch{Batch: b, g: g}, nil
}

type guardBatch struct {
	ds.Batch
	g *walkGuard
}

func (b *guardBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := b.g.written(ctx, b.Batch, k); err != nil {
		return fmt.Errorf("journal %s: %w", k, err)
	}
	return b.Batch.Put(ctx, k, v)
}

// beginWalk starts journaling: go-ds-crdt is about to process the heads
// of a broadcast.
func (g *walkGuard) beginWalk() {
	g.mu.Lock()
	g.walking, g.failed, g.journal = true, false, nil
	g.mu.Unlock()
}

// endWalk ends the walk in progress, if any: a successful one clears the
// journal, a failed one is unwound.
func (g *walkGuard) endWalk(ctx context.Context) {
	g.mu.Lock()
	walking, failed, journal := g.walking, g.failed, g.journal
	g.walking, g.journal = false, nil
	g.mu.Unlock()
	if !walking || len(journal) == 0 {
		return
	}
	var err error
	if failed {
		var n int
		n, err = g.unwind(ctx, journal)
		if err == nil {
			g.log.Warn("a namespace update could not be applied in full; it will be fetched again", "deltas_unmarked", n)
		}
	} else {
		_, err = g.clearJournal(ctx, journal, false)
	}
	if err != nil && ctx.Err() == nil {
		g.log.Error("namespace walk journal", "err", err)
	}
}

// unwind deletes the processed marks of the journal, the journal, and
// marks the store dirty. It returns how many marks it deleted. A nil
// journal is read from the store.
func (g *walkGuard) unwind(ctx context.Context, journal []ds.Key) (int, error) {
	n, err := g.clearJournal(ctx, journal, true)
	if err != nil || n == 0 {
		return n, err
	}
	if err := g.Batching.Put(ctx, ds.NewKey(g.dirty), nil); err != nil {
		return n, fmt.Errorf("mark the namespace dirty: %w", err)
	}
	return n, g.Batching.Sync(ctx, ds.NewKey(strings.TrimSuffix(g.dirty, "/d")))
}

// clearJournal deletes the journal entries and, with unmark, the processed
// marks they stand for. A nil journal is read from the store.
func (g *walkGuard) clearJournal(ctx context.Context, journal []ds.Key, unmark bool) (int, error) {
	keys := make([]string, 0, len(journal))
	for _, k := range journal {
		keys = append(keys, k.String())
	}
	if journal == nil {
		res, err := g.Batching.Query(ctx, query.Query{Prefix: walkJournalSpace, KeysOnly: true})
		if err != nil {
			return 0, fmt.Errorf("read the walk journal: %w", err)
		}
		for r := range res.Next() {
			if r.Error != nil {
				res.Close()
				return 0, fmt.Errorf("read the walk journal: %w", r.Error)
			}
			keys = append(keys, r.Key)
		}
		res.Close()
	}
	if len(keys) == 0 {
		return 0, nil
	}
	b, err := g.Batching.Batch(ctx)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if unmark {
			mark := ds.NewKey(g.processed + strings.TrimPrefix(k, walkJournalSpace))
			if err := b.Delete(ctx, mark); err != nil {
				return 0, err
			}
		}
		if err := b.Delete(ctx, ds.NewKey(k)); err != nil {
			return 0, err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return 0, fmt.Errorf("clear the walk journal: %w", err)
	}
	return len(keys), nil
}

// recover unwinds a walk a previous run left in the journal (it ended
// without Close returning, or Close cut it short). Call it before
// go-ds-crdt opens the store.
func (g *walkGuard) recover(ctx context.Context) error {
	n, err := g.unwind(ctx, nil)
	if err != nil {
		return fmt.Errorf("recover an interrupted namespace walk: %w", err)
	}
	if n > 0 {
		g.log.Warn("the last run stopped while applying a namespace update; it will be fetched again", "deltas_unmarked", n)
	}
	return nil
}

// guardedBroadcaster brackets go-ds-crdt's processing of each broadcast
// with the guard's walk: go-ds-crdt calls Next again only after it has
// processed the heads the previous call returned.
type guardedBroadcaster struct {
	crdt.Broadcaster
	g *walkGuard
}

func (b guardedBroadcaster) Next(ctx context.Context) ([]byte, error) {
	b.g.endWalk(ctx)
	data, err := b.Broadcaster.Next(ctx)
	if err == nil {
		b.g.beginWalk()
	} else if !errors.Is(err, crdt.ErrNoMoreBroadcast) {
		return nil, err
	}
	return data, err
}
