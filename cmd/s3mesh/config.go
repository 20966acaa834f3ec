package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"s3mesh/admin"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api"
)

// Defaults a new node gets with no flags and no config file.
const (
	DefaultData            = "./s3mesh-data"
	DefaultListen          = "127.0.0.1:9000"
	DefaultRegion          = "us-east-1"
	DefaultChunkSize       = 1 << 20
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultMinFree is min_free's default: 1 GiB kept free.
	DefaultMinFree         = "1GiB"
	DefaultMultipartMaxAge = 7 * 24 * time.Hour
	DefaultFetchTimeout    = 30 * time.Second
	DefaultIPFSGateway     = admin.IPFSGatewayOff
	// The S3 edge's bounds: see s3api.Config and s3api.ServerConfig.
	DefaultReadHeaderTimeout = s3api.DefaultReadHeaderTimeout
	DefaultBodyIdleTimeout   = s3api.DefaultBodyIdleTimeout
	DefaultWriteIdleTimeout  = s3api.DefaultWriteIdleTimeout
	DefaultRequestTimeout    = s3api.DefaultRequestTimeout
	DefaultIdleTimeout       = s3api.DefaultIdleTimeout
	DefaultMaxHeaderBytes    = s3api.DefaultMaxHeaderBytes
	DefaultMaxConns          = s3api.DefaultMaxConns
	DefaultMaxRequests       = s3api.DefaultMaxRequests
)

// Config is everything an operator can set for "s3mesh serve". Each field is
// filled, in order, from its default, the config file (--config, YAML, keys
// as in the yaml tags), the environment (S3MESH_ and the key in upper case)
// and the command line (--key with "-" for "_").
type Config struct {
	// Data is the directory holding blocks, object records and credentials.
	Data string `yaml:"data"`
	// Listen is the HOST:PORT of the S3 API, /metrics and /health/ready.
	Listen string `yaml:"listen"`
	// Region is the region the node reports and signs in.
	Region string `yaml:"region"`
	// Domains are the base domains for virtual-hosted-style requests
	// (bucket.DOMAIN); empty means path-style only.
	Domains []string `yaml:"domains"`
	// ChunkSize is the UnixFS leaf size in bytes for new objects.
	ChunkSize int `yaml:"chunk_size"`
	// Chunker is how new objects are cut into leaves in buckets that name
	// no chunker (see gateway.ParseChunker); empty means fixed ChunkSize
	// leaves.
	Chunker string `yaml:"chunker"`
	// Blockstore names the block store backend ("" = the package default).
	Blockstore string `yaml:"blockstore"`
	// P2PListen are the libp2p listen multiaddrs.
	P2PListen []string `yaml:"p2p_listen"`
	// Peers are other offices' full multiaddrs (with /p2p/ID), kept
	// connected.
	Peers []string `yaml:"peers"`
	// SwarmKey is the private-network key file; empty means DATA/swarm.key
	// when that file exists, else an open network.
	SwarmKey string `yaml:"swarm_key"`
	// AllowPeers, when not empty, are the only peer IDs the node talks to
	// and serves blocks to.
	AllowPeers []string `yaml:"allow_peers"`
	// MDNS turns on discovery of other nodes on the LAN.
	MDNS bool `yaml:"mdns"`
	// Office names this node's office; peers announcing the same office
	// are LAN peers in the traffic metrics, the others WAN peers.
	Office string `yaml:"office"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log_format"`
	// FetchTimeout bounds the wait for a block no reachable peer provides;
	// the GET then fails with 503 naming the missing content.
	FetchTimeout time.Duration `yaml:"fetch_timeout"`
	// FetchWindow is how many blocks a read keeps requested ahead from peers.
	FetchWindow int `yaml:"fetch_window"`
	// PeerOutstandingBytes bounds the block bytes this node sends a peer
	// before the peer's earlier blocks are acknowledged.
	PeerOutstandingBytes int `yaml:"peer_outstanding_bytes"`
	// MultipartMaxAge is how long a multipart upload may stay unfinished
	// before the node aborts it; negative keeps uploads for ever.
	MultipartMaxAge time.Duration `yaml:"multipart_max_age"`
	// ShutdownTimeout bounds how long in-flight requests may run after
	// SIGINT or SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// IPFSGateway serves GET/HEAD /ipfs/{cid}[/path] as a trustless IPFS
	// gateway (raw blocks and CARs) on the S3 listener: "off" (the
	// default), "auth" (requests signed with the root credentials) or
	// "open" (anyone who can reach the listener).
	IPFSGateway string `yaml:"ipfs_gateway"`
	// CacheSize bounds the blocks the node holds only because it read
	// them: bytes (with a unit) or a percentage of the disk; "0" means no
	// budget.
	CacheSize string `yaml:"cache_size"`
	// MinFree is the free space kept on the data directory's disk: below
	// it, cached blocks are evicted and writes of new data are refused
	// with 507 InsufficientStorage; "-1" turns it off.
	MinFree string `yaml:"min_free"`
	// ReplicatedBuckets are buckets marked replicated when the node starts
	// (each one created later, when it is created): every office fetches
	// and keeps their objects' blocks in the background.
	ReplicatedBuckets []string `yaml:"replicated_buckets"`
	// ReadHeaderTimeout bounds the reading of a request's header section;
	// a client that sent part of one by then gets 400 RequestTimeout.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// BodyIdleTimeout bounds each wait for request body bytes; a client
	// silent that long gets 400 RequestTimeout and its connection closed.
	BodyIdleTimeout time.Duration `yaml:"body_idle_timeout"`
	// WriteIdleTimeout bounds each write to a client that reads nothing.
	WriteIdleTimeout time.Duration `yaml:"write_idle_timeout"`
	// RequestTimeout bounds a whole request, body and response included.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's header section, in bytes; larger
	// ones get 400 RequestHeaderSectionTooLarge.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConns bounds the client connections open at once; more wait in
	// the listen backlog.
	MaxConns int `yaml:"max_conns"`
	// MaxRequests bounds the S3 requests served at once; more get 503
	// SlowDown.
	MaxRequests int `yaml:"max_requests"`
}

func defaultConfig() Config {
	return Config{
		Data:                 DefaultData,
		Listen:               DefaultListen,
		Region:               DefaultRegion,
		ChunkSize:            DefaultChunkSize,
		LogLevel:             DefaultLogLevel,
		LogFormat:            DefaultLogFormat,
		ShutdownTimeout:      DefaultShutdownTimeout,
		MultipartMaxAge:      DefaultMultipartMaxAge,
		FetchTimeout:         DefaultFetchTimeout,
		FetchWindow:          gateway.DefaultFetchWindow,
		PeerOutstandingBytes: exchange.DefaultMaxOutstandingBytesPerPeer,
		IPFSGateway:          DefaultIPFSGateway,
		CacheSize:            "0",
		MinFree:              DefaultMinFree,
		P2PListen:            []string{exchange.DefaultListenTCP, exchange.DefaultListenQUIC},
		ReadHeaderTimeout:    DefaultReadHeaderTimeout,
		BodyIdleTimeout:      DefaultBodyIdleTimeout,
		WriteIdleTimeout:     DefaultWriteIdleTimeout,
		RequestTimeout:       DefaultRequestTimeout,
		IdleTimeout:          DefaultIdleTimeout,
		MaxHeaderBytes:       DefaultMaxHeaderBytes,
		MaxConns:             DefaultMaxConns,
		MaxRequests:          DefaultMaxRequests,
	}
}

// Validate reports the first setting that cannot work, in words an operator
// can act on.
func (c Config) Validate() error {
	if c.Data == "" {
		return errors.New("data: must name a directory")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: want HOST:PORT: %w", c.Listen, err)
	}
	if c.ChunkSize < 1024 || c.ChunkSize > 2<<20 {
		return fmt.Errorf("chunk_size %d: must be between 1024 and 2097152 bytes (Bitswap moves blocks of at most 2 MiB)", c.ChunkSize)
	}
	if c.Chunker != "" {
		if _, err := gateway.ParseChunker(c.Chunker); err != nil {
			return err
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format %q: want text or json", c.LogFormat)
	}
	if c.FetchTimeout <= 0 {
		return fmt.Errorf("fetch_timeout %s: must be positive", c.FetchTimeout)
	}
	if c.FetchWindow < 1 || c.FetchWindow > 1024 {
		return fmt.Errorf("fetch_window %d: must be between 1 and 1024 blocks", c.FetchWindow)
	}
	if c.PeerOutstandingBytes < 1<<20 {
		return fmt.Errorf("peer_outstanding_bytes %d: must be at least 1048576 (one block)", c.PeerOutstandingBytes)
	}
	if _, err := parseDiskSize(c.CacheSize); err != nil {
		return fmt.Errorf("cache_size: %w", err)
	}
	if _, err := parseDiskSize(c.MinFree); err != nil {
		return fmt.Errorf("min_free: %w", err)
	}
	if c.MultipartMaxAge == 0 {
		return errors.New("multipart_max_age: 0 would abort every upload at once; use a negative value to keep uploads for ever")
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown_timeout %s: must be positive", c.ShutdownTimeout)
	}
	switch c.IPFSGateway {
	case admin.IPFSGatewayOff, admin.IPFSGatewayAuth, admin.IPFSGatewayOpen:
	default:
		return fmt.Errorf("ipfs_gateway %q: want off, auth or open", c.IPFSGateway)
	}
	for _, b := range c.ReplicatedBuckets {
		if b == "" || strings.ContainsAny(b, "/ ") {
			return fmt.Errorf("replicated_buckets: %q is not a bucket name", b)
		}
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, "/ ") {
			return fmt.Errorf("domains: %q is not a domain name", d)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout}, {"body_idle_timeout", c.BodyIdleTimeout},
		{"write_idle_timeout", c.WriteIdleTimeout}, {"request_timeout", c.RequestTimeout},
		{"idle_timeout", c.IdleTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s %s: must be positive", d.key, d.v)
		}
	}
	if c.MaxHeaderBytes < 8<<10 || c.MaxHeaderBytes > 1<<20 {
		return fmt.Errorf("max_header_bytes %d: must be between 8192 and 1048576", c.MaxHeaderBytes)
	}
	if c.MaxConns < 1 {
		return fmt.Errorf("max_conns %d: must be at least 1", c.MaxConns)
	}
	if c.MaxRequests < 1 {
		return fmt.Errorf("max_requests %d: must be at least 1", c.MaxRequests)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// setting is one configurable value: its config-file key, the flag and
// environment names derived from it, its help text, and where it lives in a
// Config.
type setting struct {
	key   string
	flag  string // flag name when it differs from key with "-" for "_"
	usage string
	value func(*Config) flag.Value
}

func (s setting) flagName() string {
	if s.flag != "" {
		return s.flag
	}
	return strings.ReplaceAll(s.key, "_", "-")
}

func (s setting) envName() string { return "S3MESH_" + strings.ToUpper(s.key) }

// settings lists every setting of serve; README.md's table mirrors it.
var settings = []setting{
	{key: "data", usage: "data directory (blocks, object records, credentials)", value: func(c *Config) flag.Value { return (*stringValue)(&c.Data) }},
	{key: "listen", usage: "HOST:PORT for the S3 API, /metrics and /health/ready", value: func(c *Config) flag.Value { return (*stringValue)(&c.Listen) }},
	{key: "region", usage: "region the node reports", value: func(c *Config) flag.Value { return (*stringValue)(&c.Region) }},
	{key: "domains", flag: "domain", usage: "base domain for virtual-hosted-style requests (repeatable; comma-separated in the environment)", value: func(c *Config) flag.Value { return (*listValue)(&c.Domains) }},
	{key: "chunk_size", usage: "UnixFS leaf size in bytes for new objects", value: func(c *Config) flag.Value { return (*intValue)(&c.ChunkSize) }},
	{key: "chunker", usage: "how new objects are cut into blocks where the bucket names no chunker: size-N, buzhash, rabin[-MIN-AVG-MAX], fastcdc[-MIN-AVG-MAX] or cdc (empty: chunk_size blocks)", value: func(c *Config) flag.Value { return (*stringValue)(&c.Chunker) }},
	{key: "blockstore", usage: "block store backend for a new data directory: flatfs or pebble (empty: flatfs)", value: func(c *Config) flag.Value { return (*stringValue)(&c.Blockstore) }},
	{key: "multipart_max_age", usage: "age at which an unfinished multipart upload is aborted (negative: never)", value: func(c *Config) flag.Value { return (*durationValue)(&c.MultipartMaxAge) }},
	{key: "p2p_listen", usage: "libp2p listen multiaddr (repeatable; comma-separated in the environment)", value: func(c *Config) flag.Value { return (*listValue)(&c.P2PListen) }},
	{key: "peers", flag: "peer", usage: "another office's multiaddr with /p2p/ID, kept connected (repeatable)", value: func(c *Config) flag.Value { return (*listValue)(&c.Peers) }},
	{key: "swarm_key", usage: "private-network key file shared by all offices (empty: DATA/swarm.key if present)", value: func(c *Config) flag.Value { return (*stringValue)(&c.SwarmKey) }},
	{key: "allow_peers", flag: "allow-peer", usage: "peer ID allowed to connect and fetch blocks (repeatable; empty: any peer holding the swarm key)", value: func(c *Config) flag.Value { return (*listValue)(&c.AllowPeers) }},
	{key: "fetch_timeout", usage: "how long a GET waits for a block no reachable peer provides before failing with 503", value: func(c *Config) flag.Value { return (*durationValue)(&c.FetchTimeout) }},
	{key: "replicated_buckets", flag: "replicate-bucket", usage: "bucket every office fetches in full in the background, marked when the node starts or when the bucket is created (repeatable; comma-separated in the environment)", value: func(c *Config) flag.Value { return (*listValue)(&c.ReplicatedBuckets) }},
	{key: "ipfs_gateway", usage: "serve /ipfs/{cid} as a trustless IPFS gateway (raw blocks, CARs) on the S3 listener: off, auth (root credentials) or open (anyone)", value: func(c *Config) flag.Value { return (*stringValue)(&c.IPFSGateway) }},
	{key: "fetch_window", usage: "blocks a read keeps requested ahead from peers (fill a long, fat link: about 2 × bandwidth × RTT / 1 MiB)", value: func(c *Config) flag.Value { return (*intValue)(&c.FetchWindow) }},
	{key: "peer_outstanding_bytes", usage: "block bytes sent to one peer before it acknowledges earlier ones (at least bandwidth × RTT)", value: func(c *Config) flag.Value { return (*intValue)(&c.PeerOutstandingBytes) }},
	{key: "cache_size", usage: "budget for blocks held only because they were read, least recently read evicted first: bytes (KB, KiB, MB, MiB, GB, GiB, TB, TiB) or a percentage of the disk such as 25% (0: no budget)", value: func(c *Config) flag.Value { return (*diskSizeValue)(&c.CacheSize) }},
	{key: "min_free", usage: "free space kept on the data directory's disk: below it cached blocks are evicted and writes refused with 507 (bytes with a unit, or a percentage; -1: off)", value: func(c *Config) flag.Value { return (*diskSizeValue)(&c.MinFree) }},
	{key: "mdns", usage: "discover other nodes on the LAN with mDNS", value: func(c *Config) flag.Value { return (*boolValue)(&c.MDNS) }},
	{key: "office", usage: "this node's office name (letters, digits, . _ -): peers of the same office count as LAN traffic, others as WAN", value: func(c *Config) flag.Value { return (*stringValue)(&c.Office) }},
	{key: "log_level", usage: "log level: debug, info, warn, error", value: func(c *Config) flag.Value { return (*stringValue)(&c.LogLevel) }},
	{key: "log_format", usage: "log format: text or json", value: func(c *Config) flag.Value { return (*stringValue)(&c.LogFormat) }},
	{key: "shutdown_timeout", usage: "how long in-flight requests may finish after SIGINT/SIGTERM", value: func(c *Config) flag.Value { return (*durationValue)(&c.ShutdownTimeout) }},
	{key: "read_header_timeout", usage: "time a client has to send a request's header section (then 400 RequestTimeout and close)", value: func(c *Config) flag.Value { return (*durationValue)(&c.ReadHeaderTimeout) }},
	{key: "body_idle_timeout", usage: "time a request body may send nothing (then 400 RequestTimeout and close)", value: func(c *Config) flag.Value { return (*durationValue)(&c.BodyIdleTimeout) }},
	{key: "write_idle_timeout", usage: "time a client may read nothing of its response (then the connection is closed)", value: func(c *Config) flag.Value { return (*durationValue)(&c.WriteIdleTimeout) }},
	{key: "request_timeout", usage: "bound of a whole request, body and response included (then 400 RequestTimeout, or the connection is closed mid-response)", value: func(c *Config) flag.Value { return (*durationValue)(&c.RequestTimeout) }},
	{key: "idle_timeout", usage: "time a kept-alive connection may wait for its next request", value: func(c *Config) flag.Value { return (*durationValue)(&c.IdleTimeout) }},
	{key: "max_header_bytes", usage: "largest request header section in bytes (then 400 RequestHeaderSectionTooLarge)", value: func(c *Config) flag.Value { return (*intValue)(&c.MaxHeaderBytes) }},
	{key: "max_conns", usage: "client connections open at once; more wait in the listen backlog", value: func(c *Config) flag.Value { return (*intValue)(&c.MaxConns) }},
	{key: "max_requests", usage: "S3 requests served at once; more get 503 SlowDown", value: func(c *Config) flag.Value { return (*intValue)(&c.MaxRequests) }},
}

// loadConfig builds the effective Config from defaults, the config file,
// the environment and args, in that order of precedence (args win).
func loadConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configFile string
	fs.StringVar(&configFile, "config", "", "YAML config file (keys as in README.md)")
	type rawSet struct{ name, value string }
	var sets []rawSet
	byFlag := map[string]setting{}
	defaults := defaultConfig()
	for _, s := range settings {
		byFlag[s.flagName()] = s
		def := s.value(&defaults).String()
		_, isBool := s.value(&defaults).(*boolValue)
		fs.Var(recorder{name: s.flagName(), isBool: isBool, sets: func(name, v string) { sets = append(sets, rawSet{name, v}) }}, s.flagName(),
			fmt.Sprintf("%s (env %s, config key %s) (default %q)", s.usage, s.envName(), s.key, def))
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: s3mesh %s [flags]\n", cmd)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s3mesh %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return Config{}, errUsage
	}

	cfg := defaultConfig()
	if configFile == "" {
		configFile = getenv("S3MESH_CONFIG")
	}
	if configFile != "" {
		if err := readConfigFile(configFile, &cfg); err != nil {
			return Config{}, err
		}
	}
	for _, s := range settings {
		if v := getenv(s.envName()); v != "" {
			val := s.value(&cfg)
			if l, ok := val.(*listValue); ok {
				*l = nil
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part != "" {
						*l = append(*l, part)
					}
				}
				continue
			}
			if err := val.Set(v); err != nil {
				return Config{}, fmt.Errorf("environment %s=%q: %w", s.envName(), v, err)
			}
		}
	}
	reset := map[string]bool{}
	for _, st := range sets {
		val := byFlag[st.name].value(&cfg)
		if l, ok := val.(*listValue); ok && !reset[st.name] {
			*l = nil
			reset[st.name] = true
		}
		if err := val.Set(st.value); err != nil {
			return Config{}, fmt.Errorf("--%s %q: %w", st.name, st.value, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func readConfigFile(path string, cfg *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// recorder is the flag.Value of every setting on the command line: it
// records what was set so the values apply after the file and environment.
type recorder struct {
	name   string
	isBool bool
	sets   func(name, value string)
}

// IsBoolFlag lets a boolean setting be given as a bare --flag.
func (r recorder) IsBoolFlag() bool { return r.isBool }

func (r recorder) String() string { return "" }
func (r recorder) Set(v string) error {
	r.sets(r.name, v)
	return nil
}

type stringValue string

func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }

type intValue int

func (i *intValue) String() string { return strconv.Itoa(int(*i)) }
func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*i = intValue(n)
	return nil
}

type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration such as 30s")
	}
	*d = durationValue(x)
	return nil
}

type boolValue bool

func (b *boolValue) String() string { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("not true or false")
	}
	*b = boolValue(x)
	return nil
}

// IsBoolFlag lets "--mdns" stand for "--mdns=true".
func (b *boolValue) IsBoolFlag() bool { return true }

type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(v string) error {
	*l = append(*l, v)
	return nil
}
