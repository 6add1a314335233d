package portup

import (
	"testing"
	"time"
)

func TestParsePingRun(t *testing.T) {
	out := `PING 10.10.0.11 (10.10.0.11) 56(84) bytes of data.
[1700000000.100000] 64 bytes from 10.10.0.11: icmp_seq=1 ttl=64 time=0.5 ms
[1700000000.120000] 64 bytes from 10.10.0.11: icmp_seq=2 ttl=64 time=0.5 ms
[1700000000.620000] 64 bytes from 10.10.0.11: icmp_seq=4 ttl=64 time=0.5 ms

--- 10.10.0.11 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 60ms
`
	r, err := ParsePingRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 4 || r.Received != 3 || len(r.MissingSeqs) != 1 || r.MissingSeqs[0] != 3 {
		t.Errorf("%+v", r)
	}
	if r.MaxGap != 500*time.Millisecond {
		t.Errorf("gap %s, want 500ms", r.MaxGap)
	}
	if _, err := ParsePingRun("no summary"); err == nil {
		t.Error("output without a summary accepted")
	}
}

func TestControlShare(t *testing.T) {
	pt := PortTiming{Created: 10 * time.Millisecond, Plugged: 40 * time.Millisecond, FirstReply: 100 * time.Millisecond}
	if pt.Plug() != 30*time.Millisecond || pt.ControlShare() != 70*time.Millisecond {
		t.Errorf("plug %s, share %s", pt.Plug(), pt.ControlShare())
	}
}

func TestMeasuredAddr(t *testing.T) {
	if a := MeasuredAddr(250); a != "10.10.1.4" {
		t.Errorf("MeasuredAddr(250) = %s", a)
	}
	if m := MeasuredMAC(258); m != "fa:16:3e:ff:01:02" {
		t.Errorf("MeasuredMAC(258) = %s", m)
	}
}

func TestOutage(t *testing.T) {
	r := PingRun{Sent: 10, MissingSeqs: []int{2, 3, 6, 7, 8}}
	if d, end := r.Outage(20 * time.Millisecond); d != 60*time.Millisecond || end {
		t.Errorf("outage %s, at end %v", d, end)
	}
	r = PingRun{Sent: 10, MissingSeqs: []int{2, 8, 9, 10}}
	if d, end := r.Outage(20 * time.Millisecond); d != 60*time.Millisecond || !end {
		t.Errorf("outage %s, at end %v", d, end)
	}
	if d, end := (PingRun{Sent: 10}).Outage(time.Second); d != 0 || end {
		t.Errorf("no loss: %s %v", d, end)
	}
}
