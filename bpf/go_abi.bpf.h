/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's amd64 register ABI (ABIInternal, Go >= 1.17; src/cmd/compile/abi-internal.md):
 * integer arguments in RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11, and the
 * current goroutine's g in R14 at all times in Go code.
 */
#ifndef SONDE_GO_ABI_BPF_H
#define SONDE_GO_ABI_BPF_H

#define GO_ARG1(ctx) ((ctx)->ax)
#define GO_ARG2(ctx) ((ctx)->bx)
#define GO_ARG3(ctx) ((ctx)->cx)
#define GO_ARG4(ctx) ((ctx)->di)
#define GO_G(ctx)    ((ctx)->r14)

/* A Go string header: {ptr, len}. */
struct go_string {
	__u64 ptr;
	__s64 len;
};

static __always_inline __u64 go_read_ptr(__u64 addr)
{
	__u64 v = 0;
	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/*
 * Copy the Go string (ptr, len) into dst (capacity `cap`, a power of two) and
 * return the number of bytes copied; *truncated is set when it was longer.
 */
static __always_inline __u32 go_copy_string(char *dst, __u32 cap, __u64 ptr, __s64 len, int *truncated)
{
	if (len <= 0 || ptr == 0)
		return 0;
	__u64 n = (__u64)len;
	if (n > cap) {
		n = cap;
		*truncated = 1;
	}
	/* Keep the bound visible to the verifier: 1 <= n <= cap. */
	n &= (2 * cap - 1);
	if (n == 0 || n > cap)
		return 0;
	if (bpf_probe_read_user(dst, n, (void *)ptr) != 0)
		return 0;
	return (__u32)n;
}

/* Copy the Go string whose header is at `addr`; see go_copy_string. */
static __always_inline __u32 go_read_string(char *dst, __u32 cap, __u64 addr, int *truncated)
{
	struct go_string s = {};
	if (bpf_probe_read_user(&s, sizeof(s), (void *)addr) != 0)
		return 0;
	return go_copy_string(dst, cap, s.ptr, s.len, truncated);
}

#endif
