package admin

import (
	"testing"
	"time"

	"s3mesh/gateway"
)

func TestUsageStatus(t *testing.T) {
	if got := (&api{}).usageStatus(); got != nil {
		t.Errorf("without a usage source: %+v, want null", got)
	}
	var u gateway.BlockUsage
	a := &api{usage: func() gateway.BlockUsage { return u }}
	if got := a.usageStatus(); got != nil {
		t.Errorf("before the first scan: %+v, want null", got)
	}
	u = gateway.BlockUsage{OwnedBytes: 1, CachedBytes: 2, UnreferencedBytes: 3, At: time.Unix(1e9, 0)}
	got := a.usageStatus()
	if got == nil || got.OwnedBytes != 1 || got.CachedBytes != 2 || got.UnreferencedBytes != 3 || !got.ScannedAt.Equal(u.At) {
		t.Errorf("after a scan: %+v", got)
	}
}
