// mux is the net/http test server with Go 1.22 ServeMux patterns (methods,
// wildcards, {$}, {path...}): Sonde reports the pattern that matched as the
// route. GOPATH-mode builds get Go 1.20's GODEBUG defaults, in which ServeMux
// ignores patterns (httpmuxgo121=1), so this program asks for the current
// behaviour below. Needs Go 1.22 or newer. Like nethttp, it logs its own
// measurement of every request to the file named by -log.

//go:debug httpmuxgo121=0
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type measured struct {
	path   string
	status int
	dur    time.Duration
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// measure wraps the whole handler tree: the closest a handler can get to
// net/http's serverHandler.ServeHTTP, which is where Sonde measures.
func measure(next http.Handler, out chan<- measured) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		d := time.Since(t0)
		if out != nil {
			out <- measured{r.URL.Path, rec.status, d}
		}
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	logPath := flag.String("log", "", "file for the server's own per-request measurements")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("home\n"))
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user %s\n", r.PathValue("id"))
	})
	mux.HandleFunc("POST /users/{id}/orders", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "file %s\n", r.PathValue("path"))
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello\n"))
	})

	var out chan measured
	done := make(chan struct{})
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			log.Fatal(err)
		}
		out = make(chan measured, 65536)
		go func() {
			bw := bufio.NewWriter(f)
			for m := range out {
				fmt.Fprintf(bw, "%s %d %d\n", m.path, m.status, m.dur.Nanoseconds())
			}
			bw.Flush()
			f.Close()
			close(done)
		}()
	}

	srv := &http.Server{Addr: *addr, Handler: measure(mux, out)}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	if out != nil {
		close(out)
		<-done
	}
}
