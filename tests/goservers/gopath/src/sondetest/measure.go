// Package sondetest is what Sonde's Go test servers share: each request's own
// measurement, kept in memory and written to the -log file when the server
// stops, and a server that stops cleanly on SIGTERM.
//
// The measurement must disturb the measured request as little as possible:
// it takes two clock reads and stores them in a slot of a preallocated array
// that an atomic counter hands out. No lock is taken, nothing is sent on a
// channel and nothing is written while requests are served, so the request's
// goroutine never blocks and no other goroutine or thread is woken inside (or
// next to) its window. Requests beyond the array's size are counted, not kept.
package sondetest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
	_ "unsafe" // go:linkname
)

// nanotime is the runtime's CLOCK_MONOTONIC reading, the clock of
// bpf_ktime_get_ns, so tests can hold Sonde's start and end of a request
// against the handler's own. runtime.nanotime is one of the linknames the
// runtime keeps for outside packages (runtime/time_nofake.go).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Measured is one request as the handler saw it.
type Measured struct {
	Path       string
	Status     int
	Start, End int64 // CLOCK_MONOTONIC, ns
}

// Log collects the measurements of a server's requests.
type Log struct {
	n   atomic.Int64
	all []Measured
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// NewLog returns a log that keeps up to 2^18 requests.
func NewLog() *Log { return &Log{all: make([]Measured, 1<<18)} }

// Now is CLOCK_MONOTONIC in ns, the clock Sonde's records use.
func Now() int64 { return nanotime() }

// Add keeps one request measured outside Measure (a gRPC interceptor). A nil
// Log keeps nothing.
func (l *Log) Add(path string, status int, start, end int64) {
	if l == nil {
		return
	}
	if i := l.n.Add(1) - 1; i < int64(len(l.all)) {
		l.all[i] = Measured{path, status, start, end}
	}
}

// Measure wraps the whole handler tree: the closest a handler can get to
// net/http's serverHandler.ServeHTTP, where Sonde starts and ends a request.
// A nil Log measures nothing.
func (l *Log) Measure(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := nanotime()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		l.Add(r.URL.Path, rec.status, start, nanotime())
	})
}

// Write writes one line per request: path, status, duration, start and end
// (ns), and a last line "lost N" when more requests came than the log holds.
// Call it once no request is being served.
func (l *Log) Write(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	n := l.n.Load()
	kept := n
	if kept > int64(len(l.all)) {
		kept = int64(len(l.all))
	}
	for _, m := range l.all[:kept] {
		fmt.Fprintf(bw, "%s %d %d %d %d\n", m.Path, m.Status, m.End-m.Start, m.Start, m.End)
	}
	if n > kept {
		fmt.Fprintf(bw, "lost %d\n", n-kept)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var (
	useTLS = flag.Bool("tls", false, "serve HTTPS with a self-signed certificate for 127.0.0.1; HTTP/2 by ALPN")
	useH2C = flag.Bool("h2c", false, "serve HTTP/2 without TLS (prior knowledge) beside HTTP/1 (Go 1.24+)")
)

// Main is a test server's main after it built its handler: it takes -addr
// (default defaultAddr), -log, -delay, -tls and -h2c, and serves h until
// SIGTERM or SIGINT; an error ends the program.
func Main(defaultAddr string, h http.Handler) {
	addr := flag.String("addr", defaultAddr, "listen address")
	logPath := flag.String("log", "", "file for the server's own per-request measurements")
	delay := flag.Duration("delay", 0, "wait this long after starting before listening (a server that reads its config first)")
	flag.Parse()
	time.Sleep(*delay)
	if err := Serve(*addr, h, *logPath); err != nil {
		log.Fatal(err)
	}
}

// Serve serves h on addr until SIGTERM or SIGINT: HTTP/1, or with -tls HTTPS
// (HTTP/2 or HTTP/1.1 by ALPN), or with -h2c cleartext HTTP/2 too. With a
// logPath, h's requests are measured and the log is written before Serve
// returns.
func Serve(addr string, h http.Handler, logPath string) error {
	var l *Log
	if logPath != "" {
		l = NewLog()
	}
	srv := &http.Server{Addr: addr, Handler: l.Measure(h)}
	if *useH2C {
		if err := enableH2C(srv); err != nil {
			return err
		}
	}
	if *useTLS {
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	stopped := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		// Shutdown returns once every request in flight is answered, so the log
		// below is complete and no handler still writes to it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		close(stopped)
	}()
	var err error
	if *useTLS {
		err = srv.ListenAndServeTLS("", "")
	} else {
		err = srv.ListenAndServe()
	}
	if err != nil && err != http.ErrServerClosed {
		return err
	}
	<-stopped
	if l != nil {
		return l.Write(logPath)
	}
	return nil
}

// selfSigned makes a certificate for 127.0.0.1 valid for a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sonde test server"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
