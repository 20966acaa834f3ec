// Package replicate keeps replicated buckets in full on every node: a
// [Replicator] hears of new records through the namespace's hooks, queues
// them in its own key space of the node's database (it survives restarts
// and index rebuilds), and fetches each object's blocks in the
// background through the node's one fetcher, each office starting on a
// stripe of its own so that offices serve each other (see replicator.go
// and fetch.go for the queue, the stripes and the swarm fetch).
// [Replicator.Status] reports how complete the copy is without walking a
// DAG.
package replicate
