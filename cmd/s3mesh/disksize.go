package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// diskSize is a size setting given in bytes (with an optional unit: KB,
// KiB, MB, MiB, GB, GiB, TB, TiB) or as a percentage of the disk ("25%"):
// cache_size and min_free.
type diskSize struct {
	bytes   int64
	percent float64 // > 0: a share of the disk; bytes is then unused
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1},
}

// parseDiskSize parses a size setting; "-1" (or any negative count of
// bytes) turns the setting off.
func parseDiskSize(s string) (diskSize, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f > 100 {
			return diskSize{}, fmt.Errorf("%q: a percentage must be above 0 and at most 100", s)
		}
		return diskSize{percent: f}, nil
	}
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return diskSize{}, errors.New("want bytes (with KB, KiB, MB, MiB, GB, GiB, TB or TiB) or a percentage of the disk such as 25%")
	}
	if n > 0 && n > math.MaxInt64/mult {
		return diskSize{}, errors.New("too large")
	}
	return diskSize{bytes: n * mult}, nil
}

// resolve returns the size in bytes on a disk of total bytes.
func (d diskSize) resolve(total uint64) int64 {
	if d.percent > 0 {
		return int64(float64(total) * d.percent / 100)
	}
	return d.bytes
}

// diskSizeValue is a flag.Value for a size setting, kept as written.
type diskSizeValue string

func (v *diskSizeValue) String() string { return string(*v) }
func (v *diskSizeValue) Set(s string) error {
	if _, err := parseDiskSize(s); err != nil {
		return err
	}
	*v = diskSizeValue(s)
	return nil
}
