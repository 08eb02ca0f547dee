//go:build openblas && !cgo

package nn

// The openblas tag links OpenBLAS through cgo. Without cgo the tag would silently build the
// pure-Go BLAS, so stop the build instead: set CGO_ENABLED=1 and install libopenblas-dev.
var _ = openblas_tag_needs_CGO_ENABLED_1_and_libopenblas_dev
