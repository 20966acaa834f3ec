package main

import (
	"bufio"
	"crypto/rand"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"go.yaml.in/yaml/v3"

	"s3mesh/exchange"
)

// The tests in this file keep the packaging in the repository root
// (Dockerfile) and deploy/ true to the node: the compose offices start
// with the settings they mean, Prometheus scrapes each of them where it
// listens, and the systemd unit passes serve flags it has (the
// dashboard's queries are dashboard_test.go's).

var (
	repoRoot  = filepath.Join("..", "..")
	deployDir = filepath.Join(repoRoot, "deploy")
)

// dockerfile is what the tests read of the Dockerfile: its instructions by
// keyword, continuation lines joined.
func dockerfile(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			cur += more + " "
			continue
		}
		cur += line
		kw, rest, _ := strings.Cut(cur, " ")
		out[strings.ToUpper(kw)] = append(out[strings.ToUpper(kw)], strings.TrimSpace(rest))
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerEnv returns the image's environment (ENV KEY=VALUE ... lines).
func dockerEnv(t *testing.T, df map[string][]string) map[string]string {
	env := map[string]string{}
	for _, line := range df["ENV"] {
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Errorf("Dockerfile: ENV %s: want KEY=VALUE", line)
			}
			env[k] = v
		}
	}
	return env
}

// settingEnv reports whether name is an environment variable serve reads.
func settingEnv(name string) bool {
	if name == "S3MESH_ACCESS_KEY" || name == "S3MESH_SECRET_KEY" || name == "S3MESH_CONFIG" {
		return true
	}
	for _, s := range settings {
		if s.envName() == name {
			return true
		}
	}
	return false
}

func portOf(t *testing.T, hostport string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return port
}

// p2pPort returns the TCP and UDP ports of the default libp2p listen
// addresses.
func p2pPorts(t *testing.T) (tcp, udp string) {
	t.Helper()
	for _, s := range []string{exchange.DefaultListenTCP, exchange.DefaultListenQUIC} {
		m, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := m.ValueForProtocol(multiaddr.P_TCP); err == nil {
			tcp = v
		}
		if v, err := m.ValueForProtocol(multiaddr.P_UDP); err == nil {
			udp = v
		}
	}
	if tcp == "" || udp == "" {
		t.Fatalf("default p2p listen addresses %s, %s: want a TCP and a UDP port", exchange.DefaultListenTCP, exchange.DefaultListenQUIC)
	}
	return tcp, udp
}

// TestDockerfile checks the image: a static, version-stamped binary; the
// settings it sets exist; the S3 listener reachable from outside the
// container; the data directory a volume; the ports of the defaults
// exposed; a non-root user.
func TestDockerfile(t *testing.T) {
	df := dockerfile(t)
	build := strings.Join(df["RUN"], "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.stampedVersion=${VERSION}", "./cmd/s3mesh"} {
		if !strings.Contains(build, want) {
			t.Errorf("Dockerfile: the build does not use %q", want)
		}
	}
	saved := stampedVersion
	stampedVersion = "v1.2.3"
	if got := version(); got != "v1.2.3" {
		t.Errorf("version() = %q with main.stampedVersion set to v1.2.3", got)
	}
	stampedVersion = saved

	env := dockerEnv(t, df)
	for k := range env {
		if !settingEnv(k) {
			t.Errorf("Dockerfile: ENV %s is not a setting of serve", k)
		}
	}
	cfg, err := loadConfig("serve", nil, func(k string) string { return env[k] }, os.Stderr)
	if err != nil {
		t.Fatalf("Dockerfile: the image's environment: %v", err)
	}
	if host, _, _ := net.SplitHostPort(cfg.Listen); host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("Dockerfile: listen %s is not reachable from outside the container", cfg.Listen)
	}
	volumes := strings.Join(df["VOLUME"], " ")
	if !strings.Contains(volumes, `"`+cfg.Data+`"`) && !slices.Contains(strings.Fields(volumes), cfg.Data) {
		t.Errorf("Dockerfile: the data directory %s is not a VOLUME (%s)", cfg.Data, volumes)
	}
	tcp, udp := p2pPorts(t)
	exposed := strings.Fields(strings.Join(df["EXPOSE"], " "))
	for _, want := range []string{portOf(t, cfg.Listen) + "/tcp", tcp + "/tcp", udp + "/udp"} {
		if !slices.Contains(exposed, want) {
			t.Errorf("Dockerfile: EXPOSE %v lacks %s", exposed, want)
		}
	}
	if users := df["USER"]; len(users) == 0 || strings.HasPrefix(users[len(users)-1], "0") || strings.HasPrefix(users[len(users)-1], "root") {
		t.Errorf("Dockerfile: USER %v: want a non-root user", users)
	}
	if ep := strings.Join(df["ENTRYPOINT"], ""); !strings.Contains(ep, "s3mesh") {
		t.Errorf("Dockerfile: ENTRYPOINT %s does not run s3mesh", ep)
	}
}

// interpolate replaces compose's ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?message} and ${VAR?message} in s with values from vars.
func interpolate(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		v, set := vars[sub[1]]
		switch sub[2] {
		case ":-", "-":
			if !set || v == "" && sub[2] == ":-" {
				return sub[3]
			}
		case ":?", "?":
			if !set || v == "" && sub[2] == ":?" {
				t.Errorf("compose.yaml: ${%s} is required: %s", sub[1], sub[3])
			}
		}
		return v
	})
}

// composeFile is the part of deploy/compose.yaml the tests read.
type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Secrets     []string          `yaml:"secrets"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

// offices are the s3mesh services of deploy/compose.yaml.
var offices = []string{"berlin", "austin", "tokyo"}

// newPeerID returns a fresh peer ID, as "s3mesh id" prints one.
func newPeerID(t *testing.T) string {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// TestComposeOffices checks deploy/compose.yaml, deploy/prometheus.yml and
// Grafana's provisioning together: each office is built from the
// Dockerfile, keeps its data in its own volume, starts with the settings
// its environment sets (the IDs compose-init.sh records filled in), names
// its office, and peers with every other office by service name at the
// port it listens on;
// Prometheus scrapes every office at its S3 listener's /metrics and nothing
// else; Grafana gets the datasource and the dashboard where the
// provisioning looks for them; every file mounted exists.
func TestComposeOffices(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"S3MESH_ACCESS_KEY": "AKIAEXAMPLE", "S3MESH_SECRET_KEY": "secret"}
	ids := map[string]string{}
	for _, o := range offices {
		ids[o] = newPeerID(t)
		vars[strings.ToUpper(o)+"_ID"] = ids[o]
	}
	var c composeFile
	if err := yaml.Unmarshal([]byte(interpolate(t, string(b), vars)), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	image := dockerEnv(t, dockerfile(t))
	tcp, _ := p2pPorts(t)

	// mounted checks that a bind mount's source exists and returns its
	// target; named volumes must be declared.
	mounted := func(svc, v string) (source, target string) {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Errorf("compose.yaml: %s: volume %q: want SOURCE:TARGET", svc, v)
			return "", ""
		}
		source, target = parts[0], parts[1]
		if strings.HasPrefix(source, ".") {
			if _, err := os.Stat(filepath.Join(deployDir, source)); err != nil {
				t.Errorf("compose.yaml: %s mounts %s: %v", svc, source, err)
			}
		} else if _, ok := c.Volumes[source]; !ok {
			t.Errorf("compose.yaml: %s: volume %s is not declared under volumes", svc, source)
		}
		return source, target
	}

	listenPort := map[string]string{}
	usedVolumes := map[string]string{}
	for _, o := range offices {
		svc, ok := c.Services[o]
		if !ok {
			t.Errorf("compose.yaml has no office %s", o)
			continue
		}
		if svc.Build == nil {
			t.Errorf("compose.yaml: %s is not built", o)
		} else if _, err := os.Stat(filepath.Join(deployDir, svc.Build.Context, svc.Build.Dockerfile)); err != nil {
			t.Errorf("compose.yaml: %s builds %s: %v", o, path.Join(svc.Build.Context, svc.Build.Dockerfile), err)
		}
		env := maps(image, svc.Environment)
		for k := range svc.Environment {
			if strings.HasPrefix(k, "S3MESH_") && !settingEnv(k) {
				t.Errorf("compose.yaml: %s: %s is not a setting of serve", o, k)
			}
		}
		cfg, err := loadConfig("serve", nil, func(k string) string { return env[k] }, os.Stderr)
		if err != nil {
			t.Errorf("compose.yaml: %s: %v", o, err)
			continue
		}
		if cfg.Office != o {
			t.Errorf("compose.yaml: %s: office %q, want %q: traffic between the offices counts as WAN only when each names its own", o, cfg.Office, o)
		}
		listenPort[o] = portOf(t, cfg.Listen)
		for _, p := range svc.Ports {
			parts := strings.Split(p, ":")
			if parts[len(parts)-1] != listenPort[o] {
				t.Errorf("compose.yaml: %s publishes %s, but the node listens on %s", o, p, cfg.Listen)
			}
		}
		dataVolume := ""
		for _, v := range svc.Volumes {
			if source, target := mounted(o, v); target == cfg.Data {
				dataVolume = source
			}
		}
		if dataVolume == "" {
			t.Errorf("compose.yaml: %s: no volume at its data directory %s", o, cfg.Data)
		} else if other, dup := usedVolumes[dataVolume]; dup {
			t.Errorf("compose.yaml: %s and %s share the data volume %s", o, other, dataVolume)
		}
		usedVolumes[dataVolume] = o
		if cfg.SwarmKey == "" {
			t.Errorf("compose.yaml: %s has no swarm key", o)
		} else {
			name, ok := strings.CutPrefix(cfg.SwarmKey, "/run/secrets/")
			if _, declared := c.Secrets[name]; !ok || !declared || !slices.Contains(svc.Secrets, name) {
				t.Errorf("compose.yaml: %s: swarm key %s is not a secret the service is given", o, cfg.SwarmKey)
			}
		}

		// Each office peers with every other by service name, at the
		// port it listens on for TCP.
		var peered []string
		for _, s := range cfg.Peers {
			ai, err := peer.AddrInfoFromString(s)
			if err != nil {
				t.Errorf("compose.yaml: %s: peer %s: %v", o, s, err)
				continue
			}
			host, _ := ai.Addrs[0].ValueForProtocol(multiaddr.P_DNS4)
			port, _ := ai.Addrs[0].ValueForProtocol(multiaddr.P_TCP)
			if ids[host] != ai.ID.String() {
				t.Errorf("compose.yaml: %s: peer %s: want /dns4/OFFICE/tcp/%s/p2p/${OFFICE_ID} of another office", o, s, tcp)
			}
			if port != tcp {
				t.Errorf("compose.yaml: %s: peer %s: port %s, but offices listen on %s", o, s, port, tcp)
			}
			peered = append(peered, host)
		}
		var want []string
		for _, other := range offices {
			if other != o {
				want = append(want, other)
			}
		}
		sort.Strings(peered)
		sort.Strings(want)
		if !slices.Equal(peered, want) {
			t.Errorf("compose.yaml: %s peers with %v, want %v", o, peered, want)
		}
		for _, l := range cfg.P2PListen {
			m, err := multiaddr.NewMultiaddr(l)
			if err != nil {
				t.Errorf("compose.yaml: %s: p2p_listen %s: %v", o, l, err)
			} else if p, err := m.ValueForProtocol(multiaddr.P_TCP); err == nil && p != tcp {
				t.Errorf("compose.yaml: %s listens on %s, but the others dial port %s", o, l, tcp)
			}
		}
	}

	// Prometheus scrapes exactly the offices, at their listeners' /metrics.
	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatal("compose.yaml has no prometheus service")
	}
	configPath := "/etc/prometheus/prometheus.yml"
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			configPath = v
		}
	}
	promMounted := false
	for _, v := range prom.Volumes {
		if source, target := mounted("prometheus", v); path.Clean(source) == "prometheus.yml" && target == configPath {
			promMounted = true
		}
	}
	if !promMounted {
		t.Errorf("compose.yaml: prometheus does not mount ./prometheus.yml at %s", configPath)
	}
	b, err = os.ReadFile(filepath.Join(deployDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &pc); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	var scraped, want []string
	for _, sc := range pc.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("prometheus.yml: job %s scrapes %s, the node serves /metrics", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			scraped = append(scraped, st.Targets...)
		}
	}
	for _, o := range offices {
		want = append(want, net.JoinHostPort(o, listenPort[o]))
	}
	sort.Strings(scraped)
	sort.Strings(want)
	if !slices.Equal(scraped, want) {
		t.Errorf("prometheus.yml scrapes %v; the offices listen at %v", scraped, want)
	}

	// Grafana: the provisioning, the dashboard where the provider looks,
	// the datasource at the Prometheus service.
	graf, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("compose.yaml has no grafana service")
	}
	targets := map[string]string{}
	for _, v := range graf.Volumes {
		source, target := mounted("grafana", v)
		targets[path.Clean(source)] = target
	}
	if targets["grafana/provisioning"] != "/etc/grafana/provisioning" {
		t.Errorf("compose.yaml: grafana mounts ./grafana/provisioning at %q, want /etc/grafana/provisioning", targets["grafana/provisioning"])
	}
	b, err = os.ReadFile(filepath.Join(deployDir, "grafana", "provisioning", "dashboards", "s3mesh.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dp struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &dp); err != nil {
		t.Fatalf("dashboard provisioning: %v", err)
	}
	if len(dp.Providers) != 1 || dp.Providers[0].Options.Path != path.Dir(targets["grafana/s3mesh.json"]) {
		t.Errorf("dashboard provisioning reads %+v; compose.yaml mounts the dashboard at %q", dp.Providers, targets["grafana/s3mesh.json"])
	}
	b, err = os.ReadFile(filepath.Join(deployDir, "grafana", "provisioning", "datasources", "prometheus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatalf("datasource provisioning: %v", err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasource provisioning: %+v, want one prometheus datasource at http://prometheus:9090", ds.Datasources)
	}
}

// maps returns the union of ms, later maps winning.
func maps(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestSystemdUnit checks deploy/s3mesh.service: ExecStart runs serve with
// flags serve has, its data directory is the unit's state directory and
// writable, the user is not root, and SIGTERM stops it.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join(deployDir, "s3mesh.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("s3mesh.service: %q is not KEY=VALUE", line)
			continue
		}
		unit[k] = append(unit[k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	one := func(k string) string {
		if len(unit[k]) != 1 {
			t.Errorf("s3mesh.service: %s set %d times, want once", k, len(unit[k]))
			return ""
		}
		return unit[k][0]
	}
	args := strings.Fields(one("ExecStart"))
	if len(args) < 2 || filepath.Base(args[0]) != "s3mesh" || args[1] != "serve" {
		t.Fatalf("s3mesh.service: ExecStart %v: want s3mesh serve ...", args)
	}
	flags := map[string]string{}
	for i := 2; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok || i+1 == len(args) {
			t.Errorf("s3mesh.service: ExecStart: %q: want --flag value", args[i])
			continue
		}
		known := name == "config"
		for _, s := range settings {
			known = known || s.flagName() == name
		}
		if !known {
			t.Errorf("s3mesh.service: ExecStart: serve has no flag --%s", name)
		}
		flags[name] = args[i+1]
		i++
	}
	data := flags["data"]
	if want := "/var/lib/" + one("StateDirectory"); data != want {
		t.Errorf("s3mesh.service: --data %q, want the state directory %s", data, want)
	}
	if !slices.Contains(strings.Fields(strings.Join(unit["ReadWritePaths"], " ")), data) {
		t.Errorf("s3mesh.service: ReadWritePaths %v lacks the data directory %s", unit["ReadWritePaths"], data)
	}
	if u := one("User"); u == "" || u == "root" || u == "0" {
		t.Errorf("s3mesh.service: User %q: want a dedicated user", u)
	}
	for k, want := range map[string]string{"KillSignal": "SIGTERM", "Restart": "on-failure", "ProtectSystem": "strict", "NoNewPrivileges": "yes"} {
		if got := one(k); got != want {
			t.Errorf("s3mesh.service: %s=%s, want %s", k, got, want)
		}
	}
}

// TestREADMEListsDeployFiles keeps README.md's "Deploy" paragraph in step
// with deploy/: every file there is named.
func TestREADMEListsDeployFiles(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	err = filepath.WalkDir(deployDir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch path.Base(rel) {
		case ".gitignore", ".env", "swarm.key": // local, made by compose-init.sh
			return nil
		}
		if strings.HasPrefix(rel, "deploy/grafana/provisioning/") {
			rel = "deploy/grafana/provisioning/"
		}
		if !strings.Contains(readme, rel) {
			t.Errorf("README.md does not mention %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
