package system

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system/defaults"
)

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "troupe.yaml")
	err := os.WriteFile(file, []byte("data-dir: /from/file\nshards: 4\nfsync: none\napi-keys: [a, b]\nmax-body: 2MiB\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TROUPE_CONFIG":             file,
		"TROUPE_SHARDS":             "8",
		"TROUPE_FSYNC":              "always",
		"SPKY_SSP_LISTEN_ADDR":      "127.0.0.1:9999",
		"TTL_CLEANUP_INTERVAL_SECS": "7",
	}
	c, err := LoadConfig([]string{"--fsync=batch"}, mapEnv(env), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"flag wins over env", c.Fsync, "batch"},
		{"env wins over file", c.Shards, 8},
		{"file fills the rest", c.DataDir, "/from/file"},
		{"file list", c.APIKeys, []string{"a", "b"}},
		{"file byte size", c.MaxBody, int64(2 << 20)},
		{"spec variable", c.SSPAddr, "127.0.0.1:9999"},
		{"spec variable in seconds", c.TTLCleanupInterval, 7 * time.Second},
		{"default", c.RequestTimeout, 5 * time.Second},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestConfigTroupeEnvWinsOverSpecEnv(t *testing.T) {
	env := map[string]string{"TROUPE_SSP_ADDR": ":1", "SPKY_SSP_LISTEN_ADDR": ":2"}
	c, err := LoadConfig(nil, mapEnv(env), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.SSPAddr != ":1" {
		t.Fatalf("ssp-addr = %q, want TROUPE_SSP_ADDR's :1", c.SSPAddr)
	}
}

func TestConfigErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("no-such-flag: 1\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fsync=sometimes"}, "want always, batch or none"},
		{[]string{"--shards=0"}, "--shards=0"},
		{[]string{"--max-body=lots"}, "not a byte size"},
		{[]string{"--log-level=loud"}, "--log-level"},
		{[]string{"--gc-percent=0"}, "--gc-percent=0: want a positive percentage"},
		{[]string{"--gc-percent=-1"}, "needs an explicit --memory-limit"},
		{[]string{"--config=" + bad}, `unknown setting "no-such-flag"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, err := LoadConfig(tc.args, NoEnv, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512KiB": 512 << 10, "16MiB": 16 << 20, "1GB": 1e9, "3 MB": 3e6, "0": 0} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: got %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "1.5MiB", "MiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q: accepted as %d", in, b)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out strings.Builder
	_, err := LoadConfig([]string{"--help"}, NoEnv, &out)
	if err == nil {
		t.Fatal("--help must return flag.ErrHelp")
	}
	for _, name := range []string{"data-dir", "fsync", "ssp-addr", "data-addr", "hub-addr", "skip-control-addr",
		"skip-streaming-addr", "api-keys", "chaos", "insecure", "log-format", "max-body", "max-memory", "shards", "config"} {
		if !strings.Contains(out.String(), "-"+name) {
			t.Errorf("--help does not list --%s", name)
		}
	}
}

// mapEnv is an environment of the variables in env.
func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// A variable set to the empty string is the empty value, as the flag given
// empty is; an unset one leaves the default.
func TestConfigEmptyVariableIsEmptyValue(t *testing.T) {
	c, err := LoadConfig(nil, mapEnv(map[string]string{"TROUPE_DATA_DIR": "", "TROUPE_API_KEYS": ""}), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "" {
		t.Errorf("TROUPE_DATA_DIR= gave data-dir %q, want memory only", c.DataDir)
	}
	flag, err := LoadConfig([]string{"--data-dir="}, NoEnv, os.Stderr)
	if err != nil || flag.DataDir != c.DataDir {
		t.Errorf("--data-dir= gave %q, %v; want what TROUPE_DATA_DIR= gives", flag.DataDir, err)
	}
	unset, err := LoadConfig(nil, NoEnv, os.Stderr)
	if err != nil || unset.DataDir != "troupe-data" {
		t.Errorf("unset: data-dir %q, %v; want the default", unset.DataDir, err)
	}
	// An empty value a flag refuses is refused from the environment too.
	if _, err := LoadConfig(nil, mapEnv(map[string]string{"TROUPE_MAX_BODY": ""}), os.Stderr); err == nil ||
		!strings.Contains(err.Error(), "TROUPE_MAX_BODY") {
		t.Errorf("TROUPE_MAX_BODY=: got %v, want an error naming it", err)
	}
}

// The original systems' variables the server used to read itself go
// through the configuration, under their names.
func TestConfigSpecVariables(t *testing.T) {
	env := map[string]string{
		"SPKY_AUTH_SECRET":      "s3cret",
		"SKIP_RESOURCE_PREFIX":  "/p",
		"SPKY_JOB_CONFIG":       `[{"name":"api","table":"job","base_url":"http://localhost:3000"}]`,
		"SPKY_DB_URL":           "ws://db:8000",
		"SPKY_DB_NS":            "ns",
		"SPKY_SCHEDULER_URL":    "http://scheduler:9667",
		"HEARTBEAT_INTERVAL_MS": "2500",
	}
	c, err := LoadConfig(nil, mapEnv(env), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"SPKY_AUTH_SECRET", c.SSPAuthSecret, "s3cret"},
		{"SKIP_RESOURCE_PREFIX", c.SkipResourcePrefix, "/p"},
		{"SPKY_JOB_CONFIG", c.SSPJobs, env["SPKY_JOB_CONFIG"]},
		{"SPKY_DB_URL", c.SSPDBURL, "ws://db:8000"},
		{"HEARTBEAT_INTERVAL_MS", c.SSPHeartbeatInterval, 2500 * time.Millisecond},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	want := map[string]string{
		"SPKY_DB_URL": "ws://db:8000", "SPKY_DB_NS": "ns", "SPKY_SCHEDULER_URL": "http://scheduler:9667",
		"SPKY_SSP_LISTEN_ADDR": ":8667", "HEARTBEAT_INTERVAL_MS": "2500", "TTL_CLEANUP_INTERVAL_SECS": "60",
	}
	if got := c.SchedulerEnv(); !reflect.DeepEqual(got, want) {
		t.Errorf("SchedulerEnv() = %v, want %v", got, want)
	}
}

// Each default a front door also fills in has one home, package defaults.
func TestConfigDefaultsHaveOneHome(t *testing.T) {
	c, err := LoadConfig(nil, NoEnv, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"request-timeout", c.RequestTimeout, time.Duration(defaults.RequestTimeout)},
		{"max-body", c.MaxBody, int64(defaults.MaxBody)},
		{"ws-buffer-bytes", c.WSBufferBytes, int64(defaults.WSBufferBytes)},
		{"skip-sse-buffer-bytes", c.SkipSSEBufferBytes, int64(defaults.SkipSSEBufferBytes)},
		{"max-sessions", c.MaxSessions, defaults.MaxSessions},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
