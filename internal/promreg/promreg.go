// Package promreg registers a package's collectors on the Registerer its
// Config names, all or none, and unregisters them when the package's
// owner closes: the one loop every package with metrics needs.
package promreg

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Set is collectors registered together. The zero value (and a nil *Set)
// has nothing to unregister.
type Set struct {
	reg prometheus.Registerer
	cs  []prometheus.Collector
}

// Register registers cs on reg, all or none; with a nil reg it registers
// nothing. what names the collectors in the error.
func Register(reg prometheus.Registerer, what string, cs ...prometheus.Collector) (*Set, error) {
	s := &Set{reg: reg}
	if reg == nil {
		return s, nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			s.Unregister()
			return nil, fmt.Errorf("register %s metrics: %w", what, err)
		}
		s.cs = append(s.cs, c)
	}
	return s, nil
}

// Unregister unregisters the set's collectors. Idempotent.
func (s *Set) Unregister() {
	if s == nil {
		return
	}
	for _, c := range s.cs {
		s.reg.Unregister(c)
	}
	s.cs = nil
}
