package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client calls the Neutron API of a `wyvern server --noauth` as a
// project (X-Project-Id), as an operator's tooling would.
type Client struct {
	Base string
	http *http.Client
}

// NewClient returns a client of the API at base (http://host:port).
func NewClient(base string) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	return &Client{Base: base, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// APIError is a non-2xx answer.
type APIError struct {
	Status int
	Body   string
}

func (e *APIError) Error() string { return fmt.Sprintf("API %d: %s", e.Status, e.Body) }

// Do calls method path as project with body (JSON) and decodes the answer
// into out when it is not nil.
func (c *Client) Do(ctx context.Context, method, path, project string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if project != "" {
		req.Header.Set("X-Project-Id", project)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, &APIError{Status: resp.StatusCode, Body: string(raw)})
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// WaitReady polls the API until it answers or ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		err := c.Do(ctx, "GET", "/v2.0/networks?limit=1", "", nil, nil)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: API at %s not ready: %w", c.Base, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
