// Package poll is the tests' one way to wait for a state: Until calls a
// condition until it holds, failing the test with the condition's last
// error once a bound has passed. The bound is a safety net against a hang,
// never an assertion about speed: tests wait for the state they check, not
// for time.
package poll

import (
	"testing"
	"time"
)

// DefaultBound is the bound Until uses when given zero: long enough that
// only a state that never comes reaches it on a loaded machine.
const DefaultBound = 60 * time.Second

// interval is the pause between two calls of a condition.
const interval = 20 * time.Millisecond

// Until calls cond until it returns nil and returns how long that took.
// It fails t with what and cond's last error when bound (zero:
// DefaultBound) has passed first.
func Until(t testing.TB, what string, bound time.Duration, cond func() error) time.Duration {
	t.Helper()
	return UntilDiag(t, what, bound, cond, nil)
}

// UntilDiag is Until that also logs diag(), when not nil, before failing.
func UntilDiag(t testing.TB, what string, bound time.Duration, cond func() error, diag func() string) time.Duration {
	t.Helper()
	if bound <= 0 {
		bound = DefaultBound
	}
	start := time.Now()
	deadline := start.Add(bound)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			if diag != nil {
				t.Fatalf("waiting for %s: not within %s: %v\n%s", what, bound, err, diag())
			}
			t.Fatalf("waiting for %s: not within %s: %v", what, bound, err)
		}
		time.Sleep(interval)
	}
}

// True adapts a boolean condition for Until: the error says what is
// still false.
func True(what string, cond func() bool) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return notYet(what)
	}
}

type notYet string

func (n notYet) Error() string { return "not yet: " + string(n) }
