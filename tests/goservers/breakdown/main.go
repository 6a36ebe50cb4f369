// breakdown is a net/http test server whose handlers each spend their time
// on one known cause, so Sonde's per-request breakdown can be checked:
// sleeping, waiting for a mutex or a channel, waiting on a slow TCP peer, fsync, burning
// CPU, garbage collection, and an exact number of getppid syscalls.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// clock reads a POSIX clock with a raw syscall, so the reading costs no
// scheduler transition: CLOCK_MONOTONIC (1) is the clock of Sonde's
// start_ns, CLOCK_THREAD_CPUTIME_ID (3) the calling thread's exact CPU time
// (user and kernel).
func clock(id uintptr) int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

const (
	clockMonotonic = 1
	clockThreadCPU = 3
)

func intArg(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
		return v
	}
	return def
}

var sink [][]byte

// goid is the calling goroutine's id, as its stack trace's header names it
// ("goroutine 18 [running]:"), the id Sonde's records carry.
func goid() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := strings.Fields(string(buf[:n]))
	if len(f) < 2 {
		return 0
	}
	id, _ := strconv.ParseInt(f[1], 10, 64)
	return id
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18100", "listen address")
	dataDir := flag.String("data", ".", "directory for the fsync handler's file (use a real disk, not tmpfs)")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: the runtime's default)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}

	// A TCP peer in this process that answers each line after the delay it names.
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := peer.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				ms, _ := strconv.Atoi(string(buf[:n]))
				time.Sleep(time.Duration(ms) * time.Millisecond)
				c.Write([]byte("ok"))
			}(c)
		}
	}()

	var mu sync.Mutex
	mux := http.NewServeMux()
	// The waiting handlers answer their own truth: the wall time of the wait
	// alone (from just before it starts to just after it ends), inside their
	// [start_ns, end_ns]: wait_ns, at least all of it; min_wait_ns, at most. A
	// wait ends when the goroutine runs again, so it includes the time it was
	// runnable after its wake-up.
	waited := func(w http.ResponseWriter, start, w0, w1 int64) {
		fmt.Fprintf(w, `{"start_ns":%d,"end_ns":%d,"wait_ns":%d,"min_wait_ns":%d,"goid":%d}`, start, clock(clockMonotonic), w1-w0, w1-w0, goid())
	}
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		d := time.Duration(intArg(r, "ms", 10)) * time.Millisecond
		start := clock(clockMonotonic)
		w0 := clock(clockMonotonic)
		time.Sleep(d)
		waited(w, start, w0, clock(clockMonotonic))
	})
	mux.HandleFunc("/mutex", func(w http.ResponseWriter, r *http.Request) {
		ms := intArg(r, "ms", 10)
		start := clock(clockMonotonic)
		held := make(chan struct{})
		go func() {
			mu.Lock()
			close(held)
			time.Sleep(time.Duration(ms) * time.Millisecond)
			mu.Unlock()
		}()
		<-held
		w0 := clock(clockMonotonic)
		mu.Lock()
		w1 := clock(clockMonotonic)
		mu.Unlock()
		waited(w, start, w0, w1)
	})
	mux.HandleFunc("/chan", func(w http.ResponseWriter, r *http.Request) {
		d := time.Duration(intArg(r, "ms", 10)) * time.Millisecond
		start := clock(clockMonotonic)
		ch := make(chan int)
		go func() {
			time.Sleep(d)
			ch <- 1
		}()
		w0 := clock(clockMonotonic)
		<-ch
		waited(w, start, w0, clock(clockMonotonic))
	})
	mux.HandleFunc("/peer", func(w http.ResponseWriter, r *http.Request) {
		// Two truths: the wall time from the dial to the answer (which holds every
		// network wait, the connect's included), and the wait for the answer alone
		// (the dial and the write before it cost CPU).
		start := clock(clockMonotonic)
		c, err := net.Dial("tcp", peer.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "%d", intArg(r, "ms", 10))
		buf := make([]byte, 2)
		r0 := clock(clockMonotonic)
		c.Read(buf)
		r1 := clock(clockMonotonic)
		fmt.Fprintf(w, `{"start_ns":%d,"end_ns":%d,"wait_ns":%d,"min_wait_ns":%d,"goid":%d}`, start, clock(clockMonotonic), r1-start, r1-r0, goid())
	})
	mux.HandleFunc("/fsync", func(w http.ResponseWriter, r *http.Request) {
		// direct=1: O_DIRECT writes from a page-aligned buffer, so the time is
		// the device's, not the CPU's copying into the page cache.
		flags := os.O_RDWR | os.O_CREATE | os.O_EXCL
		if intArg(r, "direct", 0) == 1 {
			flags |= syscall.O_DIRECT
		}
		name := filepath.Join(*dataDir, fmt.Sprintf("sonde-fsync-%d-%d", os.Getpid(), time.Now().UnixNano()))
		f, err := os.OpenFile(name, flags, 0o600)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer os.Remove(name)
		defer f.Close()
		block, err := syscall.Mmap(-1, 0, intArg(r, "kb", 4)<<10, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer syscall.Munmap(block)
		// The handler's own truth, answered as JSON: its wall and thread CPU
		// time, and the same two summed over the write and fsync calls alone.
		// Locked to its thread, the thread's CPU clock is the goroutine's. The
		// CPU clock is read between two reads of the wall clock at each end, as
		// the goroutine can be preempted between any two: the CPU time within
		// [start_ns, end_ns] is cpu_ns plus at most unsure_ns, the wall time
		// between those paired reads.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start, cpu0, started := clock(clockMonotonic), clock(clockThreadCPU), clock(clockMonotonic)
		var ioWall, ioCPU int64
		for i := 0; i < intArg(r, "n", 16); i++ {
			w0, c0 := clock(clockMonotonic), clock(clockThreadCPU)
			_, err := f.Write(block)
			if err == nil {
				err = f.Sync()
			}
			ioCPU += clock(clockThreadCPU) - c0
			ioWall += clock(clockMonotonic) - w0
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		ending, cpu, end := clock(clockMonotonic), clock(clockThreadCPU)-cpu0, clock(clockMonotonic)
		fmt.Fprintf(w, `{"start_ns":%d,"end_ns":%d,"cpu_ns":%d,"unsure_ns":%d,"io_wall_ns":%d,"io_cpu_ns":%d,"tid":%d,"goid":%d}`,
			start, end, cpu, (started-start)+(end-ending), ioWall, ioCPU, syscall.Gettid(), goid())
	})
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		// Answers its own truth as /fsync does (no I/O calls: those fields are 0).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start, cpu0, started := clock(clockMonotonic), clock(clockThreadCPU), clock(clockMonotonic)
		until := time.Now().Add(time.Duration(intArg(r, "ms", 10)) * time.Millisecond)
		x := 0
		for time.Now().Before(until) {
			for i := 0; i < 1000; i++ {
				x += i * i
			}
		}
		ending, cpu, end := clock(clockMonotonic), clock(clockThreadCPU)-cpu0, clock(clockMonotonic)
		fmt.Fprintf(w, `{"start_ns":%d,"end_ns":%d,"cpu_ns":%d,"unsure_ns":%d,"io_wall_ns":0,"io_cpu_ns":0,"tid":%d,"goid":%d,"x":%d}`,
			start, end, cpu, (started-start)+(end-ending), syscall.Gettid(), goid(), x)
	})
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < intArg(r, "mb", 64); i++ {
			sink = append(sink, make([]byte, 1<<20))
		}
		sink = nil
		runtime.GC()
	})
	mux.HandleFunc("/getppid", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < intArg(r, "n", 10); i++ {
			syscall.Getppid()
		}
	})

	srv := &http.Server{Addr: *addr, Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
