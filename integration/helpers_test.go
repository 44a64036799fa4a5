package integration

import (
	"bytes"
	"io"
	"strings"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// containsMetric reports whether a Prometheus text exposition has a sample
// of the series with a value above zero.
func containsMetric(text, series string) bool {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest != "0"
		}
	}
	return false
}
