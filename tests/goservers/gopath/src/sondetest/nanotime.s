// An assembly file, even empty, lets this package declare nanotime without a
// body (go:linkname to runtime.nanotime).
