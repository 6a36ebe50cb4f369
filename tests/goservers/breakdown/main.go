// breakdown is a net/http test server whose handlers each spend their time
// on one known cause, so Sonde's per-request breakdown can be checked:
// sleeping, waiting for a mutex, waiting on a slow TCP peer, fsync, burning
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

func main() {
	addr := flag.String("addr", "127.0.0.1:18100", "listen address")
	dataDir := flag.String("data", ".", "directory for the fsync handler's file (use a real disk, not tmpfs)")
	flag.Parse()

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
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(intArg(r, "ms", 10)) * time.Millisecond)
	})
	mux.HandleFunc("/mutex", func(w http.ResponseWriter, r *http.Request) {
		ms := intArg(r, "ms", 10)
		held := make(chan struct{})
		go func() {
			mu.Lock()
			close(held)
			time.Sleep(time.Duration(ms) * time.Millisecond)
			mu.Unlock()
		}()
		<-held
		mu.Lock()
		mu.Unlock()
	})
	mux.HandleFunc("/peer", func(w http.ResponseWriter, r *http.Request) {
		c, err := net.Dial("tcp", peer.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "%d", intArg(r, "ms", 10))
		buf := make([]byte, 2)
		c.Read(buf)
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
		// Locked to its thread, the thread's CPU clock is the goroutine's.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start, cpu0 := clock(clockMonotonic), clock(clockThreadCPU)
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
		cpu, end := clock(clockThreadCPU)-cpu0, clock(clockMonotonic)
		fmt.Fprintf(w, `{"start_ns":%d,"end_ns":%d,"cpu_ns":%d,"io_wall_ns":%d,"io_cpu_ns":%d}`, start, end, cpu, ioWall, ioCPU)
	})
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		// Answers its own truth as /fsync does (no I/O calls: those fields are 0).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start, cpu0 := clock(clockMonotonic), clock(clockThreadCPU)
		until := time.Now().Add(time.Duration(intArg(r, "ms", 10)) * time.Millisecond)
		x := 0
		for time.Now().Before(until) {
			for i := 0; i < 1000; i++ {
				x += i * i
			}
		}
		cpu, end := clock(clockThreadCPU)-cpu0, clock(clockMonotonic)
		fmt.Fprintf(w, `{"start_ns":%d,"end_ns":%d,"cpu_ns":%d,"io_wall_ns":0,"io_cpu_ns":0,"x":%d}`, start, end, cpu, x)
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
