package rie

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// listeningPorts returns the TCP ports process pid listens on: the sockets among its open files
// that its network namespace's table (/proc/<pid>/net/tcp, IPv4) lists in state LISTEN.
func listeningPorts(pid int) ([]int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := make(map[string]bool, len(fds))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return nil, err
	}
	return parseListening(table, inodes), nil
}

// parseListening reads a /proc/net/tcp table and returns the local ports of the sockets in state
// LISTEN (0A) whose inode is in inodes. Lines it cannot read are skipped.
func parseListening(table []byte, inodes map[string]bool) []int {
	var ports []int
	for i, line := range bytes.Split(table, []byte("\n")) {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		f := strings.Fields(string(line))
		if i == 0 || len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || port == 0 {
			continue
		}
		ports = append(ports, int(port))
	}
	return ports
}

// BootstrapPID returns the process id of the bootstrap, the emulator's child running
// Options.Bootstrap. The emulator starts it on the first invocation; before that, and after Stop,
// BootstrapPID fails.
func (f *Function) BootstrapPID() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rie := f.cmd.Process.Pid
	// The emulator starts a new bootstrap after a timeout: a remembered pid must still be its.
	if f.bootstrapPID != 0 && f.isBootstrap(f.bootstrapPID, rie) {
		return f.bootstrapPID, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f.isBootstrap(pid, rie) {
			f.bootstrapPID = pid
			return pid, nil
		}
	}
	return 0, fmt.Errorf("rie: no process of %s under the emulator (pid %d)", f.bootstrap, rie)
}

// isBootstrap reports whether pid is a child of the emulator rie running the bootstrap.
func (f *Function) isBootstrap(pid, rie int) bool {
	if ppid, ok := parentPID(pid); !ok || ppid != rie {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && exe == f.bootstrap
}

// parentPID reads the parent of pid from /proc/<pid>/stat.
func parentPID(pid int) (int, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
