// peers is the test server of per-peer network waits: its handlers wait on
// real peers, a PostgreSQL (lib/pq), a Redis (redigo), a TCP echo peer at
// many addresses, and the request's own client, and say in response
// headers how long each call took by their own clock:
//
//	GET  /db?ms=N        SELECT pg_sleep(N/1000) on PostgreSQL          X-Wait-Db: ns
//	GET  /cache?ms=N     BLPOP on a key that never fills, N ms timeout  X-Wait-Cache: ns
//	GET  /both?db=N&cache=M   both, one after the other
//	GET  /fanout?n=K&first=F  one round trip each to K echo peers at
//	                     127.1.0.0 + F ... + F+K-1 (distinct addresses)   X-Wait-Fanout: ns
//	POST /upload         reads the whole body                          X-Wait-Body: ns
//
// Every call runs on the handler's goroutine, as these clients do their I/O.
package main

import (
	"database/sql"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	_ "github.com/lib/pq"

	"sondetest"
)

var (
	pgDSN     = flag.String("pg", "", "PostgreSQL connection string (lib/pq); empty: no /db")
	redisAddr = flag.String("redis", "", "Redis address: host:port, or a Unix socket's path; empty: no /cache")
	echoPort  = flag.Int("echo-port", 0, "port of the echo peer this server runs on 0.0.0.0 (answers each byte after -echo-delay); 0: no /fanout")
	echoDelay = flag.Duration("echo-delay", 300*time.Microsecond, "the echo peer's delay")
)

func intArg(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
		return v
	}
	return def
}

func since(t time.Time) string { return strconv.FormatInt(int64(time.Since(t)), 10) }

// query sleeps ms in PostgreSQL, and says how long the call took in header X-Wait-Db.
func query(w http.ResponseWriter, ms int) error {
	t := time.Now()
	var one int
	if err := db.QueryRow("SELECT 1 FROM pg_sleep($1)", float64(ms)/1000).Scan(&one); err != nil {
		return err
	}
	w.Header().Set("X-Wait-Db", since(t))
	return nil
}

// blpop waits ms on a Redis key that never fills (Redis 6+ takes a fractional
// timeout), and says how long the call took in header X-Wait-Cache.
func blpop(w http.ResponseWriter, ms int) error {
	c := pool.Get()
	defer c.Close()
	t := time.Now()
	if _, err := c.Do("BLPOP", "sonde:never", strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)); err != nil && err != redis.ErrNil {
		return err
	}
	w.Header().Set("X-Wait-Cache", since(t))
	return nil
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
		t := time.Now()
		for i := 0; i < n; i++ {
			var ip [4]byte
			binary.BigEndian.PutUint32(ip[:], 127<<24|1<<16|uint32(first+i))
			c, err := net.Dial("tcp", fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], *echoPort))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			var b [1]byte
			_, err = c.Write([]byte{'x'})
			if err == nil {
				_, err = io.ReadFull(c, b[:])
			}
			c.Close()
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		w.Header().Set("X-Wait-Fanout", since(t))
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		t := time.Now()
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Wait-Body", since(t))
		fmt.Fprintf(w, "%d\n", n)
	})

	sondetest.Main("127.0.0.1:18090", mux)
}
