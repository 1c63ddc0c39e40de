package rie

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// listeningPorts returns the TCP ports (IPv4) process pid listens on: the listening sockets of
// this network namespace, asked of the kernel through sock_diag netlink, whose inodes are among
// the process's open files. (Reading /proc/net/tcp instead walks every connection of the
// machine's table and costs milliseconds a read.)
func listeningPorts(pid int) ([]int, error) {
	listeners, err := tcpListeners()
	if err != nil {
		return nil, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	var ports []int
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		inode, ok := strings.CutPrefix(link, "socket:[")
		if err != nil || !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(inode, "]"), 10, 32)
		if port, found := listeners[uint32(n)]; err == nil && found {
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// The kernel's sock_diag interface (linux/sock_diag.h, linux/inet_diag.h).
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpListen        = 10 // TCP_LISTEN
)

// inetDiagSockID is struct inet_diag_sockid; ports and addresses are in network byte order.
type inetDiagSockID struct {
	Sport, Dport [2]byte
	Src, Dst     [16]byte
	If           uint32
	Cookie       [2]uint32
}

// inetDiagReqV2 is struct inet_diag_req_v2.
type inetDiagReqV2 struct {
	Family, Protocol, Ext, Pad uint8
	States                     uint32
	ID                         inetDiagSockID
}

// inetDiagMsg is struct inet_diag_msg.
type inetDiagMsg struct {
	Family, State, Timer, Retrans uint8
	ID                            inetDiagSockID
	Expires, Rqueue, Wqueue, UID  uint32
	Inode                         uint32
}

// tcpListeners returns the local port of every listening IPv4 TCP socket of this network
// namespace, by inode.
func tcpListeners() (map[uint32]int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer syscall.Close(fd)
	var req bytes.Buffer
	hdr := syscall.NlMsghdr{
		Len:   uint32(syscall.NLMSG_HDRLEN + binary.Size(inetDiagReqV2{})),
		Type:  sockDiagByFamily,
		Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_DUMP,
		Seq:   1,
	}
	_ = binary.Write(&req, binary.NativeEndian, hdr)
	_ = binary.Write(&req, binary.NativeEndian, inetDiagReqV2{Family: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, States: 1 << tcpListen})
	if err := syscall.Sendto(fd, req.Bytes(), 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}
	listeners := map[uint32]int{}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag answer: %w", err)
		}
		done, err := parseDiag(buf[:n], listeners)
		if err != nil || done {
			return listeners, err
		}
	}
}

// parseDiag adds the listeners of one sock_diag answer to listeners and reports whether it was
// the last part of the dump.
func parseDiag(data []byte, listeners map[uint32]int) (done bool, err error) {
	msgs, err := syscall.ParseNetlinkMessage(data)
	if err != nil {
		return false, fmt.Errorf("sock_diag answer: %w", err)
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case syscall.NLMSG_DONE:
			return true, nil
		case syscall.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno > 0 {
					return false, fmt.Errorf("sock_diag: %w", syscall.Errno(errno))
				}
			}
			return false, errors.New("sock_diag answered an error")
		case sockDiagByFamily:
			var d inetDiagMsg
			if err := binary.Read(bytes.NewReader(m.Data), binary.NativeEndian, &d); err != nil {
				return false, fmt.Errorf("sock_diag message: %w", err)
			}
			if d.State == tcpListen {
				listeners[d.Inode] = int(binary.BigEndian.Uint16(d.ID.Sport[:]))
			}
		}
	}
	return false, nil
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
