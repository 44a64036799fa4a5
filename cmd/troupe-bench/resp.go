package main

import (
	"encoding/csv"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// benchRESP runs redis-benchmark against Troupe's Redis-protocol door and
// against redis-server, command by command in alternation (the order
// swapped from one command to the next, so neither always runs first on
// a busy machine), at -P 1 and -P 16, in two modes: memory only (Redis
// without persistence, Troupe with --data-dir=) and durable (Redis
// appendonly with appendfsync everysec, Troupe --fsync batch). It prints
// requests/s of each and Troupe's ratio, and the CPU time each server
// spent per request (Redis's over Troupe's: above 1, Troupe spent less).
func benchRESP(troupeBin string, requests, clients int, tests string) error {
	for _, bin := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install redis-server redis-tools)", bin)
		}
	}
	fmt.Printf("redis-benchmark -n %d -c %d, each command against Troupe's RESP door and redis-server in turn\n\n", requests, clients)
	fmt.Printf("%-8s %-4s %-7s %12s %12s %7s %12s %12s %9s\n", "mode", "-P", "command", "troupe rps", "redis rps", "ratio",
		"troupe cpu", "redis cpu", "cpu ratio")
	for _, durable := range []bool{false, true} {
		if err := benchRESPMode(troupeBin, durable, requests, clients, strings.Split(tests, ",")); err != nil {
			return err
		}
	}
	return nil
}

func benchRESPMode(troupeBin string, durable bool, requests, clients int, tests []string) error {
	dir, err := os.MkdirTemp("", "troupe-bench-resp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mode := "memory"
	redisAddr, troupeAddr := freeAddr(), freeAddr()
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	redisArgs := []string{"--bind", "127.0.0.1", "--port", redisPort, "--dir", dir, "--save", "", "--protected-mode", "no"}
	troupeArgs := []string{"--resp-addr=" + troupeAddr, "--data-addr=off", "--ssp-addr=off", "--hub-addr=off",
		"--skip-control-addr=off", "--skip-streaming-addr=off", "--log-level=warn"}
	if durable {
		mode = "durable"
		redisArgs = append(redisArgs, "--appendonly", "yes", "--appendfsync", "everysec")
		troupeArgs = append(troupeArgs, "--data-dir="+filepath.Join(dir, "troupe"), "--fsync=batch")
	} else {
		redisArgs = append(redisArgs, "--appendonly", "no")
		troupeArgs = append(troupeArgs, "--data-dir=")
	}
	stopRedis, err := startPeer("redis-server", redisAddr, redisArgs...)
	if err != nil {
		return err
	}
	defer stopRedis()
	redisPid := int(lastServer.Load())
	stopTroupe, err := startProcess(troupeBin, troupeArgs...)
	if err != nil {
		return err
	}
	defer stopTroupe()
	troupePid := int(lastServer.Load())
	if err := waitListening(troupeAddr); err != nil {
		return err
	}
	for _, pipeline := range []int{1, 16} {
		for i, test := range tests {
			// The CPU time each server spent per request counts too: on a
			// machine busy with other work, requests/s say as much about
			// the neighbours as about the server.
			run := func(addr string, pid int) (rps, cpuPerReq float64, err error) {
				before := cpuTime(pid)
				rps, err = redisBenchmark(addr, test, requests, clients, pipeline)
				return rps, float64(cpuTime(pid)-before) / float64(requests) / 1e3, err
			}
			var t, r, tc, rc float64
			if i%2 == 0 {
				if t, tc, err = run(troupeAddr, troupePid); err == nil {
					r, rc, err = run(redisAddr, redisPid)
				}
			} else {
				if r, rc, err = run(redisAddr, redisPid); err == nil {
					t, tc, err = run(troupeAddr, troupePid)
				}
			}
			if err != nil {
				return err
			}
			fmt.Printf("%-8s %-4d %-7s %12.0f %12.0f %7.2f %9.1f µs %9.1f µs %9.2f\n", mode, pipeline, test, t, r, t/r, tc, rc, rc/tc)
		}
	}
	return nil
}

// redisBenchmark runs one redis-benchmark test and returns its requests/s.
func redisBenchmark(addr, test string, requests, clients, pipeline int) (float64, error) {
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-t", test, "-n", strconv.Itoa(requests),
		"-c", strconv.Itoa(clients), "-P", strconv.Itoa(pipeline), "--csv").Output()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark -t %s against %s: %w", test, addr, err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark's output: %w: %q", err, out)
	}
	for _, row := range rows {
		if len(row) >= 2 && strings.EqualFold(row[0], test) {
			return strconv.ParseFloat(row[1], 64)
		}
	}
	return 0, fmt.Errorf("redis-benchmark printed no %s row: %q", test, out)
}

func waitListening(addr string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("nothing listens on %s", addr)
}
