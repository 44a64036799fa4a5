package lifecycle

import (
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// procSampler measures the process for heartbeats, as the scheduler shows
// them: cpu_usage is the CPU time the process used since the previous
// sample, in percent of one core (above 100 on several cores, as sysinfo
// reports a process); memory_usage its resident memory in MiB.
type procSampler struct {
	mu       sync.Mutex
	lastCPU  time.Duration
	lastWall time.Time
}

func newProcSampler() *procSampler {
	return &procSampler{lastCPU: cpuTime(), lastWall: time.Now()}
}

func (p *procSampler) sample() (cpuPercent, memMiB float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now, cpu := time.Now(), cpuTime()
	if wall := now.Sub(p.lastWall); wall > 0 {
		cpuPercent = 100 * float64(cpu-p.lastCPU) / float64(wall)
	}
	p.lastCPU, p.lastWall = cpu, now
	return max(cpuPercent, 0), float64(residentBytes()) / (1 << 20)
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentBytes is the process's resident set (Linux: /proc/self/statm);
// elsewhere the memory the Go runtime holds from the system.
func residentBytes() uint64 {
	if raw, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := bytes.Fields(raw); len(f) > 1 {
			if pages, err := strconv.ParseUint(string(f[1]), 10, 64); err == nil {
				return pages * uint64(os.Getpagesize())
			}
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}
