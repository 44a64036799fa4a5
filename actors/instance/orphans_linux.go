package instance

import (
	"bytes"
	"os"
	"strconv"

	"github.com/troupe-run/troupe/actors/instance/process"
)

// groupMembers lists, for each of the process groups, its members that
// are alive (zombies are dead: they only wait to be reaped by whoever
// adopted them).
func groupMembers(groups map[int]bool) (map[int][]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	members := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pgrp, ok := statOf(pid); ok && groups[pgrp] && state != 'Z' && state != 'X' {
			members[pgrp] = append(members[pgrp], pid)
		}
	}
	return members, nil
}

// processAlive reports whether pid names a process that has not died.
func processAlive(pid int) bool {
	state, _, ok := statOf(pid)
	return ok && state != 'Z' && state != 'X'
}

// ownedBy reports whether pid is a process of the instance id: its
// environment carries the marker the hub set, or (for a program that
// cleared its environment) its arguments hold the id, as the runner's do.
// An instance id is a UUID, so no other program names it by chance.
func ownedBy(pid int, id string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	want := []byte(process.MarkerEnv + "=" + id)
	if env, err := os.ReadFile(dir + "environ"); err == nil {
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				return true
			}
		}
	}
	if args, err := os.ReadFile(dir + "cmdline"); err == nil {
		for _, arg := range bytes.Split(args, []byte{0}) {
			if string(arg) == id {
				return true
			}
		}
	}
	return false
}

// statOf reads the state and the process group of pid from /proc.
func statOf(pid int) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may hold anything: fields follow
	// the last parenthesis.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 3 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(string(fields[2]))
	return fields[0][0], pgrp, err == nil
}
