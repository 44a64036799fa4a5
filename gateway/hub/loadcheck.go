package hub

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// loadCheckJSON is GET /load-check, with the original's field names.
type loadCheckJSON struct {
	AvgLoad     float64  `json:"avgLoad"`     // the one-minute load average
	CurrentLoad float64  `json:"currentLoad"` // CPU busy, in percent, since the last check
	MemFree     uint64   `json:"memFree"`     // bytes available to programs
	MemUsed     uint64   `json:"memUsed"`
	FsSize      []fsJSON `json:"fsSize"`
}

type fsJSON struct {
	Fs        string  `json:"fs"`
	Type      string  `json:"type"`
	Size      uint64  `json:"size"`
	Used      uint64  `json:"used"`
	Available uint64  `json:"available"`
	Use       float64 `json:"use"`
	Mount     string  `json:"mount"`
}

// loadMeter reads the machine's figures from /proc and statfs. The CPU
// load is measured between two checks (the first: since boot).
type loadMeter struct {
	mu                sync.Mutex
	prevBusy, prevAll uint64
}

func newLoadMeter() *loadMeter { return &loadMeter{} }

func (m *loadMeter) check(dataDir string) (*loadCheckJSON, error) {
	out := &loadCheckJSON{}
	var errs []error
	var err error
	if out.AvgLoad, err = loadAverage(); err != nil {
		errs = append(errs, err)
	}
	if out.CurrentLoad, err = m.cpuLoad(); err != nil {
		errs = append(errs, err)
	}
	if out.MemFree, out.MemUsed, err = memory(); err != nil {
		errs = append(errs, err)
	}
	fs, err := filesystem(dataDir)
	if err != nil {
		errs = append(errs, err)
	} else {
		out.FsSize = []fsJSON{fs}
	}
	return out, errors.Join(errs...)
}

func loadAverage() (float64, error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, errors.New("/proc/loadavg is empty")
	}
	return strconv.ParseFloat(fields[0], 64)
}

// cpuLoad is the share of CPU time not idle since the last call.
func (m *loadMeter) cpuLoad() (float64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var all, idle uint64
	for i, s := range fields[1:] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %v", err)
		}
		all += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	busy := all - idle
	m.mu.Lock()
	defer m.mu.Unlock()
	dAll, dBusy := all-m.prevAll, busy-m.prevBusy
	m.prevAll, m.prevBusy = all, busy
	if dAll == 0 {
		return 0, nil
	}
	return round2(100 * float64(dBusy) / float64(dAll)), nil
}

// memory returns the bytes available to programs and the bytes in use.
func memory() (free, used uint64, err error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var total, available uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseUint(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = n * 1024
		case "MemAvailable:":
			available = n * 1024
		}
	}
	if total == 0 {
		return 0, 0, errors.New("/proc/meminfo has no MemTotal")
	}
	return available, total - available, sc.Err()
}

// filesystem describes the filesystem holding dir (the working folder when
// dir is empty or does not exist yet).
func filesystem(dir string) (fsJSON, error) {
	path, err := filepath.Abs(dir)
	if err != nil {
		return fsJSON{}, err
	}
	for {
		if _, err := os.Stat(path); err == nil || path == filepath.Dir(path) {
			break
		}
		path = filepath.Dir(path)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsJSON{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	size, avail, used := st.Blocks*bs, st.Bavail*bs, (st.Blocks-st.Bfree)*bs
	out := fsJSON{Size: size, Used: used, Available: avail, Mount: path}
	if used+avail > 0 {
		out.Use = round2(100 * float64(used) / float64(used+avail))
	}
	out.Fs, out.Type, out.Mount = mountOf(path)
	return out, nil
}

// mountOf finds the mount holding path in /proc/self/mounts: the longest
// mount point that is a prefix of it.
func mountOf(path string) (fs, typ, mount string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "", "", path
	}
	mount = "/"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(mount) {
			fs, typ, mount = f[0], f[2], mp
		}
	}
	return fs, typ, mount
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
