package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wyvern-sdn/wyvern/internal/lab"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// screenshotEnv, when set, names a file where TestConsoleInChromium saves a
// screenshot of the console's overview (docs/console.png is made so).
const screenshotEnv = "WYVERN_CONSOLE_SCREENSHOT"

// browser starts headless Chromium (Debian's chromium) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is needed (scripts/deps.sh installs chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1100), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The first Run starts the browser, which lives as long as ctx: no
	// timeout on it; the test's own deadline bounds the waits.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return tctx
}

// TestConsoleInChromium: in a real browser, a user logs in to the console
// with Keystone, sees the networks and the live topology, runs a trace from
// a port, and sees the port go DOWN when its VM is unplugged.
func TestConsoleInChromium(t *testing.T) {
	l := newLab(t, lab.Options{ServerArgs: []string{"--admin-password", "console-secret"}})
	chs := chassis(t, l, 2)
	n, _, err := l.CreateNetwork(lab.NetworkSpec{Project: "blue", Name: "console-net", CIDR: "10.0.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	vm1, p1 := boot(t, l, chs[0], "cvm1", "blue", n, map[string]any{"name": "cvm1", "device_owner": "compute:nova"})
	_, p2 := boot(t, l, chs[1], "cvm2", "blue", n, map[string]any{"name": "cvm2", "device_owner": "compute:nova"})

	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	html := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.OuterHTML(css(sel)))
		if err != nil {
			t.Fatalf("HTML of %s: %v", sel, err)
		}
		return v
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(l.APIURL+"/console/"), chromedp.WaitVisible(css("#login"))); err != nil {
		t.Fatalf("console: %v", err)
	}
	if path, err := chromedp.Run(ctx, chromedp.Evaluate[string]("window.location.pathname")); err != nil || path != "/console/login" {
		t.Errorf("not sent to the login form first: %q %v", path, err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css("#username"), "admin"),
		chromedp.SendKeys(css("#password"), "console-secret"),
		chromedp.SetValue(css("#project"), "admin"),
		chromedp.Click(css("#login-button")),
		chromedp.WaitVisible(css(`tr[data-network="console-net"]`)),
		chromedp.WaitVisible(css("#topology svg")),
		chromedp.WaitVisible(css(`tr[data-chassis="ch2"]`)),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	if networks := text("#networks"); !strings.Contains(networks, "console-net") || !strings.Contains(networks, "10.0.0.0/24") {
		t.Errorf("networks table: %q", networks)
	}
	if svg := html("#topology svg"); !strings.Contains(svg, "cvm1") || !strings.Contains(svg, "port "+p1.ID+" ACTIVE") {
		t.Errorf("topology picture lacks the ACTIVE port cvm1: %.300s", svg)
	}
	if ch := text("#chassis"); strings.Count(ch, "alive") < 2 {
		t.Errorf("chassis table: %q", ch)
	}
	if path := os.Getenv(screenshotEnv); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A trace from cvm1 to cvm2, through the port page's form.
	dst := lab.FixedIP(p2)
	err = chromedp.Do(ctx,
		chromedp.Navigate(l.APIURL+"/console/ports/"+p1.ID),
		chromedp.WaitVisible(css("#trace-form")),
		chromedp.SetValue(css("#packet"), "icmp, dst "+dst),
		chromedp.Click(css("#trace-button")),
		chromedp.WaitVisible(css("#trace-result")),
	)
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	if traced := text("#trace-result"); !strings.Contains(traced, "Verdict: delivered") || !strings.Contains(traced, "ch2") {
		t.Errorf("trace to %s:\n%s", dst, traced)
	}

	// Unplug the VM: the port page's live status turns DOWN.
	if st := strings.TrimSpace(text("#port-status")); st != model.StatusActive {
		t.Fatalf("status before unplug: %q", st)
	}
	if err := vm1.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#port-status.down"))); err != nil {
		t.Fatalf("port never shown DOWN: %v", err)
	}
	// And the topology picture shows it DOWN too.
	if err := chromedp.Do(ctx, chromedp.Navigate(l.APIURL+"/console/"), chromedp.WaitVisible(css("#topology svg"))); err != nil {
		t.Fatal(err)
	}
	if svg := html("#topology svg"); !strings.Contains(svg, "port "+p1.ID+" DOWN") {
		t.Errorf("topology does not show %s DOWN", p1.ID)
	}
}
