// Package jobconfig reads which tables are job tables and the backend each
// one calls: the SPKY_JOB_CONFIG variable (the original SSP's JSON array, or
// the spec's {"job_tables": {...}} object) and the job_tables key of a YAML
// file (the spec's sp00ky.yml). A mistake is an error that names the field,
// so that a bad deployment stops at start-up instead of losing jobs.
package jobconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultTimeout is a backend call's timeout when the config gives none:
// the original's 10 s.
const DefaultTimeout = 10 * time.Second

// MaxTimeout bounds a configured or per-row timeout: a job holds its queue
// message while its call runs, and the message's ack deadline must outlast it.
const MaxTimeout = time.Hour

// Backend is the service that runs the jobs of one table.
type Backend struct {
	Name      string // for logs, metrics and /info; the table when not given
	Table     string
	BaseURL   string
	AuthToken string // sent as "Authorization: Bearer <token>" when not empty
	// Timeout of one call; a row's own timeout replaces it only when
	// TimeoutOverridable.
	Timeout            time.Duration
	TimeoutOverridable bool
}

// CallTimeout is the timeout of a call for a row whose timeout field holds
// rowSeconds (0: none): the row's, when the backend lets rows override it,
// else the backend's. It is never above MaxTimeout.
func (b Backend) CallTimeout(rowSeconds float64) time.Duration {
	t := b.Timeout
	if b.TimeoutOverridable && rowSeconds > 0 {
		t = time.Duration(min(rowSeconds, MaxTimeout.Seconds()) * float64(time.Second))
	}
	return min(t, MaxTimeout)
}

// Config maps each job table to its backend.
type Config struct {
	Tables map[string]Backend
}

// Sorted returns the backends in table order.
func (c Config) Sorted() []Backend {
	out := make([]Backend, 0, len(c.Tables))
	for _, t := range slices.Sorted(maps.Keys(c.Tables)) {
		out = append(out, c.Tables[t])
	}
	return out
}

// tableName is what a job table may be called: its jobs' queue is named
// "_jobs.<table>", and queue names allow these characters only.
var tableName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,190}$`)

// EnvName is the variable ParseEnv reads, named in its errors.
const EnvName = "SPKY_JOB_CONFIG"

// ParseEnv reads the value of SPKY_JOB_CONFIG: either the original's array
// [{name, table, base_url, auth_token, timeout, timeout_overridable}] or the
// spec's object {"job_tables": {<table>: {name, base_url, auth_token,
// timeout, timeout_overridable}}}. Empty or blank means no job tables.
func ParseEnv(value string) (Config, error) {
	if strings.TrimSpace(value) == "" {
		return Config{Tables: map[string]Backend{}}, nil
	}
	dec := json.NewDecoder(strings.NewReader(value))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Config{}, fmt.Errorf("%s is not valid JSON: %v", EnvName, err)
	}
	if dec.More() {
		return Config{}, fmt.Errorf("%s: unexpected text after the JSON value", EnvName)
	}
	switch v := v.(type) {
	case []any:
		return parseList(EnvName, v)
	case map[string]any:
		jt, ok := v["job_tables"]
		if !ok {
			return Config{}, fmt.Errorf("%s: an object needs the key job_tables (or give the original's array of backends)", EnvName)
		}
		return parseTables(EnvName+".job_tables", jt)
	}
	return Config{}, fmt.Errorf("%s must be a JSON array of backends or an object with job_tables, not %s", EnvName, kind(v))
}

// ParseYAML reads the job tables of a YAML document such as sp00ky.yml
// (other keys are the rest of that file and are ignored); source names the
// file in errors. They are the job_tables key (the spec's map of tables, or
// the original's list of backends) and the backends among apps (the
// original CLI's form: an app of type backend whose method is an outbox
// table).
func ParseYAML(source string, data []byte) (Config, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: not valid YAML: %v", source, err)
	}
	jt, hasTables := doc["job_tables"]
	apps, hasApps := doc["apps"]
	if !hasTables && !hasApps {
		return Config{}, fmt.Errorf("%s: no job_tables key (nor apps)", source)
	}
	c := Config{Tables: map[string]Backend{}}
	var err error
	if hasTables {
		if list, ok := jt.([]any); ok {
			c, err = parseList(source+": job_tables", list)
		} else {
			c, err = parseTables(source+": job_tables", jt)
		}
		if err != nil {
			return Config{}, err
		}
	}
	if !hasApps {
		return c, nil
	}
	fromApps, err := parseApps(source+": apps", apps)
	if err != nil {
		return Config{}, err
	}
	for t, be := range fromApps.Tables {
		if _, dup := c.Tables[t]; dup {
			return Config{}, fmt.Errorf("%s: apps.%s: table %q is also under job_tables", source, be.Name, t)
		}
		c.Tables[t] = be
	}
	return c, nil
}

// parseApps reads the original CLI's apps: each app of type backend whose
// method is {type: outbox, table} runs the jobs of that table, at baseUrl,
// with auth {type: token, token} and deploy {timeout, timeoutOverridable}.
// Other apps are not job backends and are skipped, as the original does.
func parseApps(where string, v any) (Config, error) {
	c := Config{Tables: map[string]Backend{}}
	if v == nil {
		return c, nil
	}
	apps, ok := v.(map[string]any)
	if !ok {
		return Config{}, fmt.Errorf("%s must be an object of apps, not %s", where, kind(v))
	}
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		at := where + "." + name
		app, ok := apps[name].(map[string]any)
		if !ok {
			continue
		}
		method, _ := app["method"].(map[string]any)
		if app["type"] != "backend" || method == nil || method["type"] != "outbox" {
			continue
		}
		entry := map[string]any{"name": name, "table": method["table"], "base_url": app["baseUrl"]}
		if auth, ok := app["auth"].(map[string]any); ok && auth["type"] == "token" {
			entry["auth_token"] = auth["token"]
		}
		if deploy, ok := app["deploy"].(map[string]any); ok {
			entry["timeout"] = deploy["timeout"]
			entry["timeout_overridable"] = deploy["timeoutOverridable"]
		}
		be, err := parseBackend(at, entry, "")
		if err != nil {
			// Name the app's own keys, not the translated ones.
			msg := strings.NewReplacer(at+".table", at+".method.table", at+".base_url", at+".baseUrl",
				at+".auth_token", at+".auth.token", at+".timeout_overridable", at+".deploy.timeoutOverridable",
				at+".timeout", at+".deploy.timeout").Replace(err.Error())
			return Config{}, errors.New(msg)
		}
		if other, dup := c.Tables[be.Table]; dup {
			return Config{}, fmt.Errorf("%s.method.table: %q is already the table of app %s", at, be.Table, other.Name)
		}
		c.Tables[be.Table] = be
	}
	return c, nil
}

// Merge joins two configs; a table in both is an error.
func Merge(a, b Config) (Config, error) {
	out := Config{Tables: map[string]Backend{}}
	maps.Copy(out.Tables, a.Tables)
	for t, be := range b.Tables {
		if _, dup := out.Tables[t]; dup {
			return Config{}, fmt.Errorf("job table %q is configured both in %s and in the job config file", t, EnvName)
		}
		out.Tables[t] = be
	}
	return out, nil
}

func parseList(where string, list []any) (Config, error) {
	c := Config{Tables: map[string]Backend{}}
	first := map[string]int{}
	for i, e := range list {
		at := fmt.Sprintf("%s[%d]", where, i)
		obj, ok := e.(map[string]any)
		if !ok {
			return Config{}, fmt.Errorf("%s must be an object, not %s", at, kind(e))
		}
		be, err := parseBackend(at, obj, "")
		if err != nil {
			return Config{}, err
		}
		if j, dup := first[be.Table]; dup {
			return Config{}, fmt.Errorf("%s.table: %q is already the table of %s[%d]", at, be.Table, where, j)
		}
		first[be.Table] = i
		c.Tables[be.Table] = be
	}
	return c, nil
}

func parseTables(where string, v any) (Config, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Config{}, fmt.Errorf("%s must be an object of tables, not %s", where, kind(v))
	}
	c := Config{Tables: map[string]Backend{}}
	for _, t := range slices.Sorted(maps.Keys(obj)) {
		at := where + "." + t
		entry, ok := obj[t].(map[string]any)
		if !ok {
			return Config{}, fmt.Errorf("%s must be an object, not %s", at, kind(obj[t]))
		}
		be, err := parseBackend(at, entry, t)
		if err != nil {
			return Config{}, err
		}
		c.Tables[t] = be
	}
	return c, nil
}

// parseBackend checks one backend's fields; table is its key in the map
// form ("" in the list form, where the table is a field).
func parseBackend(at string, obj map[string]any, table string) (Backend, error) {
	be := Backend{Table: table, Timeout: DefaultTimeout}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		field := at + "." + k
		var err error
		switch k {
		case "name":
			be.Name, err = optString(field, v)
		case "table":
			var t string
			if t, err = optString(field, v); err == nil && table != "" && t != "" && t != table {
				err = fmt.Errorf("%s: %q differs from the key %q it is under", field, t, table)
			}
			if table == "" {
				be.Table = t
			}
		case "base_url":
			be.BaseURL, err = optString(field, v)
		case "auth_token":
			be.AuthToken, err = optString(field, v)
		case "timeout":
			be.Timeout, err = timeout(field, v)
		case "timeout_overridable":
			switch b := v.(type) {
			case nil:
			case bool:
				be.TimeoutOverridable = b
			default:
				err = fmt.Errorf("%s must be true or false, not %s", field, kind(v))
			}
		default:
			err = fmt.Errorf("%s: unknown field (want name, table, base_url, auth_token, timeout, timeout_overridable)", field)
		}
		if err != nil {
			return Backend{}, err
		}
	}
	switch {
	case be.Table == "":
		return Backend{}, fmt.Errorf("%s.table: missing: the table whose rows are jobs", at)
	case !tableName.MatchString(be.Table):
		return Backend{}, fmt.Errorf("%s.table: %q is not a table name: want 1 to 190 of A-Z a-z 0-9 _ . : -", at, be.Table)
	}
	if err := checkURL(at+".base_url", be.BaseURL); err != nil {
		return Backend{}, err
	}
	if be.Name == "" {
		be.Name = be.Table
	}
	return be, nil
}

func checkURL(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s: missing: the backend's URL, such as http://localhost:3000", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %q is not a URL: %v", field, raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q: want an absolute http or https URL", field, raw)
	}
	return nil
}

func optString(field string, v any) (string, error) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	}
	return "", fmt.Errorf("%s must be a string, not %s", field, kind(v))
}

// timeout reads a timeout in whole seconds, the original's unit; null
// keeps the default.
func timeout(field string, v any) (time.Duration, error) {
	var secs float64
	switch n := v.(type) {
	case nil:
		return DefaultTimeout, nil
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s: %v", field, err)
		}
		secs = f
	case int:
		secs = float64(n)
	case int64:
		secs = float64(n)
	case uint64:
		secs = float64(n)
	case float64:
		secs = n
	default:
		return 0, fmt.Errorf("%s must be a number of seconds, not %s", field, kind(v))
	}
	if secs != math.Trunc(secs) || secs < 1 || secs > MaxTimeout.Seconds() {
		return 0, fmt.Errorf("%s: %v: want a whole number of seconds from 1 to %d", field, secs, int(MaxTimeout.Seconds()))
	}
	return time.Duration(secs) * time.Second, nil
}

func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, int, int64, uint64, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Load reads SPKY_JOB_CONFIG's value and, when file is not empty, the YAML
// file (read by readFile), and merges them.
func Load(env, file string, readFile func(string) ([]byte, error)) (Config, error) {
	c, err := ParseEnv(env)
	if err != nil {
		return Config{}, err
	}
	if file == "" {
		return c, nil
	}
	data, err := readFile(file)
	if err != nil {
		return Config{}, fmt.Errorf("--ssp-job-config: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, errors.New("--ssp-job-config: " + file + " is empty")
	}
	fc, err := ParseYAML(file, data)
	if err != nil {
		return Config{}, err
	}
	return Merge(c, fc)
}
