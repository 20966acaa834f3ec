package replicate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/prometheus/client_golang/prometheus"

	s3exchange "s3mesh/exchange"
	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
)

// Config configures a replicator. The zero value is valid: a node alone,
// fetching through sessions.
type Config struct {
	// Self is this node's ID in the namespace (its peer ID with pubsub):
	// it places the node's stripe among the offices.
	Self string
	// Window is how many blocks of one object are requested from peers at
	// once, 1..MaxWindow. Zero means DefaultWindow.
	Window int
	// Objects is how many objects are fetched at once, 1..MaxObjects.
	// Zero means DefaultObjects.
	Objects int
	// FetchTimeout is how long an attempt waits with no block arriving
	// before it stops and is retried later. Zero means
	// fetch.DefaultTimeout.
	FetchTimeout time.Duration
	// ReplicatedBuckets are buckets marked replicated once the replicator
	// starts, or when they are created.
	ReplicatedBuckets []string
	// Swarm, when not nil, fetches the leaves (see SetFetcher); nil
	// fetches them through the fetcher's sessions.
	Swarm SetFetcher
	// PubSub and Network name the namespace topic whose peers are the
	// offices sharing the work; nil PubSub: this node alone.
	PubSub  *pubsub.PubSub
	Network string
	// Logger receives the replicator's messages. nil discards.
	Logger *slog.Logger
	// Registerer receives the s3mesh_replication_* metrics. nil registers
	// nothing.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Objects == 0 {
		c.Objects = DefaultObjects
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = fetch.DefaultTimeout
	}
	if c.Network == "" {
		c.Network = namespace.DefaultCRDTNetwork
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether the configuration, after defaults, is usable.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Window < 1 || c.Window > MaxWindow {
		return fmt.Errorf("replication config: window %d out of range 1..%d", c.Window, MaxWindow)
	}
	if c.Objects < 1 || c.Objects > MaxObjects {
		return fmt.Errorf("replication config: objects %d out of range 1..%d", c.Objects, MaxObjects)
	}
	if c.FetchTimeout < 0 {
		return fmt.Errorf("replication config: fetch timeout %s is negative", c.FetchTimeout)
	}
	return nil
}

// SetFetcher fetches a set of blocks, storing each in the node's block
// store (exchange.Swarm implements it). FetchSet returns nil once every
// block is stored, or an error; ctx ends it.
type SetFetcher interface {
	FetchSet(ctx context.Context, req s3exchange.SetRequest) error
}
