// etcd, built from go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes requires, so
// the apiserver talks to the etcd its release is tested with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
