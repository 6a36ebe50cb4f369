// realistic is the benchmark's realistic handler: what a small service does
// per request, rather than hello-world's nothing. GET /orders/{id} spends
// about -cpu of CPU (a SHA-256 loop, sized once at start from the thread's CPU
// clock, so its work is the same however loaded the machine is), reads the
// order from a real Redis over a pooled connection (RESP written by hand: a
// few lines, no client library between the handler and the socket), and answers it as JSON with
// encoding/json.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"sondetest"
)

var (
	redisAddr = flag.String("redis", "127.0.0.1:6379", "Redis server")
	cpuWork   = flag.Duration("cpu", 200*time.Microsecond, "CPU time each request spends hashing")
	orders    = flag.Int("orders", 100, "orders stored in Redis at start (keys order:0 ... order:N-1)")
)

// A Redis connection: one command at a time.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *conn) do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$-1"):
		return "", fmt.Errorf("redis: no such key")
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

var pool = sync.Pool{}

func get() (*conn, error) {
	if c, ok := pool.Get().(*conn); ok {
		return c, nil
	}
	c, err := net.Dial("tcp", *redisAddr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReader(c)}, nil
}

type item struct {
	SKU      string  `json:"sku"`
	Quantity int     `json:"quantity"`
	Price    float64 `json:"price"`
}

type order struct {
	ID       int     `json:"id"`
	Customer string  `json:"customer"`
	Items    []item  `json:"items"`
	Total    float64 `json:"total"`
	Digest   string  `json:"digest"`
}

// threadCPU is this thread's CPU clock (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// rounds of SHA-256 over 1 KiB that take about d of CPU, measured once.
func calibrate(d time.Duration) int {
	var data [1024]byte
	n := 0
	start := threadCPU()
	for threadCPU()-start < 20*time.Millisecond {
		for i := 0; i < 100; i++ {
			data = sha256Block(data)
		}
		n += 100
	}
	return int(float64(n) * float64(d) / float64(threadCPU()-start))
}

func sha256Block(b [1024]byte) [1024]byte {
	s := sha256.Sum256(b[:])
	copy(b[:], s[:])
	return b
}

func main() {
	var once sync.Once
	var rounds int
	var setup error
	ready := func() error {
		once.Do(func() {
			rounds = calibrate(*cpuWork)
			c, err := get()
			if err != nil {
				setup = err
				return
			}
			for i := 0; i < *orders; i++ {
				o := order{ID: i, Customer: fmt.Sprintf("customer-%d", i%17)}
				for j := 0; j < 5; j++ {
					o.Items = append(o.Items, item{SKU: fmt.Sprintf("sku-%d-%d", i, j), Quantity: j + 1, Price: float64(j) + 9.99})
				}
				v, _ := json.Marshal(o)
				if _, err := c.do("SET", fmt.Sprintf("order:%d", i), string(v)); err != nil {
					setup = err
					return
				}
			}
			pool.Put(c)
		})
		return setup
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/orders/", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/orders/"))
		if err != nil || id < 0 {
			http.Error(w, "bad order id", http.StatusBadRequest)
			return
		}
		var data [1024]byte
		data[0] = byte(id)
		for i := 0; i < rounds; i++ {
			data = sha256Block(data)
		}
		c, err := get()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		v, err := c.do("GET", fmt.Sprintf("order:%d", id%*orders))
		if err != nil {
			c.c.Close()
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		pool.Put(c)
		var o order
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, it := range o.Items {
			o.Total += float64(it.Quantity) * it.Price
		}
		o.Digest = fmt.Sprintf("%x", data[:8])
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(o); err != nil {
			log.Print(err)
		}
	})
	sondetest.Main("127.0.0.1:18200", mux)
}
