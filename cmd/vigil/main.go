// Command vigil is the video ingestion and recognition service. This package
// is the one composition root: it parses flags and config, builds every
// component, wires them together, runs them and stops them in reverse order.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `vigil — camera ingest, recording and recognition

usage:
  vigil serve [--config FILE] [--data DIR] [--http ADDR] [--rtsp ADDR] [--nats ADDR] [--nats-url URL] [--demo]
  vigil streams [--server URL]      list streams of a running server
  vigil version

Run 'vigil serve --help' for the flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "streams":
		err = listStreams(os.Args[2:], os.Stdout)
	case "version", "--version", "-v":
		fmt.Println("vigil", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vigil: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigil:", err)
		os.Exit(1)
	}
}
