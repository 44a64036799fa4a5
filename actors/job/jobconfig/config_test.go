package jobconfig

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEnvForms(t *testing.T) {
	tests := []struct {
		name, env string
		want      map[string]Backend
	}{
		{"empty", "", map[string]Backend{}},
		{"blank", "  \n", map[string]Backend{}},
		{"empty array", "[]", map[string]Backend{}},
		{"the original's array", `[{"name":"api","table":"job","base_url":"http://localhost:3000","auth_token":"tok","timeout":30,"timeout_overridable":true},
			{"name":"mail","table":"outbox","base_url":"https://mail.example.com/v1","auth_token":null,"timeout":null,"timeout_overridable":false}]`,
			map[string]Backend{
				"job":    {Name: "api", Table: "job", BaseURL: "http://localhost:3000", AuthToken: "tok", Timeout: 30 * time.Second, TimeoutOverridable: true},
				"outbox": {Name: "mail", Table: "outbox", BaseURL: "https://mail.example.com/v1", Timeout: DefaultTimeout},
			}},
		{"the spec's object", `{"job_tables":{"backend_api":{"name":"Backend API","base_url":"https://api.example.com","auth_token":"your-api-token"}}}`,
			map[string]Backend{"backend_api": {Name: "Backend API", Table: "backend_api", BaseURL: "https://api.example.com",
				AuthToken: "your-api-token", Timeout: DefaultTimeout}}},
		{"object entry naming its own table", `{"job_tables":{"job":{"table":"job","base_url":"http://h:1","timeout":5}}}`,
			map[string]Backend{"job": {Name: "job", Table: "job", BaseURL: "http://h:1", Timeout: 5 * time.Second}}},
		{"name defaults to the table", `[{"table":"job","base_url":"http://h"}]`,
			map[string]Backend{"job": {Name: "job", Table: "job", BaseURL: "http://h", Timeout: DefaultTimeout}}},
		{"other keys of the object are ignored", `{"apps":{},"job_tables":{}}`, map[string]Backend{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseEnv(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Tables, tc.want) {
				t.Errorf("got %+v\nwant %+v", c.Tables, tc.want)
			}
		})
	}
}

func TestParseEnvErrors(t *testing.T) {
	tests := []struct{ name, env, want string }{
		{"not JSON", `[{`, "SPKY_JOB_CONFIG is not valid JSON"},
		{"trailing text", `[] x`, "SPKY_JOB_CONFIG: unexpected text after"},
		{"a string", `"job"`, "SPKY_JOB_CONFIG must be a JSON array of backends or an object with job_tables, not a string"},
		{"object without job_tables", `{"tables":{}}`, "SPKY_JOB_CONFIG: an object needs the key job_tables"},
		{"job_tables an array", `{"job_tables":[]}`, "SPKY_JOB_CONFIG.job_tables must be an object of tables, not an array"},
		{"entry not an object", `[1]`, "SPKY_JOB_CONFIG[0] must be an object, not a number"},
		{"table entry not an object", `{"job_tables":{"job":"http://h"}}`, "SPKY_JOB_CONFIG.job_tables.job must be an object, not a string"},
		{"missing table", `[{"name":"api","base_url":"http://h"}]`, "SPKY_JOB_CONFIG[0].table: missing"},
		{"bad table name", `[{"table":"my job","base_url":"http://h"}]`, `SPKY_JOB_CONFIG[0].table: "my job" is not a table name`},
		{"bad table key", `{"job_tables":{"a/b":{"base_url":"http://h"}}}`, `SPKY_JOB_CONFIG.job_tables.a/b.table: "a/b" is not a table name`},
		{"table differs from key", `{"job_tables":{"job":{"table":"task","base_url":"http://h"}}}`, `SPKY_JOB_CONFIG.job_tables.job.table: "task" differs from the key "job"`},
		{"duplicate table", `[{"table":"job","base_url":"http://h"},{"table":"job","base_url":"http://i"}]`, `SPKY_JOB_CONFIG[1].table: "job" is already the table of SPKY_JOB_CONFIG[0]`},
		{"table not a string", `[{"table":7,"base_url":"http://h"}]`, "SPKY_JOB_CONFIG[0].table must be a string, not a number"},
		{"missing base_url", `[{"table":"job"}]`, "SPKY_JOB_CONFIG[0].base_url: missing"},
		{"null base_url", `{"job_tables":{"job":{"base_url":null}}}`, "SPKY_JOB_CONFIG.job_tables.job.base_url: missing"},
		{"relative base_url", `[{"table":"job","base_url":"localhost:3000"}]`, `SPKY_JOB_CONFIG[0].base_url: "localhost:3000": want an absolute http or https URL`},
		{"ftp base_url", `[{"table":"job","base_url":"ftp://h"}]`, "SPKY_JOB_CONFIG[0].base_url: \"ftp://h\": want an absolute http or https URL"},
		{"unparsable base_url", `[{"table":"job","base_url":"http://h:x:y"}]`, "SPKY_JOB_CONFIG[0].base_url: \"http://h:x:y\" is not a URL"},
		{"base_url not a string", `[{"table":"job","base_url":["http://h"]}]`, "SPKY_JOB_CONFIG[0].base_url must be a string, not an array"},
		{"name not a string", `[{"name":true,"table":"job","base_url":"http://h"}]`, "SPKY_JOB_CONFIG[0].name must be a string, not a boolean"},
		{"auth_token not a string", `[{"table":"job","base_url":"http://h","auth_token":{}}]`, "SPKY_JOB_CONFIG[0].auth_token must be a string, not an object"},
		{"timeout a string", `[{"table":"job","base_url":"http://h","timeout":"10s"}]`, "SPKY_JOB_CONFIG[0].timeout must be a number of seconds, not a string"},
		{"timeout zero", `[{"table":"job","base_url":"http://h","timeout":0}]`, "SPKY_JOB_CONFIG[0].timeout: 0: want a whole number of seconds from 1 to 3600"},
		{"timeout negative", `[{"table":"job","base_url":"http://h","timeout":-3}]`, "SPKY_JOB_CONFIG[0].timeout: -3: want a whole number"},
		{"timeout fractional", `[{"table":"job","base_url":"http://h","timeout":1.5}]`, "SPKY_JOB_CONFIG[0].timeout: 1.5: want a whole number"},
		{"timeout too long", `[{"table":"job","base_url":"http://h","timeout":3601}]`, "SPKY_JOB_CONFIG[0].timeout: 3601: want a whole number"},
		{"timeout_overridable not a boolean", `[{"table":"job","base_url":"http://h","timeout_overridable":"yes"}]`, "SPKY_JOB_CONFIG[0].timeout_overridable must be true or false, not a string"},
		{"unknown field", `[{"table":"job","base_url":"http://h","baseUrl":"http://h"}]`, "SPKY_JOB_CONFIG[0].baseUrl: unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnv(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseYAML(t *testing.T) {
	doc := `
apps:
  api:
    type: backend
job_tables:
  backend_api:
    name: "Backend API"
    base_url: "https://api.example.com"
    auth_token: "your-api-token"
  outbox:
    base_url: http://localhost:4000
    timeout: 3
    timeout_overridable: true
`
	c, err := ParseYAML("sp00ky.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Backend{
		"backend_api": {Name: "Backend API", Table: "backend_api", BaseURL: "https://api.example.com", AuthToken: "your-api-token", Timeout: DefaultTimeout},
		"outbox":      {Name: "outbox", Table: "outbox", BaseURL: "http://localhost:4000", Timeout: 3 * time.Second, TimeoutOverridable: true},
	}
	if !reflect.DeepEqual(c.Tables, want) {
		t.Errorf("got %+v\nwant %+v", c.Tables, want)
	}
	if got := c.Sorted(); len(got) != 2 || got[0].Table != "backend_api" || got[1].Table != "outbox" {
		t.Errorf("Sorted: %+v", got)
	}

	list, err := ParseYAML("f.yml", []byte("job_tables:\n  - {table: job, base_url: 'http://h:1'}\n"))
	if err != nil || list.Tables["job"].BaseURL != "http://h:1" {
		t.Errorf("the list form under job_tables: %+v, %v", list, err)
	}
}

func TestParseYAMLApps(t *testing.T) {
	doc := `
apps:
  web:
    type: frontend
  api:
    type: backend
    baseUrl: http://localhost:3000
    method:
      type: outbox
      table: job
    auth:
      type: token
      token: abc
    deploy:
      timeout: 30
      timeoutOverridable: true
  cron:
    type: backend
    baseUrl: http://localhost:3001
    method:
      type: http
job_tables:
  mail:
    base_url: http://localhost:4000
`
	c, err := ParseYAML("sp00ky.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Backend{
		"job":  {Name: "api", Table: "job", BaseURL: "http://localhost:3000", AuthToken: "abc", Timeout: 30 * time.Second, TimeoutOverridable: true},
		"mail": {Name: "mail", Table: "mail", BaseURL: "http://localhost:4000", Timeout: DefaultTimeout},
	}
	if !reflect.DeepEqual(c.Tables, want) {
		t.Errorf("got %+v\nwant %+v", c.Tables, want)
	}

	errs := map[string]string{
		"apps:\n  api:\n    type: backend\n    method: {type: outbox, table: job}\n":                                                                                                              "f.yml: apps.api.baseUrl: missing",
		"apps:\n  api:\n    type: backend\n    baseUrl: http://h\n    method: {type: outbox}\n":                                                                                                   "f.yml: apps.api.method.table: missing",
		"apps:\n  api:\n    type: backend\n    baseUrl: http://h\n    method: {type: outbox, table: job}\n    deploy: {timeout: 0}\n":                                                             "f.yml: apps.api.deploy.timeout: 0: want a whole number",
		"apps:\n  a:\n    type: backend\n    baseUrl: http://h\n    method: {type: outbox, table: job}\n  b:\n    type: backend\n    baseUrl: http://h\n    method: {type: outbox, table: job}\n": `f.yml: apps.b.method.table: "job" is already the table of app a`,
		"apps:\n  a:\n    type: backend\n    baseUrl: http://h\n    method: {type: outbox, table: job}\njob_tables:\n  job: {base_url: 'http://i'}\n":                                             `f.yml: apps.a: table "job" is also under job_tables`,
		"apps: [1]\n": "f.yml: apps must be an object of apps, not an array",
	}
	for doc, want := range errs {
		if _, err := ParseYAML("f.yml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", doc, err, want)
		}
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not YAML", "job_tables: [", "f.yml: not valid YAML"},
		{"no job_tables", "name: x\n", "f.yml: no job_tables key (nor apps)"},
		{"job_tables a string", "job_tables: x\n", "f.yml: job_tables must be an object of tables, not a string"},
		{"missing base_url", "job_tables:\n  job:\n    name: api\n", "f.yml: job_tables.job.base_url: missing"},
		{"timeout a duration", "job_tables:\n  job:\n    base_url: http://h\n    timeout: 10s\n", "f.yml: job_tables.job.timeout must be a number of seconds, not a string"},
		{"fractional timeout", "job_tables:\n  job:\n    base_url: http://h\n    timeout: 2.5\n", "f.yml: job_tables.job.timeout: 2.5: want a whole number"},
		{"unknown field", "job_tables:\n  job:\n    base_url: http://h\n    retries: 3\n", "f.yml: job_tables.job.retries: unknown field"},
		{"list entry without table", "job_tables:\n  - base_url: http://h\n", "f.yml: job_tables[0].table: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseYAML("f.yml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	files := map[string]string{
		"jobs.yml":  "job_tables:\n  outbox:\n    base_url: http://h:2\n",
		"dup.yml":   "job_tables:\n  job:\n    base_url: http://h:2\n",
		"empty.yml": "\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("open " + name + ": no such file or directory")
	}
	env := `[{"table":"job","base_url":"http://h:1"}]`

	c, err := Load(env, "jobs.yml", read)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tables) != 2 || c.Tables["job"].BaseURL != "http://h:1" || c.Tables["outbox"].BaseURL != "http://h:2" {
		t.Errorf("merged: %+v", c.Tables)
	}
	if c, err := Load(env, "", read); err != nil || len(c.Tables) != 1 {
		t.Errorf("env only: %+v, %v", c, err)
	}
	for file, want := range map[string]string{
		"dup.yml":     `job table "job" is configured both in SPKY_JOB_CONFIG and in the job config file`,
		"empty.yml":   "--ssp-job-config: empty.yml is empty",
		"missing.yml": "--ssp-job-config: open missing.yml: no such file",
	} {
		if _, err := Load(env, file, read); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", file, err, want)
		}
	}
	if _, err := Load(`{`, "jobs.yml", read); err == nil || !strings.Contains(err.Error(), "SPKY_JOB_CONFIG is not valid JSON") {
		t.Errorf("a bad variable: %v", err)
	}
}

func TestCallTimeout(t *testing.T) {
	fixed := Backend{Timeout: 7 * time.Second}
	over := Backend{Timeout: 7 * time.Second, TimeoutOverridable: true}
	tests := []struct {
		be   Backend
		row  float64
		want time.Duration
	}{
		{fixed, 0, 7 * time.Second},
		{fixed, 2, 7 * time.Second},
		{over, 0, 7 * time.Second},
		{over, 2, 2 * time.Second},
		{over, 0.5, 500 * time.Millisecond},
		{over, 1e9, MaxTimeout},
	}
	for _, tc := range tests {
		if got := tc.be.CallTimeout(tc.row); got != tc.want {
			t.Errorf("%+v row %v: %v, want %v", tc.be, tc.row, got, tc.want)
		}
	}
}
