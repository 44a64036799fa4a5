package jobconfig

import (
	"net/url"
	"testing"
)

// FuzzParse feeds both config parsers arbitrary text: they never panic, and
// what they accept is a usable config.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`[{"name":"api","table":"job","base_url":"http://localhost:3000","auth_token":"tok","timeout":30,"timeout_overridable":true}]`,
		`{"job_tables":{"backend_api":{"name":"Backend API","base_url":"https://api.example.com","auth_token":"t"}}}`,
		"job_tables:\n  job:\n    base_url: http://h\n    timeout: 3\n",
		"apps:\n  api:\n    type: backend\n    baseUrl: http://h\n    method: {type: outbox, table: job}\n",
		`[{"table":"job","base_url":"http://h","timeout":1e400}]`, `{"job_tables":null}`, "", "[]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(c Config, err error) {
			if err != nil {
				return
			}
			for table, be := range c.Tables {
				u, perr := url.Parse(be.BaseURL)
				if table != be.Table || !tableName.MatchString(table) || be.Name == "" || perr != nil ||
					(u.Scheme != "http" && u.Scheme != "https") || be.Timeout < 1 || be.Timeout > MaxTimeout {
					t.Fatalf("accepted a bad backend %+v from %q", be, in)
				}
			}
		}
		check(ParseEnv(in))
		check(ParseYAML("f.yml", []byte(in)))
	})
}
