package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	if _, err := Register(reg, "first", a); err != nil {
		t.Fatal(err)
	}
	// b is new, a again collides: neither stays registered.
	if _, err := Register(reg, "second", b, prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})); err == nil {
		t.Fatal("a colliding collector was registered")
	}
	if !reg.Unregister(a) || reg.Unregister(b) {
		t.Fatal("want a registered and b not")
	}
	s, err := Register(nil, "none", a)
	if err != nil {
		t.Fatal(err)
	}
	s.Unregister()
	(*Set)(nil).Unregister()
}
