// peers is the test server of per-peer network waits: its handlers wait on
// real peers, a PostgreSQL (lib/pq), a Redis (redigo), a TCP echo peer at
// many addresses, and the request's own client, and say in response
// headers how long each call took by their own clock, X-Wait-Name (wall
// time, ns), and how much of it the goroutine ran, X-Cpu-Name (its thread's
// CPU time, ns):
//
//	GET  /db?ms=N        SELECT pg_sleep(N/1000) on PostgreSQL          Name: Db
//	GET  /cache?ms=N     BLPOP on a key that never fills, N ms timeout  Name: Cache
//	GET  /both?db=N&cache=M   both, one after the other
//	GET  /fanout?n=K&first=F  one round trip each to K echo peers at
//	                     127.1.0.0 + F ... + F+K-1 (distinct addresses)   Name: Fanout
//	POST /upload         reads the whole body                          Name: Body
//
// and, for outgoing HTTP calls, with another peers server as the upstream
// (-upstream URL, http:// or https://, whose certificate is not checked):
//
//	GET  /delay?ms=N&status=S  answers S (default 200) after N ms
//	GET  /call?ms=N&n=K&close=C&status=S&h2=H&db=D  K calls, one after the
//	                     other, of the upstream's /delay?ms=N&status=S (C=1:
//	                     each on a connection of its own; H=1: over HTTP/2, an
//	                     https upstream), after a D ms query when D > 0;
//	                     answers the calls' timings by its own clock and
//	                     httptrace, one JSON object per line; with par=1
//	                     the K calls run at once, each on a goroutine the
//	                     handler starts and waits for, call i of
//	                     /delay?ms=N+3i (errgroup's fan-out)
//
// Every other call runs on the handler's goroutine, as these clients do their I/O.
package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gomodule/redigo/redis"
	_ "github.com/lib/pq"

	"sondetest"
)

var (
	pgDSN     = flag.String("pg", "", "PostgreSQL connection string (lib/pq); empty: no /db")
	redisAddr = flag.String("redis", "", "Redis address: host:port, or a Unix socket's path; empty: no /cache")
	echoPort  = flag.Int("echo-port", 0, "port of the echo peer this server runs on 0.0.0.0 (answers each byte after -echo-delay); 0: no /fanout")
	echoDelay = flag.Duration("echo-delay", 300*time.Microsecond, "the echo peer's delay")
	upstream  = flag.String("upstream", "", "base URL of the upstream /call calls (http:// or https://, certificate not checked); empty: no /call")
	dnsServer = flag.String("dns", "", "host:port of the DNS server Go's resolver asks (instead of /etc/resolv.conf's)")
)

// client calls the upstream: HTTP/1.1 (a TLS config of its own turns off
// net/http's HTTP/2), keeping idle connections; h2client over HTTP/2.
var (
	client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 4,
	}}
	h2client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
	}}
)

// callTiming is one outgoing call as its handler saw it, ns from the call's
// start by the monotonic clock: until the connection was had (GotConn), its
// DNS, connect and TLS handshake when it was new, the first response byte,
// and Do's return (the response's head read).
type callTiming struct {
	Status    int   `json:"status"`
	Proto     int   `json:"proto"`
	Reused    bool  `json:"reused"`
	StartNs   int64 `json:"start_ns"`
	ConnNs    int64 `json:"conn_ns"`
	DNSNs     int64 `json:"dns_ns"`
	ConnectNs int64 `json:"connect_ns"`
	TLSNs     int64 `json:"tls_ns"`
	// From ConnectDone to TLSHandshakeDone: the handshake and the wait for its goroutine
	// (net/http's addTLS runs it on one of its own, where TLSHandshakeStart fires) to start.
	TLSFromConnectNs int64 `json:"tls_from_connect_ns"`
	FirstNs          int64 `json:"first_byte_ns"`
	HeadNs           int64 `json:"head_ns"`
	BodyNs           int64 `json:"body_ns"`
}

// call GETs url once with c, timed by the handler's clock and httptrace.
func call(c *http.Client, url string, close bool) (callTiming, error) {
	var t callTiming
	var start, dnsAt, connectAt, connectedAt, tlsAt time.Time
	trace := &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			t.ConnNs, t.Reused = int64(time.Since(start)), i.Reused
		},
		DNSStart:     func(httptrace.DNSStartInfo) { dnsAt = time.Now() },
		DNSDone:      func(httptrace.DNSDoneInfo) { t.DNSNs = int64(time.Since(dnsAt)) },
		ConnectStart: func(string, string) { connectAt = time.Now() },
		ConnectDone: func(string, string, error) {
			connectedAt = time.Now()
			t.ConnectNs = int64(connectedAt.Sub(connectAt))
		},
		TLSHandshakeStart: func() { tlsAt = time.Now() },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			t.TLSNs = int64(time.Since(tlsAt))
			t.TLSFromConnectNs = int64(time.Since(connectedAt))
		},
		GotFirstResponseByte: func() { t.FirstNs = int64(time.Since(start)) },
	}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return t, err
	}
	req.Close = close
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	// The call's clock starts right before Do, after the request is built.
	start = time.Now()
	t.StartNs = clock(1)
	resp, err := c.Do(req)
	if err != nil {
		return t, err
	}
	t.HeadNs = int64(time.Since(start))
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.BodyNs = int64(time.Since(start))
	t.Status, t.Proto = resp.StatusCode, resp.ProtoMajor
	return t, err
}

func intArg(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
		return v
	}
	return def
}

// clock reads a POSIX clock with a raw syscall, so the reading costs no
// scheduler transition: CLOCK_MONOTONIC (1), or CLOCK_THREAD_CPUTIME_ID (3),
// the calling thread's CPU time (user and kernel).
func clock(id uintptr) int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// timed runs call and, unless it fails, sets headers X-Wait-name to its wall
// time and X-Cpu-name to the CPU time it ran. Locked to its thread, the
// thread's CPU clock is the goroutine's; the wall clock is read outside the
// CPU clock at both ends, so the CPU time lies within the wall time.
func timed(w http.ResponseWriter, name string, call func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w0, c0 := clock(1), clock(3)
	if err := call(); err != nil {
		return err
	}
	c1, w1 := clock(3), clock(1)
	w.Header().Set("X-Wait-"+name, strconv.FormatInt(w1-w0, 10))
	w.Header().Set("X-Cpu-"+name, strconv.FormatInt(c1-c0, 10))
	return nil
}

// query sleeps ms in PostgreSQL, timed as Db.
func query(w http.ResponseWriter, ms int) error {
	return timed(w, "Db", func() error {
		var one int
		return db.QueryRow("SELECT 1 FROM pg_sleep($1)", float64(ms)/1000).Scan(&one)
	})
}

// blpop waits ms on a Redis key that never fills (Redis 6+ takes a fractional
// timeout), timed as Cache.
func blpop(w http.ResponseWriter, ms int) error {
	c := pool.Get()
	defer c.Close()
	return timed(w, "Cache", func() error {
		_, err := c.Do("BLPOP", "sonde:never", strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64))
		if err == redis.ErrNil {
			return nil
		}
		return err
	})
}

var (
	db    *sql.DB
	pool  *redis.Pool
	setUp sync.Once
)

// start opens the clients and the echo peer, once the flags are parsed
// (sondetest.Main parses them): at the first request.
func start() {
	setUp.Do(func() {
		if *dnsServer != "" {
			net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, *dnsServer)
			}}
		}
		if *pgDSN != "" {
			var err error
			if db, err = sql.Open("postgres", *pgDSN); err != nil {
				log.Fatal(err)
			}
			db.SetMaxIdleConns(4)
		}
		if *redisAddr != "" {
			network := "tcp"
			if len(*redisAddr) > 0 && (*redisAddr)[0] == '/' {
				network = "unix"
			}
			pool = &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) { return redis.Dial(network, *redisAddr) }}
		}
		if *echoPort != 0 {
			l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", *echoPort))
			if err != nil {
				log.Fatal(err)
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func(c net.Conn) {
						defer c.Close()
						var b [1]byte
						for {
							if _, err := c.Read(b[:]); err != nil {
								return
							}
							time.Sleep(*echoDelay)
							if _, err := c.Write(b[:]); err != nil {
								return
							}
						}
					}(c)
				}
			}()
		}
	})
}

func main() {
	mux := http.NewServeMux()

	mux.HandleFunc("/db", func(w http.ResponseWriter, r *http.Request) {
		start()
		if err := query(w, intArg(r, "ms", 1)); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/cache", func(w http.ResponseWriter, r *http.Request) {
		start()
		if err := blpop(w, intArg(r, "ms", 1)); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/both", func(w http.ResponseWriter, r *http.Request) {
		start()
		err := query(w, intArg(r, "db", 1))
		if err == nil {
			err = blpop(w, intArg(r, "cache", 1))
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		start()
		n, first := intArg(r, "n", 1), intArg(r, "first", 0)
		err := timed(w, "Fanout", func() error {
			for i := 0; i < n; i++ {
				var ip [4]byte
				binary.BigEndian.PutUint32(ip[:], 127<<24|1<<16|uint32(first+i))
				c, err := net.Dial("tcp", fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], *echoPort))
				if err != nil {
					return err
				}
				var b [1]byte
				_, err = c.Write([]byte{'x'})
				if err == nil {
					_, err = io.ReadFull(c, b[:])
				}
				c.Close()
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		var n int64
		err := timed(w, "Body", func() (err error) {
			n, err = io.Copy(io.Discard, r.Body)
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})

	mux.HandleFunc("/delay", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(intArg(r, "ms", 1)) * time.Millisecond)
		w.WriteHeader(intArg(r, "status", 200))
		fmt.Fprintln(w, "delayed")
	})
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		if *upstream == "" {
			http.Error(w, "no -upstream", 500)
			return
		}
		start()
		if d := intArg(r, "db", 0); d > 0 {
			if err := query(w, d); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		if intArg(r, "par", 0) == 1 {
			n := intArg(r, "n", 1)
			timings, errs := make([]callTiming, n), make([]error, n)
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					url := fmt.Sprintf("%s/delay?ms=%d&status=%d", *upstream, intArg(r, "ms", 1)+3*i, intArg(r, "status", 200))
					timings[i], errs[i] = call(client, url, intArg(r, "close", 0) == 1)
				}(i)
			}
			wg.Wait()
			var out []byte
			for i := range timings {
				if errs[i] != nil {
					http.Error(w, errs[i].Error(), 502)
					return
				}
				line, _ := json.Marshal(timings[i])
				out = append(append(out, line...), '\n')
			}
			w.Write(out)
			return
		}
		url := fmt.Sprintf("%s/delay?ms=%d&status=%d", *upstream, intArg(r, "ms", 1), intArg(r, "status", 200))
		var out []byte
		for i := 0; i < intArg(r, "n", 1); i++ {
			c := client
			if intArg(r, "h2", 0) == 1 {
				c = h2client
			}
			t, err := call(c, url, intArg(r, "close", 0) == 1)
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			line, _ := json.Marshal(t)
			out = append(append(out, line...), '\n')
		}
		w.Write(out)
	})

	sondetest.Main("127.0.0.1:18090", mux)
}
