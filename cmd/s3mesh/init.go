package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultConfigFile is where "s3mesh init" writes when --config is not given.
const DefaultConfigFile = "./s3mesh.yaml"

// runInit writes a commented config file holding every setting of serve at
// its default, so an operator edits values instead of looking up keys.
func runInit(args []string, stdout, stderr io.Writer) error {
	set := flag.NewFlagSet("init", flag.ContinueOnError)
	set.SetOutput(stderr)
	path := set.String("config", DefaultConfigFile, "config file to write")
	force := set.Bool("force", false, "overwrite the file if it exists")
	set.Usage = func() {
		fmt.Fprintln(set.Output(), "usage: s3mesh init [--config FILE] [--force]")
		set.PrintDefaults()
	}
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if set.NArg() > 0 {
		fmt.Fprintf(stderr, "s3mesh init: unexpected argument %q\n", set.Arg(0))
		return errUsage
	}
	if *path == "" {
		fmt.Fprintln(stderr, "s3mesh init: --config must name a file")
		return errUsage
	}
	text, err := configYAML(defaultConfig())
	if err != nil {
		return err
	}
	if err := writeConfigFile(*path, text, *force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s with every setting at its default.\n", *path)
	fmt.Fprintf(stdout, "Edit it, then start the node with:\n  s3mesh serve --config %s\n", *path)
	return nil
}

// writeConfigFile creates path holding text; an existing file is an error
// unless force is set.
func writeConfigFile(path string, text []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists; pass --force to overwrite it, or --config to write another file", path)
	}
	if err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	if _, err := f.Write(text); err != nil {
		f.Close()
		return fmt.Errorf("write config file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write config file %s: %w", path, err)
	}
	return nil
}

// configYAML renders every entry of settings, in the table's order, with
// its value in c, each under a comment with its usage, flag and environment
// variable. Reading the result with readConfigFile into any Config yields c
// exactly. init writes it for defaultConfig().
func configYAML(c Config) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# s3mesh configuration, first written by \"s3mesh %s init\".\n", version())
	b.WriteString("# Start a node with it: s3mesh serve --config FILE (or S3MESH_CONFIG=FILE).\n")
	b.WriteString("# Every setting of serve is listed; a key removed keeps its default. The\n")
	b.WriteString("# environment variable of a setting overrides this file, its flag overrides\n")
	b.WriteString("# both. Root credentials are not kept here: see DATA/credentials.json, or\n")
	b.WriteString("# set S3MESH_ACCESS_KEY and S3MESH_SECRET_KEY.\n")
	for _, s := range settings {
		v, list, err := yamlValue(s.value(&c))
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", s.key, err)
		}
		b.WriteString("\n")
		for _, line := range strings.Split(s.usage, "\n") {
			fmt.Fprintf(&b, "# %s\n", line)
		}
		if list {
			fmt.Fprintf(&b, "# flag --%s (repeatable), environment %s (comma-separated)\n", s.flagName(), s.envName())
		} else {
			fmt.Fprintf(&b, "# flag --%s, environment %s\n", s.flagName(), s.envName())
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]any{s.key: v}); err != nil {
			return nil, fmt.Errorf("setting %s: %w", s.key, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("setting %s: %w", s.key, err)
		}
	}
	return b.Bytes(), nil
}

// yamlValue returns the value of a setting as it should be written in the
// config file for readConfigFile to read it back unchanged, and whether the
// setting is a list. An empty list is written as null (no value): YAML's []
// would read back as an empty, non-nil list.
func yamlValue(v flag.Value) (value any, list bool, err error) {
	switch v := v.(type) {
	case *stringValue:
		return string(*v), false, nil
	case *intValue:
		return int(*v), false, nil
	case *boolValue:
		return bool(*v), false, nil
	case *durationValue:
		return time.Duration(*v).String(), false, nil
	case *diskSizeValue:
		return string(*v), false, nil
	case *listValue:
		if *v == nil {
			return nil, true, nil
		}
		return []string(*v), true, nil
	default:
		return nil, false, fmt.Errorf("no YAML form for values of type %T; teach yamlValue in init.go", v)
	}
}
