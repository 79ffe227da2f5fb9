//go:build unix

package fragments

import "syscall"

// statfs returns the bytes available to unprivileged users and the size of
// the filesystem holding dir.
func statfs(dir string) (avail, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
