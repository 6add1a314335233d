package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// client talks to the Neutron API as the admin of --noauth.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	return &client{base: base, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// do sends one request; out, when not nil, receives the JSON body of a
// response with status want.
func (c *client) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

type obj = map[string]any

// setup sets the port quota of project "admin" (a finite quota makes every
// create count the project's ports, as in production; -1 skips the count)
// and makes a network with a subnet; it returns the network id.
func setup(ctx context.Context, c *client, cidr string, quota int) (string, error) {
	if err := c.do(ctx, "PUT", "/v2.0/quotas/admin", obj{"quota": obj{"port": quota}}, http.StatusOK, nil); err != nil {
		return "", err
	}
	var net struct {
		Network struct{ ID string } `json:"network"`
	}
	if err := c.do(ctx, "POST", "/v2.0/networks", obj{"network": obj{"name": "bench"}}, http.StatusCreated, &net); err != nil {
		return "", err
	}
	sub := obj{"subnet": obj{"network_id": net.Network.ID, "cidr": cidr, "ip_version": 4, "name": "bench"}}
	if err := c.do(ctx, "POST", "/v2.0/subnets", sub, http.StatusCreated, nil); err != nil {
		return "", err
	}
	return net.Network.ID, nil
}

// createResult is one load phase of port creates.
type createResult struct {
	Elapsed time.Duration
	Lat     Summary
	Errors  map[string]int  // by status and error type
	all     []time.Duration // every successful create's latency, sorted
}

// joinCreates combines two load phases as if they were one.
func joinCreates(a, b createResult) createResult {
	out := createResult{Elapsed: a.Elapsed + b.Elapsed, Errors: map[string]int{}}
	for _, m := range []map[string]int{a.Errors, b.Errors} {
		for k, v := range m {
			out.Errors[k] += v
		}
	}
	out.all = append(append([]time.Duration{}, a.all...), b.all...)
	out.Lat = summarize(out.all)
	return out
}

func (r createResult) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Lat.N) / r.Elapsed.Seconds()
}

func (r createResult) errCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// createPorts creates n ports (or, with n <= 0, as many as fit in d) on
// network netID from `clients` concurrent workers sharing c's keep-alive
// pool, and records each successful create's latency.
func createPorts(ctx context.Context, c *client, netID string, clients, n int, d time.Duration) createResult {
	body, _ := json.Marshal(obj{"port": obj{"network_id": netID}})
	capHint := n
	if capHint <= 0 {
		capHint = 1 << 16
	}
	lats := make([][]time.Duration, clients)
	errs := make([]map[string]int, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range clients {
		lats[w] = make([]time.Duration, 0, capHint/clients+1)
		errs[w] = map[string]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if n > 0 {
					if next.Add(1) > int64(n) {
						return
					}
				} else if time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				status, typ, err := postPort(ctx, c, body)
				el := time.Since(t0)
				switch {
				case err != nil:
					errs[w]["transport: "+err.Error()]++
				case status != http.StatusCreated:
					errs[w][fmt.Sprintf("%d %s", status, typ)]++
				default:
					lats[w] = append(lats[w], el)
				}
			}
		}()
	}
	wg.Wait()
	res := createResult{Elapsed: time.Since(start), Errors: map[string]int{}}
	var all []time.Duration
	for w := range clients {
		all = append(all, lats[w]...)
		for k, v := range errs[w] {
			res.Errors[k] += v
		}
	}
	res.Lat = summarize(all)
	res.all = all
	return res
}

// postPort sends one port create and reads the whole response.
func postPort(ctx context.Context, c *client, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/v2.0/ports", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode == http.StatusCreated {
		return resp.StatusCode, "", nil
	}
	var e struct {
		NeutronError struct{ Type string } `json:"NeutronError"`
	}
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, e.NeutronError.Type, nil
}

// listResult is the list latency at a given number of ports.
type listResult struct {
	Ports      int     // ports seen per full listing
	Page       Summary // one page of `limit` ports, over every page of every listing
	Full       Summary // one full paginated listing (all pages, followed by links)
	Unpaged    Summary // one unpaginated GET /v2.0/ports
	PageBytes  int     // size of one full page's body
	TotalBytes int     // size of the unpaginated body
}

type page struct {
	Ports []struct {
		ID string `json:"id"`
	} `json:"ports"`
	Links []struct{ Rel, Href string } `json:"ports_links"`
}

// getTimed GETs url and returns the body and the time to its last byte.
func getTimed(ctx context.Context, c *client, url string) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	raw, err := io.ReadAll(resp.Body)
	el := time.Since(t0)
	resp.Body.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: read: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, raw)
	}
	return raw, el, nil
}

// listPorts times `reps` full listings in pages of `limit`, following the
// next links to the end, and `reps` unpaginated listings. Every listing
// must return each of the `want` ports exactly once.
func listPorts(ctx context.Context, c *client, limit, reps, want int) (listResult, error) {
	var res listResult
	var pages, fulls, unpaged []time.Duration
	for range reps {
		seen := make(map[string]bool, want)
		url := fmt.Sprintf("%s/v2.0/ports?limit=%d", c.base, limit)
		var total time.Duration
		for url != "" {
			raw, el, err := getTimed(ctx, c, url)
			if err != nil {
				return res, err
			}
			pages = append(pages, el)
			total += el
			var p page
			if err := json.Unmarshal(raw, &p); err != nil {
				return res, fmt.Errorf("decode page: %w", err)
			}
			if len(p.Ports) == limit && res.PageBytes == 0 {
				res.PageBytes = len(raw)
			}
			for _, port := range p.Ports {
				if seen[port.ID] {
					return res, fmt.Errorf("port %s listed twice", port.ID)
				}
				seen[port.ID] = true
			}
			url = ""
			for _, l := range p.Links {
				if l.Rel == "next" {
					url = l.Href
				}
			}
			if len(pages) > 10*(want/limit+2)*reps {
				return res, fmt.Errorf("pagination does not end")
			}
		}
		if len(seen) != want {
			return res, fmt.Errorf("paginated listing saw %d ports, want %d", len(seen), want)
		}
		fulls = append(fulls, total)
	}
	for range reps {
		raw, el, err := getTimed(ctx, c, c.base+"/v2.0/ports")
		if err != nil {
			return res, err
		}
		var p page
		if err := json.Unmarshal(raw, &p); err != nil {
			return res, fmt.Errorf("decode list: %w", err)
		}
		if len(p.Ports) != want {
			return res, fmt.Errorf("unpaginated listing has %d ports, want %d", len(p.Ports), want)
		}
		res.TotalBytes = len(raw)
		unpaged = append(unpaged, el)
	}
	res.Ports = want
	res.Page, res.Full, res.Unpaged = summarize(pages), summarize(fulls), summarize(unpaged)
	return res, nil
}

// countPorts returns how many ports the server lists.
func countPorts(ctx context.Context, c *client) (int, error) {
	var p page
	if err := c.do(ctx, "GET", "/v2.0/ports?fields=id", nil, http.StatusOK, &p); err != nil {
		return 0, err
	}
	return len(p.Ports), nil
}
