package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

func TestBrowserUploadResumesAfterNetworkDrop(t *testing.T) {
	s := startServer(t, serverOptions{throttle: 2 << 20})
	tab := newBrowser(t, 1280, 800, 90*time.Second)
	shots := captureOnFailure(t)
	dir := t.TempDir()

	signIn(t, tab, s.URL, "alice", alicePassword)
	content := textOfSize(6*chunkSize + 321)
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{writeFile(t, dir, "travel.txt", content)}))
	waitForReceived(t, s, int64(len(content)/3), 30*time.Second)

	setOffline(t, tab, true)
	items := waitForItems(t, tab, 30*time.Second, "the upload paused while offline", func(items map[string]uploadItem) bool {
		return items["travel.txt"].State == "offline"
	})
	shots.take(tab, "upload-in-progress")
	if item := items["travel.txt"]; item.Label != "Paused" {
		t.Errorf("label while offline = %q, want Paused", item.Label)
	}
	interrupted := len(s.patches.snapshot())

	setOffline(t, tab, false)
	items = waitForItems(t, tab, 45*time.Second, "travel.txt stored after the network came back", allSettled("travel.txt"))
	shots.take(tab, "files-page")
	if item := items["travel.txt"]; item.State != "stored" {
		t.Fatalf("state %q, want stored: %s", item.State, item.Message)
	}

	patches := s.patches.snapshot()
	if len(patches) <= interrupted || patches[interrupted].offset == 0 {
		t.Errorf("no chunk resumed past byte 0 after the network came back: %+v", patches)
	}
	if total := s.patches.received(); total != int64(len(content)) {
		t.Errorf("the server read %d bytes in all, want each of the %d bytes once", total, len(content))
	}
}

// setOffline makes the tab's network look disconnected, or connected again:
// requests fail as they do without a network, and navigator.onLine and the
// online and offline events follow.
func setOffline(t *testing.T, tab context.Context, offline bool) {
	t.Helper()
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable the network domain: %v", err)
	}
	rule := &network.Conditions{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}
	rules := network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{rule}}
	if _, err := chromedp.Call(tab, network.EmulateNetworkConditionsByRule, rules); err != nil {
		t.Fatalf("emulate offline=%t: %v", offline, err)
	}
	state := network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}
	if _, err := chromedp.Call(tab, network.OverrideNetworkState, state); err != nil {
		t.Fatalf("set navigator.onLine to %t: %v", !offline, err)
	}
}
