package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s3mesh.yaml")
	if err := os.WriteFile(file, []byte("data: /from/file\nlisten: 0.0.0.0:9100\ndomains: [file.example]\nlog_format: json\nchunk_size: 262144\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*Config)
	}{
		{"defaults", nil, nil, func(c *Config) {}},
		{"flags", []string{"--data", "/d", "--listen", "127.0.0.1:1", "--domain", "a.example", "--domain", "b.example", "--chunk-size", "4096", "--shutdown-timeout", "5s", "--log-level", "debug"}, nil, func(c *Config) {
			c.Data, c.Listen, c.Domains, c.ChunkSize, c.ShutdownTimeout, c.LogLevel = "/d", "127.0.0.1:1", []string{"a.example", "b.example"}, 4096, 5*time.Second, "debug"
		}},
		{"file", []string{"--config", file}, nil, func(c *Config) {
			c.Data, c.Listen, c.Domains, c.LogFormat, c.ChunkSize = "/from/file", "0.0.0.0:9100", []string{"file.example"}, "json", 262144
		}},
		{"env beats file", []string{"--config", file}, map[string]string{"S3MESH_DATA": "/from/env", "S3MESH_DOMAINS": "x.example, y.example"}, func(c *Config) {
			c.Data, c.Listen, c.Domains, c.LogFormat, c.ChunkSize = "/from/env", "0.0.0.0:9100", []string{"x.example", "y.example"}, "json", 262144
		}},
		{"flag beats env and file", []string{"--config", file, "--data", "/from/flag", "--domain", "f.example"}, map[string]string{"S3MESH_DATA": "/from/env"}, func(c *Config) {
			c.Data, c.Listen, c.Domains, c.LogFormat, c.ChunkSize = "/from/flag", "0.0.0.0:9100", []string{"f.example"}, "json", 262144
		}},
		{"config file from env", nil, map[string]string{"S3MESH_CONFIG": file}, func(c *Config) {
			c.Data, c.Listen, c.Domains, c.LogFormat, c.ChunkSize = "/from/file", "0.0.0.0:9100", []string{"file.example"}, "json", 262144
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig("serve", tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			want := defaultConfig()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("listen: 127.0.0.1:9000\nlisten_adress: typo\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string // substring of the error; "" for errUsage
	}{
		{"unknown flag", []string{"--nope"}, ""},
		{"stray argument", []string{"extra"}, ""},
		{"bad listen", []string{"--listen", "9000"}, "listen"},
		{"bad chunk size", []string{"--chunk-size", "3000000"}, "chunk_size"},
		{"chunk size not a number", []string{"--chunk-size", "big"}, "chunk-size"},
		{"bad level", []string{"--log-level", "loud"}, "log_level"},
		{"bad format", []string{"--log-format", "xml"}, "log_format"},
		{"bad duration", []string{"--shutdown-timeout", "soon"}, "shutdown-timeout"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, "config file"},
		{"unknown key", []string{"--config", unknown}, "listen_adress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig("serve", tt.args, func(string) string { return "" }, io.Discard)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.want == "" && !errors.Is(err, errUsage):
				t.Fatalf("err = %v, want a usage error", err)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	var out strings.Builder
	_, err := loadConfig("serve", []string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, s := range settings {
		for _, want := range []string{"-" + s.flagName(), s.envName(), "config key " + s.key} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("help lacks %q", want)
			}
		}
	}
}

// TestREADMEDocumentsEverySetting keeps README.md's table true.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range settings {
		for _, want := range []string{"`--" + s.flagName(), "`" + s.key + "`", "`" + s.envName() + "`"} {
			if !strings.Contains(readme, want) {
				t.Errorf("README.md does not document %s", want)
			}
		}
	}
}
