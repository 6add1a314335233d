package faults

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// ONF bundle extension (OpenFlow 1.3) message types.
const (
	ofptExperimenter    = 4
	onfVendor           = 0x4f4e4600
	onftBundleControl   = 2300
	onftBundleAdd       = 2301
	bundleCommitRequest = 4
)

// ofHold stands between an agent and its bridge's OpenFlow socket: it
// gives the agent a run directory where every file of the chassis' run
// directory is a symbolic link except <bridge>.mgmt, which is this proxy.
// It forwards the agent's messages until holdAfter messages of a bundle
// have reached vswitchd, then holds everything the agent sends (the
// bundle stays open, uncommitted) and closes held; when the agent's side
// closes it closes vswitchd's.
type ofHold struct {
	dir       string
	ln        net.Listener
	holdAfter int
	held      chan struct{}
	mu        sync.Mutex
	adds      int  // bundle messages forwarded
	committed bool // a commit forwarded
	once      sync.Once
}

func newOFHold(t *testing.T, runDir, bridge string, holdAfter int) *ofHold {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(runDir)
	if err != nil {
		t.Fatal(err)
	}
	mgmt := bridge + ".mgmt"
	for _, e := range ents {
		if e.Name() == mgmt {
			continue
		}
		if err := os.Symlink(filepath.Join(runDir, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("unix", filepath.Join(dir, mgmt))
	if err != nil {
		t.Fatal(err)
	}
	h := &ofHold{dir: dir, ln: ln, holdAfter: holdAfter, held: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.handle(c, filepath.Join(runDir, mgmt))
		}
	}()
	return h
}

func (h *ofHold) handle(agent net.Conn, target string) {
	sw, err := net.Dial("unix", target)
	if err != nil {
		agent.Close()
		return
	}
	go func() { _, _ = io.Copy(agent, sw); agent.Close() }()
	defer sw.Close()
	defer agent.Close()
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(agent, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[2:4]))
		if n < 8 {
			return
		}
		msg := make([]byte, n)
		copy(msg, hdr)
		if _, err := io.ReadFull(agent, msg[8:]); err != nil {
			return
		}
		h.mu.Lock()
		holding := h.holdAfter > 0 && h.adds >= h.holdAfter
		if !holding && msg[1] == ofptExperimenter && n >= 16 && binary.BigEndian.Uint32(msg[8:12]) == onfVendor {
			switch binary.BigEndian.Uint32(msg[12:16]) {
			case onftBundleAdd:
				h.adds++
			case onftBundleControl:
				if n >= 22 && binary.BigEndian.Uint16(msg[20:22]) == bundleCommitRequest {
					h.committed = true
				}
			}
		}
		h.mu.Unlock()
		if holding {
			h.once.Do(func() { close(h.held) })
			continue // held: never reaches vswitchd
		}
		if _, err := sw.Write(msg); err != nil {
			return
		}
	}
}

func (h *ofHold) counts() (adds int, committed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.adds, h.committed
}
