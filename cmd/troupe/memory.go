package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/troupe-run/troupe/system"
)

// tuneGC sets the collector's pace. Go's default (a collection each time
// the heap doubles) suits programs with large live heaps; Troupe's live
// heap is small next to what its request paths allocate and drop (a Skip
// mapper's JavaScript objects, JSON), so at the default it collects many
// times a second under load and the requests that run during a collection
// pay for its marking in assists: the reactive door's p99 was four to ten
// times its p50, the GC cycles of the run. A larger growth percentage
// collects less often; the soft memory limit keeps the total bounded,
// making the collector work harder only as the heap nears it. GOGC and
// GOMEMLIMIT, the runtime's own settings, win when the environment gives
// them.
func tuneGC(cfg system.Config, log *slog.Logger) {
	percent := os.Getenv("GOGC")
	if percent == "" {
		debug.SetGCPercent(cfg.GCPercent)
		percent = strconv.Itoa(cfg.GCPercent)
	}
	limit := os.Getenv("GOMEMLIMIT")
	if limit == "" {
		n := cfg.MemoryLimit
		if n == 0 {
			n = machineMemory() / 4 * 3
		}
		limit = "none"
		if n > 0 {
			debug.SetMemoryLimit(n)
			limit = strconv.FormatInt(n>>20, 10) + "MiB"
		}
	}
	log.Info("garbage collector", "gc_percent", percent, "memory_limit", limit)
}

// machineMemory is the memory this process may use: its cgroup's limit
// when it has one, else the machine's, else 0 (unknown).
func machineMemory() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       24684544 kB
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
