package detect

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// httpFetch is the default WorkerConfig.Fetch: a GET of an http or https
// URL with client, where 404 and 410 are ErrFragmentGone (retention
// deleted the fragment after its notice was published).
func httpFetch(client *http.Client) func(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	return func(ctx context.Context, rawURL string) (io.ReadCloser, error) {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("fragment URL %q is not an absolute http(s) URL", rawURL)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return resp.Body, nil
		case http.StatusNotFound, http.StatusGone:
			resp.Body.Close()
			return nil, fmt.Errorf("%w: GET %s: %s", ErrFragmentGone, u.Redacted(), resp.Status)
		default:
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
		}
	}
}
