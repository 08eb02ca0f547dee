//go:build openblas && cgo

package nn

/*
#cgo LDFLAGS: -lopenblas -lm -lpthread
void openblas_set_num_threads(int);
*/
import "C"

import "gonum.org/v1/netlib/blas/netlib"

func init() {
	// Training already runs a batch's two shards on two goroutines; OpenBLAS threads on top
	// would only contend with them for the same cores.
	C.openblas_set_num_threads(1)
	impl, implName = netlib.Implementation{}, "openblas"
}
