package gateway

import "s3mesh/gateway/namespace"

// The namespace's types that the Node's own API speaks (see package
// namespace for their contracts).
type (
	// Namespace is the node's namespace, as Node.Namespace returns it.
	Namespace = namespace.Namespace
	// NamespaceStatus is what Node.NamespaceStatus reports.
	NamespaceStatus = namespace.NamespaceStatus
	// BucketRecord is a bucket as the namespace records it.
	BucketRecord = namespace.BucketRecord
	// ObjectRecord is an object as the namespace records it.
	ObjectRecord = namespace.ObjectRecord
	// ObjectIterator iterates over a bucket's records.
	ObjectIterator = namespace.ObjectIterator
)

// CRDTTopic returns the pubsub topic of the namespace of network.
func CRDTTopic(network string) string { return namespace.CRDTTopic(network) }
