//go:build !unix

package fragments

import "errors"

func statfs(string) (avail, total uint64, err error) { return 0, 0, errors.ErrUnsupported }
