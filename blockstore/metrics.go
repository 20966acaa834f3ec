package blockstore

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// usage is the store's size accounting. Its counters back the gauges.
type usage struct {
	blocks atomic.Int64
	bytes  atomic.Int64
}

func (u *usage) add(blocks, bytes int64) {
	u.blocks.Add(blocks)
	u.bytes.Add(bytes)
}

// register exposes u, and the disk space of dir, on reg; nil reg registers
// nothing. It returns the collectors so Close can unregister them.
func (u *usage) register(reg prometheus.Registerer, dir string) ([]prometheus.Collector, error) {
	if reg == nil {
		return nil, nil
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "s3mesh",
			Subsystem: "blockstore",
			Name:      "blocks",
			Help:      "Number of blocks in the local block store.",
		}, func() float64 { return float64(u.blocks.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "s3mesh",
			Subsystem: "blockstore",
			Name:      "bytes",
			Help:      "Total size in bytes of the blocks in the local block store (block data, not disk usage).",
		}, func() float64 { return float64(u.bytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "s3mesh",
			Subsystem: "blockstore",
			Name:      "disk_free_bytes",
			Help:      "Bytes free (for an unprivileged writer) on the file system holding the block store.",
		}, func() float64 { free, _, _ := Disk(dir); return float64(free) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "s3mesh",
			Subsystem: "blockstore",
			Name:      "disk_size_bytes",
			Help:      "Size in bytes of the file system holding the block store.",
		}, func() float64 { _, total, _ := Disk(dir); return float64(total) }),
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, r := range cs[:i] {
				reg.Unregister(r)
			}
			return nil, fmt.Errorf("register blockstore metrics: %w", err)
		}
	}
	return cs, nil
}
