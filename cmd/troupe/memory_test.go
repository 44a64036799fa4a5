package main

import "testing"

// TestMachineMemory: the default soft limit is derived from what this
// reads, so on Linux it must find the machine's (or cgroup's) memory.
func TestMachineMemory(t *testing.T) {
	n := machineMemory()
	if n < 64<<20 {
		t.Fatalf("machineMemory() = %d bytes: /proc/meminfo or the cgroup's memory.max was not read", n)
	}
}
