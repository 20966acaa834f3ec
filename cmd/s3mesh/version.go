package main

import "runtime/debug"

// stampedVersion is the version set at link time by builds that have no
// module version to read, such as the container image built from a source
// tree without its Git history:
//
//	go build -ldflags "-X main.stampedVersion=v1.2.0" ./cmd/s3mesh
var stampedVersion string

// version returns the version stamped at link time, else the module version
// the binary was built from, else "devel".
func version() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
