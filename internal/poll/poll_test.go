package poll

import (
	"errors"
	"testing"
)

func TestUntil(t *testing.T) {
	calls := 0
	Until(t, "the third call", 0, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("%d calls, want 3", calls)
	}
	n := 0
	if err := True("n > 0", func() bool { n++; return n > 1 })(); err == nil {
		t.Fatal("True passed a false condition")
	}
	if err := True("n > 0", func() bool { n++; return n > 1 })(); err != nil {
		t.Fatalf("True failed a true condition: %v", err)
	}
}
