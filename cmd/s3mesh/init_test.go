package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"s3mesh/admin"
)

// TestInitWritesDefaultsServeLoads checks that the file init writes lists
// every setting under its usage, flag and environment variable, and that
// serve's loadConfig reads it back as exactly defaultConfig().
func TestInitWritesDefaultsServeLoads(t *testing.T) {
	file := filepath.Join(t.TempDir(), "office.yaml")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"init", "--config", file}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("init: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{file, "s3mesh serve --config " + file} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("init output lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)

	got, err := loadConfig("serve", []string{"--config", file}, func(string) string { return "" }, &stderr)
	if err != nil {
		t.Fatalf("serve --config %s: %v\n%s", file, err, text)
	}
	if diff := cmp.Diff(defaultConfig(), got); diff != "" || !reflect.DeepEqual(defaultConfig(), got) {
		t.Errorf("serve --config of init's file (-default +got):\n%s\nfile:\n%s", diff, text)
	}

	// Every value comes from the file, not from serve's defaults: read
	// into a zero Config, the file still gives defaultConfig().
	var fromFile Config
	if err := readConfigFile(file, &fromFile); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(defaultConfig(), fromFile) {
		t.Errorf("init's file alone (-default +file):\n%s", cmp.Diff(defaultConfig(), fromFile))
	}

	// Each key appears once, directly under a comment naming its usage,
	// flag and environment variable.
	lines := strings.Split(text, "\n")
	for _, s := range settings {
		at := -1
		for i, l := range lines {
			if strings.HasPrefix(l, s.key+":") {
				if at >= 0 {
					t.Errorf("key %s written twice", s.key)
				}
				at = i
			}
		}
		if at < 0 {
			t.Errorf("init's file lacks the setting %s:\n%s", s.key, text)
			continue
		}
		var comment []string
		for i := at - 1; i >= 0 && strings.HasPrefix(lines[i], "#"); i-- {
			comment = append(comment, lines[i])
		}
		c := strings.Join(comment, "\n")
		for _, want := range []string{s.usage, "--" + s.flagName(), s.envName()} {
			if !strings.Contains(c, want) {
				t.Errorf("comment above %s lacks %q; comment:\n%s", s.key, want, c)
			}
		}
	}
}

// TestConfigYAMLRoundTrip writes values that YAML easily misreads (strings
// that look like booleans, numbers or null; negative and compound
// durations; lists, empty and not) and reads them back through serve's
// loader.
func TestConfigYAMLRoundTrip(t *testing.T) {
	want := defaultConfig()
	want.Data = "/srv/s3mesh data: #1"
	want.Region = "no"
	want.Blockstore = "pebble"
	want.SwarmKey = "0x10"
	want.LogLevel = "debug"
	want.Domains = []string{"s3.office.example", "null", "yes"}
	want.P2PListen = []string{"/ip4/127.0.0.1/tcp/0"}
	want.Peers = nil
	want.AllowPeers = []string{"12D3KooWAbc"}
	want.MultipartMaxAge = -time.Second
	want.FetchTimeout = 90*time.Minute + 1500*time.Millisecond
	want.ShutdownTimeout = time.Nanosecond
	want.ChunkSize = 4096
	want.MDNS = true
	want.IPFSGateway = admin.IPFSGatewayOpen
	if err := want.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	b, err := configYAML(want)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "s3mesh.yaml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadConfig("serve", []string{"--config", file}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("round trip (-want +got):\n%s\nfile:\n%s", cmp.Diff(want, got), b)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s3mesh.yaml")
	const mine = "listen: 0.0.0.0:9000\n"
	if err := os.WriteFile(file, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	var out bytes.Buffer
	err := run(context.Background(), []string{"init", "--config", file}, noEnv, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("init over an existing file: %v; want an error naming --force", err)
	}
	if b, _ := os.ReadFile(file); string(b) != mine {
		t.Fatalf("init without --force changed the file to:\n%s", b)
	}

	if err := run(context.Background(), []string{"init", "--config", file, "--force"}, noEnv, &out, &out); err != nil {
		t.Fatalf("init --force: %v", err)
	}
	got, err := loadConfig("serve", []string{"--config", file}, noEnv, &out)
	if err != nil || !reflect.DeepEqual(got, defaultConfig()) {
		t.Fatalf("after init --force: %v\n%s", err, cmp.Diff(defaultConfig(), got))
	}
}

// TestInitDefaultPath runs init without --config in an empty directory.
func TestInitDefaultPath(t *testing.T) {
	t.Chdir(t.TempDir())
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(DefaultConfigFile); err != nil {
		t.Fatalf("init without --config: %v", err)
	}
	if !strings.Contains(out.String(), "s3mesh serve --config "+DefaultConfigFile) {
		t.Errorf("init output lacks the next step:\n%s", out.String())
	}
}

func TestInitUsage(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{{"init", "extra"}, {"init", "--nope"}, {"init", "--config", ""}} {
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &out); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
