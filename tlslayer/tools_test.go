package tlslayer

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of an interoperability peer, skipping the test
// when it is missing, or failing it when CI=true (CI installs every peer).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found and CI=true: install it (%v)", name, err)
	}
	t.Skipf("%s not installed; skipping interoperability test", name)
	return ""
}
