package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// listStreams prints the streams of a running server as a table.
func listStreams(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("streams", flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "base URL of the vigil server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(strings.TrimRight(*server, "/") + "/api/v1/streams")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	var body struct {
		Streams []struct {
			Name   string `json:"name"`
			Source string `json:"source"`
			Status struct {
				Online    bool    `json:"online"`
				Codec     string  `json:"codec"`
				Width     int     `json:"width"`
				Height    int     `json:"height"`
				FPS       float64 `json:"fps"`
				BytesUsed int64   `json:"bytes_used"`
				Error     string  `json:"error"`
			} `json:"status"`
		} `json:"streams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tONLINE\tCODEC\tSIZE\tFPS\tSTORED\tSOURCE\tERROR")
	for _, s := range body.Streams {
		st := s.Status
		fmt.Fprintf(tw, "%s\t%v\t%s\t%dx%d\t%.1f\t%.1f MiB\t%s\t%s\n", s.Name, st.Online, st.Codec, st.Width, st.Height, st.FPS,
			float64(st.BytesUsed)/(1<<20), s.Source, st.Error)
	}
	return tw.Flush()
}
