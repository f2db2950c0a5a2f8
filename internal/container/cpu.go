package container

import "runtime"

func numCPU() int { return runtime.NumCPU() }
