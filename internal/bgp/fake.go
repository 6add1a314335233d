package bgp

import (
	"context"
	"net/netip"
	"sync"
)

// Fake is a hand-written stand-in for Speaker in unit tests of its users:
// it keeps the announced routes and counts the calls. Err, when set, is
// returned by the next call that changes routes (and then cleared).
type Fake struct {
	mu        sync.Mutex
	announced map[netip.Prefix]netip.Addr
	// Sets counts Set calls.
	Sets int
	Err  error
}

// Announce records an announcement.
func (f *Fake) Announce(_ context.Context, prefix netip.Prefix, nexthop netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return err
	}
	if err := (Route{Prefix: prefix, NextHop: nexthop}).check(); err != nil {
		return err
	}
	f.init()
	f.announced[prefix] = nexthop
	return nil
}

// Withdraw forgets an announcement.
func (f *Fake) Withdraw(_ context.Context, prefix netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return err
	}
	delete(f.announced, prefix)
	return nil
}

// Set replaces the announcements.
func (f *Fake) Set(_ context.Context, routes []Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Sets++
	if err := f.takeErr(); err != nil {
		return err
	}
	for _, r := range routes {
		if err := r.check(); err != nil {
			return err
		}
	}
	f.announced = map[netip.Prefix]netip.Addr{}
	for _, r := range routes {
		f.announced[r.Prefix] = r.NextHop
	}
	return nil
}

// Routes returns the announcements, sorted by prefix.
func (f *Fake) Routes() []Route {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedRoutes(f.announced)
}

// Peers reports no peer.
func (f *Fake) Peers(context.Context) ([]PeerState, error) { return nil, nil }

func (f *Fake) init() {
	if f.announced == nil {
		f.announced = map[netip.Prefix]netip.Addr{}
	}
}

func (f *Fake) takeErr() error {
	err := f.Err
	f.Err = nil
	return err
}
