//go:build !linux

package tsdb

import (
	"errors"
	"os"
)

// chunkFilesSupported: chunk files are built for Linux only; elsewhere a
// ChunksDir is refused (Open logs it and keeps chunks on the heap).
const chunkFilesSupported = false

var errNoChunkFiles = errors.New("chunk files need Linux")

func createSegment(string, int) (*os.File, []byte, error) { return nil, nil, errNoChunkFiles }

func unmapSegment([]byte) {}

func lockDir(string) (*os.File, error) { return nil, errNoChunkFiles }
