//go:build tools

// The analyser the differential test runs against `netpol-sync reach`
// (tests/it/reach_npguard.rs); the import keeps it in go.mod and go.sum.
package npguard

import (
	_ "github.com/np-guard/netpol-analyzer/cmd/netpolicy"
)
