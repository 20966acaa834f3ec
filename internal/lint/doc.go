// Package lint holds the project's own style checks, run as tests: rules
// that go vet does not know, such as no global registries or loggers in
// library packages.
package lint
